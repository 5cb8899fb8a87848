"""``webtext-build <command>``: each command is one config class plus one function.

Options are generated from the stage's config dataclass, so the CLI flags and the keys of
``pipelines.yaml`` are the same names (``--min-karma`` <-> ``stages.urls.min_karma``).
Exit codes: 0 done, 1 a stage or verification failed, 2 bad configuration or usage.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import typing
from pathlib import Path
from typing import Any, Literal

from webtext import __version__
from webtext.config import (
    ContaminationConfig,
    CrawlConfig,
    DecontaminateConfig,
    DedupConfig,
    ExtractConfig,
    RunnerConfig,
    TokenizeConfig,
    TrainConfig,
    TrainTokenizerConfig,
    UrlsConfig,
    from_mapping,
)
from webtext.errors import ConfigError, FatalError, ShardError, StageFailedError

log = logging.getLogger("webtext.cli")


# ---------------------------------------------------------------------------------------------
# Options from config dataclasses


def _flag(f: dataclasses.Field) -> str:
    return "--" + f.metadata.get("flag", f.name).replace("_", "-")


def add_config_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per config field; defaults are left to the dataclass (SUPPRESS)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        help_text = f.metadata.get("help", "")
        if f.metadata.get("positional"):
            nargs = "+" if typing.get_origin(tp) is list else None
            parser.add_argument(f.name, nargs=nargs, metavar=f.name.upper().rstrip("S"), help=help_text)
            continue
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
        if tp is bool:
            if f.default is True:
                parser.add_argument("--no-" + _flag(f)[2:], action="store_false", help=help_text, **kwargs)
            else:
                parser.add_argument(_flag(f), action="store_true", help=help_text, **kwargs)
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
        parser.add_argument(_flag(f), help=shown, **kwargs)


def config_from_args(cls: type, ns: argparse.Namespace) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return from_mapping(cls, {k: v for k, v in vars(ns).items() if k in names}, "")


# ---------------------------------------------------------------------------------------------
# Commands


def stage_command(stage: str, config_class: type):
    """``webtext-build <stage> ... --out DIR``: the stage's config from the flags, run, summarise."""

    def command(ns: argparse.Namespace) -> int:
        from webtext.pipeline import STAGE_FUNCTIONS, summarise
        from webtext.runner import make_runner

        cfg = config_from_args(config_class, ns)
        runner = make_runner(config_from_args(RunnerConfig, ns))
        try:
            manifest = STAGE_FUNCTIONS[stage](cfg, Path(ns.out), runner)
        finally:
            runner.close()
        print(summarise(stage, manifest))
        return 0

    return command


def cmd_train(ns: argparse.Namespace) -> int:
    from webtext.pipeline import STAGE_FUNCTIONS, summarise

    cfg = config_from_args(TrainConfig, ns)
    manifest = STAGE_FUNCTIONS["train"](cfg, Path(ns.out), None)
    print(summarise("train", manifest))
    return 0


def cmd_eval(ns: argparse.Namespace) -> int:
    from webtext.eval.config import EvalConfig
    from webtext.pipeline import STAGE_FUNCTIONS, summarise

    cfg = config_from_args(EvalConfig, ns)
    manifest = STAGE_FUNCTIONS["eval"](cfg, Path(ns.out), None)
    print(summarise("eval", manifest))
    return 0


def cmd_export_hf(ns: argparse.Namespace) -> int:
    from webtext.train.export import export_hf

    out = export_hf(Path(ns.checkpoint), Path(ns.out))
    print(f"export-hf: wrote {out / 'config.json'} and {out / 'model.safetensors'}")
    return 0


