"""Command-line options from a config dataclass: one option per field, and the config back from them.

The CLI (webtext/cli.py) and ``python -m webtext.train`` both build their options here, so the
flags and the YAML keys are the same names (``--min-karma`` <-> ``min_karma``).
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any, Literal

from webtext.config import from_mapping


def flag(f: dataclasses.Field) -> str:
    """The option of a config field: ``--min-karma`` for ``min_karma`` (or its ``flag`` metadata)."""
    return "--" + f.metadata.get("flag", f.name).replace("_", "-")


def escape(text: str) -> str:
    """Help text as argparse prints it verbatim (it %-formats help: a bare ``%`` would break it)."""
    return text.replace("%", "%%")


def negative_help(f: dataclasses.Field) -> str:
    """The help of ``--no-X`` for a bool that defaults to True: what turning it off does.

    A field says it in ``neg_help``; without one the option still reads as a switch-off.
    """
    return f.metadata.get("neg_help") or f"turn off: {f.metadata.get('help', '')}"


def required(f: dataclasses.Field) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING


def _shown_default(f: dataclasses.Field) -> str:
    if required(f):
        return " (required)"
    if f.default is dataclasses.MISSING:  # a list: its items, if any, as the flag is given (repeatable)
        items = f.default_factory()  # type: ignore[misc]
        return f" (default: {' '.join(map(str, items))})" if items else ""
    return "" if f.default in (None, "") else f" (default: {f.default})"  # unset: the help says what happens


def add_config_options(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type, show_defaults: bool = True
) -> None:
    """One option per config field; defaults are left to the dataclass (SUPPRESS), and so is a missing
    required value (``from_mapping``'s ConfigError names the key, and the CLI adds the flag: exit 2).

    Help says the default (or "(required)"), lists a Literal's choices, and for a bool that
    defaults to True offers ``--no-X`` with help saying what switching it off does. ``show_defaults=False``
    where the defaults come from elsewhere (``pipelines run``: the YAML's runner section).
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        help_text = f.metadata.get("help", "")
        if f.metadata.get("positional"):
            nargs = "+" if typing.get_origin(tp) is list else None  # a list takes several values, a path one
            parser.add_argument(f.name, nargs=nargs, metavar=f.name.upper().rstrip("S"), help=escape(help_text))
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        if f.metadata.get("hidden"):
            kwargs["help"] = argparse.SUPPRESS
        if tp is bool:
            if f.default is True:
                kwargs.setdefault("help", escape(negative_help(f)))
                parser.add_argument("--no-" + flag(f)[2:], action="store_false", **kwargs)
            else:
                kwargs.setdefault("help", escape(help_text))
                parser.add_argument(flag(f), action="store_true", **kwargs)
            continue
        # Optional[X] -> X; a plain Literal[...] is its own base (get_args would give its values)
        union = typing.get_origin(tp) in (typing.Union, types.UnionType)
        base = next(a for a in typing.get_args(tp) if a is not type(None)) if union else tp
        if typing.get_origin(base) is list:
            kwargs["action"] = "append"
            (item,) = typing.get_args(base)
            if item in (int, float):
                kwargs["type"] = item
        elif typing.get_origin(base) is Literal:
            kwargs["choices"] = list(typing.get_args(base))
        elif base in (int, float):
            kwargs["type"] = base
        kwargs.setdefault("help", escape(help_text + (_shown_default(f) if show_defaults else "")))
        parser.add_argument(flag(f), **kwargs)


def config_from_args(cls: type, ns: argparse.Namespace) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return from_mapping(cls, {k: v for k, v in vars(ns).items() if k in names}, "")
