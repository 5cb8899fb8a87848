"""Command-line options from a config dataclass: one option per field, and the config back from them.

The CLI (webtext/cli.py) and ``python -m webtext.train`` both build their options here, so the
flags and the YAML keys are the same names (``--min-karma`` <-> ``min_karma``).
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Literal

from webtext.config import from_mapping


def flag(f: dataclasses.Field) -> str:
    """The option of a config field: ``--min-karma`` for ``min_karma`` (or its ``flag`` metadata)."""
    return "--" + f.metadata.get("flag", f.name).replace("_", "-")


def add_config_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per config field; defaults are left to the dataclass (SUPPRESS)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        help_text = f.metadata.get("help", "")
        if f.metadata.get("positional"):
            nargs = "+" if typing.get_origin(tp) is list else None  # a list takes several values, a path one
            parser.add_argument(f.name, nargs=nargs, metavar=f.name.upper().rstrip("S"), help=help_text)
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        if tp is bool:
            if f.default is True:
                parser.add_argument("--no-" + flag(f)[2:], action="store_false", help=help_text, **kwargs)
            else:
                parser.add_argument(flag(f), action="store_true", help=help_text, **kwargs)
            continue
        args = [a for a in typing.get_args(tp) if a is not type(None)] or [tp]
        base = args[0]
        if typing.get_origin(tp) is list:
            kwargs["action"] = "append"
            (item,) = typing.get_args(tp)
            if item in (int, float):
                kwargs["type"] = item
        elif typing.get_origin(base) is Literal:
            kwargs["choices"] = list(typing.get_args(base))
        elif base in (int, float):
            kwargs["type"] = base
        default = "" if f.default is dataclasses.MISSING or f.default is None else f" (default: {f.default})"
        shown = argparse.SUPPRESS if f.metadata.get("hidden") else help_text + default
        parser.add_argument(flag(f), help=shown, **kwargs)


def config_from_args(cls: type, ns: argparse.Namespace) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return from_mapping(cls, {k: v for k, v in vars(ns).items() if k in names}, "")
