"""Adding a stage is a local change: a stage declared here (no package, no edit to cli/pipeline/config)
runs through ``pipelines run`` and the CLI; and the books of every shard must balance."""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest

from webtext import stages
from webtext.cli import main
from webtext.config import inputs_under, opt, subkey, to_dict
from webtext.data import Manifest, read_parquet, verify_dataset, write_parquet
from webtext.errors import ConfigError
from webtext.paths import STATS_DIR, part_name
from webtext.runner import Runner, ShardOutput, ShardTask, input_identity, run_stage
from webtext.stage_spec import StageSpec


@dataclass
class ShoutConfig:
    """``shout``: every line of some text files in capitals; short lines dropped."""

    inputs: list[str] = opt(help="text files", positional=True)  # noqa: RUF009 - a required field with help text
    min_chars: int = opt(3, "lines shorter than this are dropped (too_short)")

    def validate(self, key: str) -> None:
        if self.min_chars < 0:
            raise ConfigError(subkey(key, "min_chars"), "must be >= 0")

    def resolve_paths(self, base: Path) -> ShoutConfig:
        return inputs_under(self, base)


@dataclass(frozen=True)
class LinesInput:
    path: str


def shout_shard(cfg: ShoutConfig, dataset: Path, task: ShardTask[LinesInput]) -> ShardOutput:
    lines = Path(task.payload.path).read_text().splitlines()
    kept = [line.upper() for line in lines if len(line) >= cfg.min_chars]
    out = dataset / part_name(task.index)
    write_parquet(out, pa.table({"text": pa.array(kept, pa.string())}))
    return ShardOutput(files=[out], counts={"total": len(lines), "kept": len(kept),
                                            "dropped_too_short": len(lines) - len(kept)})


def run_shout(cfg: ShoutConfig, out: Path, runner: Runner) -> Manifest:
    files = [Path(p) for p in cfg.inputs]
    return run_stage(stage="shout", dataset=Path(out), config=to_dict(cfg), inputs=[input_identity(f) for f in files],
                     tasks=[ShardTask(i, f.name, LinesInput(str(f))) for i, f in enumerate(files)],
                     shard_fn=functools.partial(shout_shard, cfg, Path(out)), runner=runner)


SHOUT = StageSpec(name="shout", config=ShoutConfig, run=f"{__name__}:run_shout",
                  help="text lines in capitals (a stage declared by a test)")


@pytest.fixture
def shout_stage():
    stages.register(SHOUT)
    yield SHOUT
    stages.unregister(SHOUT.name)


def _inputs(folder: Path) -> None:
    (folder / "a.txt").write_text("hello\nhi\nworld\n")
    (folder / "b.txt").write_text("x\nthird line\n")


def test_a_stage_registered_from_a_test_runs_in_a_pipeline_file(tmp_path, shout_stage, capsys):
    _inputs(tmp_path)
    (tmp_path / "p.yaml").write_text(textwrap.dedent("""
        workdir: work
        runner: {kind: local}
        stages:
          shout: {inputs: [a.txt, b.txt], min_chars: 3}
    """))
    assert main(["pipelines", "run", str(tmp_path / "p.yaml")]) == 0
    assert "shout: 5 rows -> 3 kept (dropped: too_short 2)" in capsys.readouterr().out
    out = tmp_path / "work" / "shout"
    assert verify_dataset(out)[1] == []
    texts = [t for i in range(2) for t in read_parquet(out / part_name(i))["text"].to_pylist()]
    assert texts == ["HELLO", "WORLD", "THIRD LINE"]


def test_a_stage_registered_from_a_test_is_a_cli_command(tmp_path, shout_stage, capsys):
    _inputs(tmp_path)
    args = ["shout", str(tmp_path / "a.txt"), "--min-chars", "6", "--out", str(tmp_path / "o"), "--runner", "local"]
    assert main(args) == 0
    assert "shout: 3 rows -> 0 kept (dropped: too_short 3)" in capsys.readouterr().out
    assert main(["shout", str(tmp_path / "a.txt"), "--min-chars", "-1", "--out", str(tmp_path / "o")]) == 2
    assert "min_chars: must be >= 0 (--min-chars)" in capsys.readouterr().err


