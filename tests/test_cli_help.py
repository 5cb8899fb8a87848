"""Every command's --help, walked over the registry (and the commands that are not stages): each option
has help, no ``--no-X`` says what X does, nothing prints a repr, Literal choices and required options show."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import typing
from typing import Literal

import pytest

from webtext.cli import build_parser, main, subcommands
from webtext.config import RunnerConfig
from webtext.stages import registry

PARSER = build_parser()
COMMANDS = {p.prog.removeprefix("webtext-build "): p for p in subcommands(PARSER)}


def _fields(command: str) -> dict[str, tuple[dataclasses.Field, typing.Any]]:
    """dest -> (config field, its type) of the configs whose options ``command`` has."""
    classes = [RunnerConfig, *([registry()[command].config] if command in registry() else [])]
    return {f.name: (f, typing.get_type_hints(cls)[f.name]) for cls in classes for f in dataclasses.fields(cls)}


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and a.help != argparse.SUPPRESS
            and not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)]


def test_every_stage_and_generic_command_is_walked():
    assert set(registry()) | {"verify", "pipelines", "pipelines run", "demo"} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_text_is_clean(command):
    parser = COMMANDS[command]
    text = parser.format_help()
    assert not re.search(r"\{'[^']*':", text), "a dict repr in the help (a bare % in a help string?)"
    assert "(default: )" not in text and "(default: None)" not in text and "(default: [])" not in text
    for action in _options(parser):
        assert action.help and action.help.strip(), f"{command} {action.option_strings[0]} has no help"
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            assert all(c.help for c in action._choices_actions)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_flags_say_what_switching_off_does(command):
    fields = _fields(command)
    for action in _options(COMMANDS[command]):
        option = action.option_strings[-1]
        if not option.startswith("--no-") or action.dest not in fields:
            continue
        positive = fields[action.dest][0].metadata["help"]
        negative = action.help % {}  # as printed
        negated = re.match(r"(do not|don't|never|no|not) ", negative)  # "do not <positive>" is a negation
        assert (negated or positive not in negative) and negative.split()[0] != positive.split()[0], (
            f"{command} {option}: {negative!r} restates {positive!r}")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_choices_and_required_options_are_shown(command):
    parser = COMMANDS[command]
    text = parser.format_help()
    fields = _fields(command)
    for action in _options(parser):
        if action.dest not in fields:
            continue
        f, tp = fields[action.dest]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        literal = next((a for a in [tp, *args] if typing.get_origin(a) is Literal), None)
        if literal is not None:
            assert action.choices == list(typing.get_args(literal))
            assert "{" + ",".join(typing.get_args(literal)) + "}" in text
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert "(required)" in action.help, f"{command} {action.option_strings[0]}"
        else:
            assert "(required)" not in action.help


def test_the_issue_s_examples_read_right():
    crawl = COMMANDS["crawl"].format_help()
    assert "--no-obey-robots" in crawl and "ignore robots.txt" in crawl
    assert "~15% smaller" in " ".join(crawl.split())  # the % printed, not a formatting error
    assert "{max,sum}" in COMMANDS["urls"].format_help() and "{bloom,exact}" in COMMANDS["contamination"].format_help()
    assert "{tiny,gpt2,gpt2-medium,gpt2-large,gpt2-xl}" in COMMANDS["train"].format_help()
    assert "do not apply the Wikipedia" in COMMANDS["urls"].format_help()


def test_help_runs_from_main(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["crawl", "--help"])
    assert exit_.value.code == 0
    assert "--warc-gzip-level" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "level"), [
    (["verify", "{d}", "-q"], logging.WARNING),
    (["verify", "{d}", "-v"], logging.DEBUG),
    (["-v", "verify", "{d}"], logging.DEBUG),
    (["verify", "{d}"], logging.INFO),
    (["verify", "--quiet", "{d}"], logging.WARNING),
])
def test_quiet_and_verbose_after_the_subcommand(tmp_path, argv, level):
    main([a.format(d=tmp_path) for a in argv])
    assert logging.getLogger("webtext").level == level


def test_quiet_after_a_nested_subcommand(tmp_path):
    ns = PARSER.parse_args(["pipelines", "run", str(tmp_path / "p.yaml"), "-q"])
    from webtext.cli import verbosity

    assert verbosity(ns) == -1
    ns = PARSER.parse_args(["dedup", "x", "--out", "o", "-v", "--runner", "local"])
    assert verbosity(ns) == 1


def test_the_installed_command_exits_with_main_s_code(tmp_path):
    """The console script (``webtext.cli:run``) passes ``main``'s exit code on: 0, and 2 for a
    configuration error, with its one-line message."""
    import subprocess

    from installed_cli import cli

    ok = subprocess.run([*cli(), "--version"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout.strip()
    bad = subprocess.run([*cli(), "-q", "tokenize", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("webtext-build: "), bad.stderr