def cmd_eval_loss(ns: argparse.Namespace) -> int:
    import json

    from webtext.train.export import eval_loss, load_model, perplexity, split_stream

    model, record = load_model(Path(ns.checkpoint))
    stream, tok_hash = split_stream(Path(ns.tokens), ns.split)
    if record.get("tokenizer_hash") and tok_hash and record["tokenizer_hash"] != tok_hash:
        raise ConfigError("tokens", f"{ns.tokens} was tokenized with {tok_hash[:12]}, the model was trained on "
                                    f"{record['tokenizer_hash'][:12]}")
    loss, n = eval_loss(model, stream, ns.seq_len)
    print(f"eval-loss: {ns.split} loss {loss:.5f} (perplexity {perplexity(loss):.2f}) over {n:,} tokens")
    if ns.json:
        print(json.dumps({"loss": loss, "tokens": n, "split": ns.split}))
    return 0


def cmd_verify(ns: argparse.Namespace) -> int:
    from webtext.data import verify_dataset

    checked, problems = verify_dataset(Path(ns.dataset))
    for p in problems:
        print(f"MISMATCH {p}")
    if problems:
        print(f"verify: {len(problems)} problem(s) in {ns.dataset} ({checked} files checked)")
        return 1
    print(f"verify: OK, {checked} files match the manifest in {ns.dataset}")
    return 0


def cmd_pipelines_run(ns: argparse.Namespace) -> int:
    from webtext.config import load_pipeline
    from webtext.pipeline import run_pipeline, summarise
    from webtext.runner import make_runner

    pipeline = load_pipeline(Path(ns.pipeline))
    overrides = {k: v for k, v in vars(ns).items() if k in {f.name for f in dataclasses.fields(RunnerConfig)}}
    runner_cfg = from_mapping(RunnerConfig, {**dataclasses.asdict(pipeline.runner), **overrides}, "runner")
    only = [s.strip() for s in ns.stages.split(",") if s.strip()] if ns.stages else None
    runner = make_runner(runner_cfg)
    try:
        results = run_pipeline(pipeline, runner, only)
    finally:
        runner.close()
    for name, manifest in results.items():
        print(summarise(name, manifest))
    return 0


def cmd_demo(ns: argparse.Namespace) -> int:
    from webtext.demo.harness import planted_duplicates_report, run_demo, training_report
    from webtext.pipeline import summarise
    from webtext.runner import make_runner

    workdir = Path(ns.out) if ns.out else Path(tempfile.mkdtemp(prefix="webtext-demo-"))
    runner = make_runner(config_from_args(RunnerConfig, ns))
    try:
        results = run_demo(workdir, runner, submissions=ns.submissions)
    finally:
        runner.close()
    print(f"demo outputs in {workdir}")
    for name, manifest in results.items():
        print(summarise(name, manifest))
    print(planted_duplicates_report(workdir))
    report = workdir / "contamination"
    table = [line for line in (report / "report.md").read_text().splitlines()[4:8] if line.startswith("|")]
    print("\n".join(table))
    print(f"contamination report: {report / 'report.html'}")
    print(training_report(workdir))
    return 0


# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="webtext-build", description="Rebuild GPT-2's WebText: Reddit links -> ... -> GPT-2.",
    )
    parser.add_argument("--version", action="version", version=f"webtext {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-v: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stage_commands = [
        ("urls", UrlsConfig, "Reddit submission dumps -> de-duplicated outbound URLs with karma"),
        ("crawl", CrawlConfig, "fetch URLs politely and safely with scrapy; WARC + fetch log"),
        ("extract", ExtractConfig, "main text of stored HTML with trafilatura + GPT-2-style cleaning"),
        ("dedup", DedupConfig, "remove exact and MinHash-LSH near-duplicate documents"),
        ("contamination", ContaminationConfig, "GPT-2's n-gram overlap of benchmark test sets with a corpus + report"),
        ("decontaminate", DecontaminateConfig, "remove the benchmark text a contamination report found"),
        ("train-tokenizer", TrainTokenizerConfig, "train GPT-2's kind of byte-level BPE tokenizer on a corpus sample"),
        ("tokenize", TokenizeConfig, "docs -> GPT-2 BPE token shards (Arrow IPC, train/ and val/)"),
    ]
    for name, config_class, summary in stage_commands:
        p = sub.add_parser(name, help=summary, description=config_class.__doc__)
        add_config_options(p, config_class)
        p.add_argument("--out", required=True, help="output dataset folder")
        add_config_options(p.add_argument_group("runner"), RunnerConfig)
        p.set_defaults(func=stage_command(name, config_class))

    p = sub.add_parser("train", help="train GPT-2 on token shards (FSDP2, checkpoints, exact resume)",
                       description=TrainConfig.__doc__)
    add_config_options(p, TrainConfig)
    p.add_argument("--out", required=True, help="run folder: metrics.jsonl, step-N/ checkpoints")
    p.set_defaults(func=cmd_train)

    from webtext.eval.config import EvalConfig

    p = sub.add_parser("eval", help="GPT-2's zero-shot Table 3 tasks (= lm-evaluation-harness), per example",
                       description=EvalConfig.__doc__)
    add_config_options(p, EvalConfig)
    p.add_argument("--out", required=True, help="results folder: results.json/md/html, examples/<NAME>.parquet")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("export-hf", help="write a checkpoint as a transformers GPT2LMHeadModel folder")
    p.add_argument("checkpoint", help="RUN_DIR (its newest valid checkpoint) or RUN_DIR/step-N")
    p.add_argument("--out", required=True, help="folder for config.json + model.safetensors")
    p.set_defaults(func=cmd_export_hf)

    p = sub.add_parser("eval-loss", help="mean next-token loss of a checkpoint over a token split")
    p.add_argument("checkpoint", help="RUN_DIR or RUN_DIR/step-N")
    p.add_argument("tokens", help="a tokens dataset")
    p.add_argument("--split", default="val", choices=["train", "val"])
    p.add_argument("--seq-len", type=int, default=None, help="window length (default: the model's context)")
    p.add_argument("--json", action="store_true", help="end with a JSON line {\"loss\": ...}")
    p.set_defaults(func=cmd_eval_loss)

    p = sub.add_parser("verify", help="recompute sha256 and row counts of a dataset against its manifest")
    p.add_argument("dataset", help="dataset folder (holding _manifest.json)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("pipelines", help="run the stages declared in a pipelines.yaml")
    psub = p.add_subparsers(dest="pipelines_command", required=True, metavar="ACTION")
    pr = psub.add_parser("run", help="run the declared stages in order (finished stages are skipped)")
    pr.add_argument("pipeline", help="path of the pipelines.yaml")
    pr.add_argument("--stages", help="comma-separated subset of the declared stages to run")
    add_config_options(pr.add_argument_group("runner (overrides the YAML's runner section)"), RunnerConfig)
    pr.set_defaults(func=cmd_pipelines_run)

    p = sub.add_parser("demo", help="generate a sample and run every stage on it")
    p.add_argument("--out", help="work folder (default: a new temporary folder)")
    p.add_argument("--submissions", type=int, default=6000, help="submissions in the sample dump")
    add_config_options(p.add_argument_group("runner"), RunnerConfig)
    p.set_defaults(func=cmd_demo)
    return parser


def _flag_of(key: str) -> str | None:
    """The CLI spelling of a config key (None for positionals, YAML paths and flags already)."""
    if not key or "." in key or key.startswith("-"):
        return None
    from webtext.config import STAGES

    for cls in (*STAGES.values(), RunnerConfig):
        for f in dataclasses.fields(cls):
            if f.name == key:
                return None if f.metadata.get("positional") else _flag(f)
    return f"--{key.replace('_', '-')}"


def main(argv: list[str] | None = None) -> int:
    from webtext.logs import setup_logging

    parser = build_parser()
    ns = parser.parse_args(argv)
    setup_logging(-1 if ns.quiet else ns.verbose)
    try:
        return ns.func(ns)
    except ConfigError as exc:
        key = exc.key.split("[")[0]
        flag = _flag_of(key)
        hint = f" ({flag})" if flag else ""
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


if __name__ == "__main__":
    sys.exit(main())
