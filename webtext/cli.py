"""``webtext-build <command>``: one command per registered stage (``webtext.stages``), plus the generic ones.

Options are generated from the stage's config dataclass, so the CLI flags and the keys of
``pipelines.yaml`` are the same names (``--min-karma`` <-> ``stages.urls.min_karma``).
``-q``/``-v`` go before or after the command. Exit codes: 0 done, 1 a stage or verification failed,
2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import logging
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from webtext import __version__
from webtext.config import RunnerConfig, from_mapping
from webtext.errors import ConfigError, FatalError, ShardError, StageFailedError
from webtext.inputs import InputsConfig, checking
from webtext.jobenv import refuse_relative
from webtext.options import add_config_options, config_from_args, escape
from webtext.options import flag as _flag
from webtext.stage_spec import StageSpec
from webtext.stages import registry

log = logging.getLogger("webtext.cli")


# ---------------------------------------------------------------------------------------------
# Commands


def stage_command(spec: StageSpec):
    """``webtext-build <stage> ... --out DIR``: the stage's config from the flags, run, summarise."""

    def command(ns: argparse.Namespace) -> int:
        from webtext.runner import make_runner

        cfg = config_from_args(spec.config, ns)
        refuse_relative("--out", ns.out)  # inside a Ray job: never into Ray's copy of the working dir
        spec.check_static(cfg)
        runner = make_runner(config_from_args(RunnerConfig, ns)) if spec.uses_runner else None
        try:
            with checking(config_from_args(InputsConfig, ns)):
                manifest = spec.execute(cfg, ns.out, runner)  # a URI stays a string (Path folds s3://)
        finally:
            if runner is not None:
                runner.close()
        print(spec.summary(manifest))
        return 0

    return command


def cmd_verify(ns: argparse.Namespace) -> int:
    from webtext.storage.uris import is_remote, local_path
    from webtext.verify import verify_folder

    if is_remote(ns.dataset):  # every object downloaded afresh, then checked as a local folder
        from webtext.storage.sync import pull, remote_files

        with tempfile.TemporaryDirectory(prefix="webtext-verify-") as tmp:
            if not remote_files(ns.dataset):
                print(f"verify: nothing at {ns.dataset}")
                return 1
            result = verify_folder(pull(ns.dataset, Path(tmp)))
    else:
        result = verify_folder(local_path(ns.dataset))
    for p in result.problems:
        print(f"MISMATCH {p}")
    for note in result.notes:
        print(f"note: {note}")
    print(result.summary())
    return 1 if result.problems else 0


def cmd_pipelines_run(ns: argparse.Namespace) -> int:
    from webtext.pipeline import check_static_inputs, load_pipeline, run_pipeline, summarise
    from webtext.runner import make_runner

    pipeline = load_pipeline(Path(ns.pipeline))
    overrides = {k: v for k, v in vars(ns).items() if k in {f.name for f in dataclasses.fields(RunnerConfig)}}
    runner_cfg = from_mapping(RunnerConfig, {**dataclasses.asdict(pipeline.runner), **overrides}, "runner")
    checks = {k: v for k, v in vars(ns).items() if k in {f.name for f in dataclasses.fields(InputsConfig)}}
    pipeline.inputs = from_mapping(InputsConfig, {**dataclasses.asdict(pipeline.inputs), **checks}, "inputs")
    only = [s.strip() for s in ns.stages.split(",") if s.strip()] if ns.stages else None
    check_static_inputs(pipeline, only)  # before Ray starts, and before the first stage
    runner = make_runner(runner_cfg)
    try:
        results = run_pipeline(pipeline, runner, only)
    finally:
        runner.close()
    for name, manifest in results.items():
        print(summarise(name, manifest))
    return 0


def cmd_demo(ns: argparse.Namespace) -> int:
    from webtext.demo.harness import demo_reports, run_demo
    from webtext.pipeline import summarise
    from webtext.runner import make_runner

    if ns.out:
        refuse_relative("--out", ns.out)
    workdir = Path(ns.out) if ns.out else Path(tempfile.mkdtemp(prefix="webtext-demo-"))
    runner = make_runner(config_from_args(RunnerConfig, ns))
    try:
        results = run_demo(workdir, runner, submissions=ns.submissions)
    finally:
        runner.close()
    print(f"demo outputs in {workdir}")
    for name, manifest in results.items():
        print(summarise(name, manifest))
    for report in demo_reports(workdir):
        print(report)
    return 0


# ---------------------------------------------------------------------------------------------


def _add_log_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup, suffix: str = "") -> None:
    """-v/-q; a subcommand's under other names (``verbose_here``), so ``webtext-build -v dedup -v`` keeps both."""
    unset = argparse.SUPPRESS if suffix else None  # a subcommand's must not overwrite the top-level values
    parser.add_argument("-v", "--verbose", action="count", dest="verbose" + suffix, default=unset or 0,
                        help="more logging (-v: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", dest="quiet" + suffix, default=unset or False,
                        help="warnings and errors only")


def subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand parser below ``parser`` (``pipelines`` and ``pipelines run`` included), once each."""
    found: dict[int, argparse.ArgumentParser] = {}
    todo = [parser]
    while todo:
        for action in todo.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    if id(sub) not in found:
                        found[id(sub)] = sub
                        todo.append(sub)
    return list(found.values())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="webtext-build", description="Rebuild GPT-2's WebText: Reddit links -> ... -> GPT-2.",
    )
    parser.add_argument("--version", action="version", version=f"webtext {__version__}")
    _add_log_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for spec in registry().values():
        p = sub.add_parser(spec.name, help=escape(spec.help), description=spec.config.__doc__)
        add_config_options(p, spec.config)
        p.add_argument("--out", required=True, help=escape(spec.out_help + " (required)"))
        add_config_options(p.add_argument_group("inputs"), InputsConfig)
        if spec.uses_runner:
            add_config_options(p.add_argument_group("runner"), RunnerConfig)
        p.set_defaults(func=stage_command(spec))
        if spec.add_commands is not None:
            spec.add_commands(sub)

    p = sub.add_parser("verify", help="recompute sha256 and row counts of a dataset against its manifest, or of a "
                                      "train run's checkpoints against their records")
    p.add_argument("dataset", help="a dataset folder (holding _manifest.json), a train run or a step-N checkpoint")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("pipelines", help="run the stages declared in a pipelines.yaml")
    psub = p.add_subparsers(dest="pipelines_command", required=True, metavar="ACTION")
    pr = psub.add_parser("run", help="check every declared stage's input files, then run the stages in order "
                                     "(finished stages are skipped)")
    pr.add_argument("pipeline", help="path of the pipelines.yaml")
    pr.add_argument("--stages", help="comma-separated subset of the declared stages to run (default: all)")
    add_config_options(pr.add_argument_group("runner (overrides the YAML's runner section)"), RunnerConfig,
                       show_defaults=False)
    add_config_options(pr.add_argument_group("inputs (overrides the YAML's inputs section)"), InputsConfig,
                       show_defaults=False)
    pr.set_defaults(func=cmd_pipelines_run)

    p = sub.add_parser("demo", help="generate a sample and run every stage on it")
    p.add_argument("--out", help="work folder (default: a new temporary folder)")
    p.add_argument("--submissions", type=int, default=6000, help="submissions in the sample dump (default: 6000)")
    add_config_options(p.add_argument_group("runner"), RunnerConfig)
    p.set_defaults(func=cmd_demo)

    for command in subcommands(parser):  # -q/-v also after the subcommand: webtext-build dedup ... -q
        _add_log_options(command.add_argument_group("logging"), suffix="_here")
    return parser


def _flag_of(key: str) -> str | None:
    """The CLI spelling of a config key (None for positionals, YAML paths and flags already)."""
    if not key or "." in key or key.startswith("-"):
        return None
    for cls in (*(spec.config for spec in registry().values()), RunnerConfig, InputsConfig):
        for f in dataclasses.fields(cls):
            if f.name == key:
                return None if f.metadata.get("positional") else _flag(f)
    return f"--{key.replace('_', '-')}"


def verbosity(ns: argparse.Namespace) -> int:
    """-1 with -q, else the count of -v, wherever they were given (before or after the subcommand)."""
    if ns.quiet or getattr(ns, "quiet_here", False):
        return -1
    return ns.verbose + getattr(ns, "verbose_here", 0)


def main(argv: list[str] | None = None) -> int:
    from webtext.arrow_memory import prefer_jemalloc
    from webtext.logs import setup_logging

    prefer_jemalloc()  # before anything imports pyarrow: Arrow reads its pool's name once
    parser = build_parser()
    ns = parser.parse_args(argv)
    setup_logging(verbosity(ns))
    try:
        return ns.func(ns)
    except ConfigError as exc:
        key = exc.key.split("[")[0]
        flag = _flag_of(key)
        known = {o for p in (parser, *subcommands(parser)) for a in p._actions for o in a.option_strings}
        hint = f" ({flag})" if flag in known else ""  # a YAML-only key (workdir) has no flag to name
        print(f"webtext-build: configuration error: {exc}{hint}", file=sys.stderr)
        return 2
    except StageFailedError as exc:
        print(f"webtext-build: {exc}", file=sys.stderr)
        return 1
    except (ShardError, FatalError) as exc:
        print(f"webtext-build: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("webtext-build: interrupted; finished shards are kept and a rerun resumes", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The console script: ``main`` as a whole process. What it built is frozen out of the garbage
    collector before the interpreter exits: the collections of interpreter shutdown over numba's
    and pyarrow's ~100k objects took ~0.3 s of every run, for memory the system takes back anyway."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
