# ruff: noqa: F811 (the fixtures imported from train_fixtures are arguments of the tests)
"""``webtext-build verify`` on any folder: a train run's checkpoints against their records, a
dataset named by the stage that wrote it with its file and row counts."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from train_fixtures import base_run, copy_run, tokens_dir  # noqa: F401 (fixtures)

from webtext.cli import main
from webtext.data import Manifest, describe_file
from webtext.tokenize.shards import TokenDataset


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def verify(folder: Path, capsys) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["-q", "verify", str(folder)])
    return rc, capsys.readouterr().out


def test_record_name_is_the_checkpoint_modules():
    from webtext import verify as v
    from webtext.train import checkpoint

    assert v.RECORD == checkpoint.RECORD


def test_run_folder_checks_every_checkpoint(base_run, tmp_path, capsys):
    run = copy_run(base_run, tmp_path / "run")
    rc, out = verify(run, capsys)
    assert rc == 0
    assert "OK: train run (6 checkpoint(s): step-6, step-5, step-4, step-3, step-2, step-1)" in out
    files = sum(1 for p in run.glob("step-*/*"))
    assert f"{files:,} file(s) in {run} match their checkpoint records" in out

    flip_byte(run / "step-3" / "__0_0.distcp")
    rc, out = verify(run, capsys)
    assert rc == 1
    assert f"MISMATCH {run / 'step-3'}: checkpoint:" in out and "sha256 differs" in out
    assert "5 checkpoint(s)" in out and "step-3" not in out.splitlines()[-1].split("checkpoint(s):")[1]

    rc, out = verify(run / "step-3", capsys)
    assert rc == 1 and "1 problem(s)" in out
    rc, out = verify(run / "step-4", capsys)
    n = len(list((run / "step-4").iterdir()))
    assert rc == 0 and f"OK: checkpoint, {n} file(s) in {run / 'step-4'} match its checkpoint record" in out


def test_unfinished_run_and_missing_record(base_run, tmp_path, capsys):
    run = copy_run(base_run, tmp_path / "run", upto=2)
    (run / "_manifest.json").unlink()
    (run / "step-2" / "webtext-checkpoint.json").unlink()
    rc, out = verify(run, capsys)
    assert rc == 1
    assert "note: no _manifest.json: the run has not finished" in out
    assert f"MISMATCH {run / 'step-2'}: webtext-checkpoint.json: expected present" in out
    assert "train run (1 checkpoint(s): step-1)" in out


def test_dataset_says_its_stage_files_and_rows(tokens_dir, tmp_path, capsys):
    rc, out = verify(tokens_dir, capsys)
    docs = sum(TokenDataset(tokens_dir, s).n_documents for s in ("train", "val"))
    n_files = len(list(Manifest.read(tokens_dir).files()))
    assert rc == 0
    assert f"verify: OK: `tokenize` dataset, {n_files} file(s) ({docs:,} rows in its main table) in {tokens_dir}" in out

    # a main table and a side folder: rows are counted apart
    ds = tmp_path / "ds"
    (ds / "__dropped").mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a", "b", "c"]}), ds / "part-00000.parquet")
    pq.write_table(pa.table({"id": ["x"]}), ds / "__dropped" / "part-00000.parquet")
    files = [describe_file(ds, ds / "part-00000.parquet"), describe_file(ds, ds / "__dropped" / "part-00000.parquet")]
    Manifest(stage="dedup", fingerprint="f", config={}, inputs=[], shards=[{"index": 0, "files": [
        f.__dict__ for f in files]}], stats={}).write(ds)
    rc, out = verify(ds, capsys)
    assert rc == 0 and "`dedup` dataset, 2 file(s) (3 rows in its main table; 1 rows in __dropped/)" in out


def test_folder_without_manifest_fails(tmp_path, capsys):
    rc, out = verify(tmp_path, capsys)
    assert rc == 1 and "folder without a manifest" in out and "missing" in out
