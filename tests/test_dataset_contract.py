"""The dataset contract: atomic shards, manifests, resume, invalidation, verify, checksums."""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pytest

from webtext.cli import main
from webtext.crawl.config import UrlsConfig
from webtext.crawl.url_stage import run_urls
from webtext.data import Manifest, ParquetStreamWriter, read_parquet, verify_dataset, write_parquet
from webtext.demo.sample_dump import write_sample_dump
from webtext.errors import ShardError
from webtext.paths import STATS_DIR, atomic_path, remove_temporaries, side_dir
from webtext.runner import LocalRunner


@pytest.fixture
def dumps(tmp_path):
    folder = tmp_path / "in"
    write_sample_dump(folder / "RS_2017-01.zst", 1500, seed=1)
    write_sample_dump(folder / "RS_2017-02.xz", 1500, seed=2)
    return folder


def _run(dumps, out, **kw):
    return run_urls(UrlsConfig(inputs=[str(dumps)], buckets=4, **kw), out, LocalRunner())


def test_manifest_records_config_inputs_shards_and_stats(dumps, tmp_path):
    out = tmp_path / "urls"
    m = _run(dumps, out)
    data = json.loads((out / "_manifest.json").read_text())
    assert data["stage"] == "urls" and data["code_version"] and data["parts"] == ["__buckets"]
    assert data["config"]["min_karma"] == 3 and data["config"]["resolved_blocklists"]["domains"]["version"]
    assert data["inputs"][0]["manifest_sha256"]  # the buckets pass, by manifest digest
    assert len(data["shards"]) == 4
    for shard in data["shards"]:
        (f,) = shard["files"]
        assert set(f) == {"path", "rows", "bytes", "sha256"}
    assert data["stats"]["kept_urls"] == sum(s["files"][0]["rows"] for s in data["shards"]) == m.stats["kept_urls"]
    inner = json.loads((side_dir(out, "buckets") / "_manifest.json").read_text())
    assert [i["path"].rsplit("/", 1)[1] for i in inner["inputs"]] == ["RS_2017-01.zst", "RS_2017-02.xz"]
    assert all({"bytes", "mtime_ns"} <= set(i) for i in inner["inputs"])
    assert len(list((out / STATS_DIR).glob("*.json"))) == 4


def test_rerun_skips_finished_stage_and_shards(dumps, tmp_path, caplog):
    out = tmp_path / "urls"
    first = _run(dumps, out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    caplog.set_level(logging.INFO, logger="webtext")
    again = _run(dumps, out)
    assert "already complete" in caplog.text and "skipping" in caplog.text
    assert again.fingerprint == first.fingerprint
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == mtimes
    # A killed run: the manifest and one shard's marker are gone -> only that shard reruns.
    (out / "_manifest.json").unlink()
    (out / STATS_DIR / "00002.json").unlink()
    caplog.clear()
    _run(dumps, out)
    assert "3 of 4 shards already done" in caplog.text
    assert (out / "part-00000.parquet").stat().st_mtime_ns == mtimes[out / "part-00000.parquet"]


def test_changed_config_or_input_redoes_the_stage(dumps, tmp_path, caplog):
    out = tmp_path / "urls"
    base = _run(dumps, out)
    caplog.set_level(logging.INFO, logger="webtext")
    stricter = _run(dumps, out, min_karma=10)
    assert "redoing" in caplog.text
    assert stricter.fingerprint != base.fingerprint
    assert stricter.stats["kept_urls"] < base.stats["kept_urls"]
    assert verify_dataset(out)[1] == []
    write_sample_dump(dumps / "RS_2017-02.xz", 1700, seed=9)  # the input changed
    caplog.clear()
    changed = _run(dumps, out, min_karma=10)
    assert "redoing" in caplog.text and changed.fingerprint != stricter.fingerprint


def test_fewer_buckets_leave_no_stale_files(dumps, tmp_path):
    out = tmp_path / "urls"
    _run(dumps, out)
    run_urls(UrlsConfig(inputs=[str(dumps)], buckets=2), out, LocalRunner())
    assert sorted(p.name for p in out.glob("part-*")) == ["part-00000.parquet", "part-00001.parquet"]
    assert sorted(p.name for p in side_dir(out, "buckets").glob("__b*")) == ["__b00000", "__b00001"]
    assert verify_dataset(out)[1] == []


def test_verify_reports_flipped_byte_and_missing_shard(dumps, tmp_path, capsys):
    out = tmp_path / "urls"
    _run(dumps, out)
    assert main(["verify", str(out)]) == 0
    assert "OK" in capsys.readouterr().out
    manifest = Manifest.read(out)
    entry = manifest.shards[1]["files"][0]
    target = out / entry["path"]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    (out / "part-00003.parquet").unlink()
    assert main(["verify", str(out)]) == 1
    text = capsys.readouterr().out
    assert f"{target}: sha256: expected {entry['sha256']}, actual " in text
    assert "part-00003.parquet: file: expected sha256" in text and "actual missing" in text
    # Intermediate passes are verified too.
    bucket_file = next(side_dir(out, "buckets").glob("__b*/part-*.parquet"))
    bucket_file.unlink()
    assert main(["verify", str(side_dir(out, "buckets"))]) == 1
    assert str(bucket_file) in capsys.readouterr().out


def test_verify_without_manifest_fails(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 1
    assert "missing" in capsys.readouterr().out


def test_parquet_page_checksums_catch_corruption(tmp_path):
    path = tmp_path / "t.parquet"
    table = pa.table({"x": pa.array(range(50_000), pa.int64()), "s": [f"row {i}" for i in range(50_000)]})
    write_parquet(path, table)
    assert read_parquet(path).equals(table)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ShardError) as err:
        read_parquet(path)
    assert str(path) in str(err.value)


def test_writes_are_atomic(tmp_path):
    target = tmp_path / "part-00000.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    w = ParquetStreamWriter(target, pa.schema([("x", pa.int64())]))
    w.write(pa.table({"x": [1, 2]}))
    assert not target.exists()  # nothing under the final name until closed
    w.abort()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / ".tmp-abc-part-00001.parquet").write_bytes(b"left by a crash")
    assert remove_temporaries(tmp_path) == 1
