"""The fault campaign's silent input cases (issue #18), end to end through the CLI: each now gives output
identical to an undisturbed run or exits 1 with one line naming the file and the fix."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from faultkit import flip_byte
from test_extract_fetch_log import crawl_dataset, page
from train_fixtures import tokens_dir  # noqa: F401 (fixture)

from webtext.cli import main
from webtext.paths import MANIFEST, side_dir


def docs_dataset(root: Path) -> Path:
    """A finished docs dataset (two part files, a manifest): the dedup stage's output over generated text."""
    rng = random.Random(11)
    loose = root / "loose"
    loose.mkdir(parents=True)
    for k in range(2):
        texts = [" ".join(f"w{rng.randrange(5000)}" for _ in range(60)) for _ in range(30)]
        pq.write_table(pa.table({"id": [f"d{k}-{i:03d}" for i in range(30)], "text": texts}),
                       loose / f"part-{k:05d}.parquet")
    assert main(["-q", "dedup", str(loose), "--out", str(root / "docs"), "--runner", "local"]) == 0
    return root / "docs"


def dedup(inputs: Path, out: Path, *flags: str) -> int:
    return main(["-q", "dedup", str(inputs), "--out", str(out), "--runner", "local", *flags])


def table(out: Path):
    return pa.concat_tables(pq.read_table(f) for f in sorted(out.glob("part-*.parquet")))


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs-faults")
    docs = docs_dataset(root)
    assert dedup(docs, root / "reference") == 0
    return docs, table(root / "reference")


def copy_docs(undisturbed, tmp_path) -> Path:
    return Path(shutil.copytree(undisturbed[0], tmp_path / "docs"))


def test_extra_and_stray_part_files_are_not_read(undisturbed, tmp_path):
    docs = copy_docs(undisturbed, tmp_path)
    shutil.copy(docs / "part-00000.parquet", docs / "part-00099.parquet")
    shutil.copy(docs / "part-00001.parquet", docs / "backup-00000.parquet")
    assert dedup(docs, tmp_path / "out") == 0
    assert table(tmp_path / "out").equals(undisturbed[1])


def test_a_deleted_part_file_fails_naming_it(undisturbed, tmp_path, capsys):
    docs = copy_docs(undisturbed, tmp_path)
    (docs / "part-00001.parquet").unlink()
    capsys.readouterr()
    assert dedup(docs, tmp_path / "out") == 1
    line = one_line(capsys)
    assert f"{docs / 'part-00001.parquet'} is listed in" in line and "rerun `webtext-build dedup`" in line
    assert not (tmp_path / "out" / MANIFEST).exists()


def test_a_folder_without_manifest_is_refused_unless_allowed(undisturbed, tmp_path, capsys):
    docs = copy_docs(undisturbed, tmp_path)
    (docs / MANIFEST).unlink()
    capsys.readouterr()
    assert dedup(docs, tmp_path / "out") == 1
    line = one_line(capsys)
    assert f"{docs} has no _manifest.json: the stage writing it did not finish" in line and "--allow-incomplete" in line
    assert dedup(docs, tmp_path / "out", "--allow-incomplete") == 0
    assert table(tmp_path / "out").equals(undisturbed[1])
    inputs = json.loads((tmp_path / "out" / MANIFEST).read_text())["inputs"]
    assert all(i.get("incomplete") for i in inputs if "manifest_sha256" not in i)


def test_a_deleted_warc_fails_and_unlogged_records_are_not_documents(tmp_path, capsys):
    a, b = ("https://a.example/story", page("Alpha")), ("https://b.example/story", page("Beta"))
    clean = crawl_dataset(tmp_path / "clean", [a, b], logged=[0, 1])
    killed = crawl_dataset(tmp_path / "killed", [a, a, b], logged=[1, 2])  # a duplicate record nobody logged
    for crawl, out in ((clean, tmp_path / "x1"), (killed, tmp_path / "x2")):
        assert main(["-q", "extract", str(crawl), "--out", str(out), "--runner", "local"]) == 0
    texts = [pq.read_table(o / "part-00000.parquet").column("text").to_pylist() for o in (tmp_path / "x1",
                                                                                           tmp_path / "x2")]
    assert texts[0] == texts[1] and len(texts[0]) == 2
    warc = side_dir(clean, "warc") / "part-00000.warc.gz"
    warc.unlink()
    capsys.readouterr()
    assert main(["-q", "extract", str(clean), "--out", str(tmp_path / "x3"), "--runner", "local"]) == 1
    line = one_line(capsys)
    assert f"{warc} is listed in" in line and "rerun `webtext-build crawl`" in line


def test_a_same_size_flip_in_a_token_shard_stops_train(tokens_dir, tmp_path, capsys):  # noqa: F811
    tokens = Path(shutil.copytree(tokens_dir, tmp_path / "tokens"))
    shard = sorted((tokens / "train").glob("*.arrow"))[0]
    flip_byte(shard)
    capsys.readouterr()
    assert main(["-q", "train", "--data", str(tokens), "--preset", "tiny", "--batch-size", "8", "--seq-len", "64",
                 "--max-steps", "1", "--out", str(tmp_path / "run")]) == 1
    line = one_line(capsys)
    assert str(shard) in line and "sha256" in line and "rerun `webtext-build tokenize`" in line