def test_a_stage_s_static_inputs_are_checked_before_the_first_stage_runs(tmp_path, capsys):
    """A registered stage's ``static_inputs`` hook: ``pipelines run`` checks them before urls (listed first)
    runs; those inside an earlier stage's output are left for that stage to write; the command checks too."""
    import dataclasses

    from webtext.pipeline import check_static_inputs, load_pipeline
    from webtext.stage_spec import input_paths

    stages.register(dataclasses.replace(SHOUT, static_inputs=lambda cfg: input_paths(cfg.inputs)))
    try:
        _inputs(tmp_path)
        (tmp_path / "RS_2005-06.jsonl").write_text('{"id": "a", "url": "http://a.example/", "score": 4}\n')
        (tmp_path / "p.yaml").write_text(textwrap.dedent("""
            workdir: work
            runner: {kind: local}
            stages:
              urls: {inputs: [RS_2005-06.jsonl]}
              shout: {inputs: [a.txt, missing.txt, work/urls/notes.txt]}
        """))
        assert main(["pipelines", "run", str(tmp_path / "p.yaml")]) == 2
        assert "stages.shout.inputs[1]: input not found" in capsys.readouterr().err
        assert not (tmp_path / "work").exists()  # urls did not start
        (tmp_path / "missing.txt").write_text("now here\n")
        check_static_inputs(load_pipeline(tmp_path / "p.yaml"))  # work/urls/notes.txt: urls runs first
        with pytest.raises(ConfigError, match=r"stages\.shout\.inputs\[2\]"):
            check_static_inputs(load_pipeline(tmp_path / "p.yaml"), ["shout"])
        assert main(["shout", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "o"), "--runner", "local"]) == 2
        assert "inputs[0]: input not found" in capsys.readouterr().err
    finally:
        stages.unregister(SHOUT.name)


def test_unregistered_stage_is_unknown_to_the_pipeline_file(tmp_path, capsys):
    (tmp_path / "p.yaml").write_text("stages:\n  shout: {inputs: [a.txt]}\n")
    assert main(["pipelines", "run", str(tmp_path / "p.yaml")]) == 2
    assert "stages.shout: unknown stage" in capsys.readouterr().err


def test_a_shard_whose_books_do_not_balance_is_refused(tmp_path, capsys):
    def unbalanced(task: ShardTask) -> ShardOutput:
        out = tmp_path / "o" / part_name(task.index)
        write_parquet(out, pa.table({"x": [1]}))
        return ShardOutput(files=[out], counts={"total": 3, "kept": 1, "dropped_odd": 1})

    from webtext.errors import ContractError
    from webtext.runner import LocalRunner

    with pytest.raises(ContractError, match=r"odd-stage: shard 00007 \(the label\): counts do not balance: total 3 "
                                            r"!= kept 1 \+ dropped 1"):
        run_stage(stage="odd-stage", dataset=tmp_path / "o", config={}, inputs=[],
                  tasks=[ShardTask(7, "the label")], shard_fn=unbalanced, runner=LocalRunner())
    assert not (tmp_path / "o" / STATS_DIR).exists() or not list((tmp_path / "o" / STATS_DIR).iterdir())


def test_every_listed_stage_declares_itself():
    specs = stages.registry()
    assert list(specs)[:9] == ["urls", "crawl", "extract", "dedup", "contamination", "decontaminate",
                               "train-tokenizer", "tokenize", "train"]
    for spec in specs.values():
        assert spec.config.__module__.startswith("webtext.") and spec.config.__module__.endswith(".config")
        assert callable(spec.run_function())


def test_lower_layers_import_no_stage_package():
    """No back-edges: the generic layers never import a stage package, the registry or the CLI."""
    import ast

    root = Path(__file__).parents[1] / "webtext"
    upper = ("crawl", "extract", "dedup", "contamination", "tokenize", "train", "eval", "memorization", "stages",
             "cli", "pipeline", "demo")
    lower = [root / f"{m}.py" for m in ("errors", "paths", "data", "logs", "strings", "config", "stage_spec")]
    for path in [*lower, *sorted((root / "runner").glob("*.py"))]:
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                parts = name.split(".")
                assert not (parts[0] == "webtext" and len(parts) > 1 and parts[1] in upper), (path.name, name)
    assert len((root / "config.py").read_text().splitlines()) < 250
