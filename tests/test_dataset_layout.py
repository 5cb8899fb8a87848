"""Every dataset folder reads as its main table with the standard tools, by its folder name.

``pandas.read_parquet(folder)``, ``pyarrow.dataset.dataset(folder)`` and
``datasets.load_dataset(folder)`` must return exactly the rows of ``part-*.parquet``: stats, side
data and intermediate passes live under ``__``-prefixed names (``webtext.paths.side_dir``) that
all three skip. Checked on real stage outputs, and on a folder left by an older webtext (side
folders without the prefix), which a rerun redoes rather than mixes.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata import shared_data

from webtext.data import Manifest, verify_dataset, write_parquet
from webtext.paths import MANIFEST, SIDE_PREFIX, STATS_DIR, legacy_name, part_name, side_dir, side_name
from webtext.runner import LocalRunner, ShardOutput, ShardTask, run_stage

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # a local folder needs no network; never reach for one
os.environ.setdefault("HF_HUB_OFFLINE", "1")

WORDS = [f"w{i}" for i in range(3000)]


def main_table(folder: Path) -> pa.Table:
    files = sorted(folder.glob("part-*.parquet"))
    assert files, f"no main table in {folder}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def assert_layout(folder: Path) -> None:
    """The rule itself: only the main table, the manifest and ``__`` names at the top of the folder."""
    names = sorted(p.name for p in folder.iterdir())
    odd = [n for n in names if not (n.startswith("part-") or n == MANIFEST or n.startswith(SIDE_PREFIX))]
    assert odd == [], f"{folder}: {odd} would be read as part of the main table"
    assert STATS_DIR in names and any(n.startswith(SIDE_PREFIX) and n != STATS_DIR for n in names), names


def assert_tools_read_main_table(folder: Path, cache: Path) -> int:
    import datasets
    import pandas as pd
    import pyarrow.dataset as ds

    want = main_table(folder)
    rows = want.to_pylist()
    got_arrow = ds.dataset(folder).to_table()
    assert got_arrow.column_names == want.column_names and got_arrow.to_pylist() == rows
    frame = pd.read_parquet(folder)
    assert list(frame.columns) == want.column_names and len(frame) == want.num_rows
    assert pa.Table.from_pandas(frame, preserve_index=False).cast(want.schema).to_pylist() == rows
    loaded = datasets.load_dataset(str(folder), split="train", cache_dir=str(cache))
    assert loaded.column_names == want.column_names and loaded.num_rows == want.num_rows
    assert loaded.data.table.cast(want.schema).to_pylist() == rows
    return want.num_rows


# ---------------------------------------------------------------------------------------------
# Real stage outputs


@pytest.fixture(scope="module")
def urls_out(tmp_path_factory):
    from webtext.crawl.config import UrlsConfig
    from webtext.crawl.url_stage import run_urls

    folder = shared_data("reddit-pushshift-submissions")
    out = tmp_path_factory.mktemp("layout") / "urls"
    months = [str(folder / "RS_2005-06.zst"), str(folder / "RS_2005-07.zst")]
    run_urls(UrlsConfig(inputs=months, buckets=4), out, LocalRunner())
    return out, months


def test_urls_on_the_real_pushshift_months(urls_out, tmp_path):
    out, _ = urls_out
    assert_layout(out)
    assert side_dir(out, "buckets").is_dir() and (side_dir(out, "buckets") / MANIFEST).is_file()
    assert assert_tools_read_main_table(out, tmp_path / "hf") == Manifest.read(out).stats["kept"] > 500


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _write_docs(folder: Path, docs: list[dict], parts: int) -> None:
    folder.mkdir(parents=True)
    size = -(-len(docs) // parts)
    for i in range(parts):
        write_parquet(folder / part_name(i), pa.Table.from_pylist(docs[i * size:(i + 1) * size], schema=pa.schema(
            [("id", pa.string()), ("url", pa.string()), ("text", pa.string()), ("karma", pa.int64()),
             ("subreddits", pa.list_(pa.string()))])))


def test_dedup_on_a_small_docs_table(tmp_path):
    from webtext.dedup.config import DedupConfig
    from webtext.dedup.dedup_stage import run_dedup

    rng = random.Random(7)
    docs = []
    for i in range(60):
        text = _text(rng, 200)
        docs.append({"id": f"d{i}", "url": f"http://x.test/{i}", "text": text, "karma": i, "subreddits": ["a"]})
        if i % 6 == 0:  # an exact copy and a near copy (one word changed)
            docs.append({**docs[-1], "id": f"d{i}x", "url": f"http://y.test/{i}", "karma": 0})
            near = text.split()
            near[100] = "changed"
            docs.append({**docs[-1], "id": f"d{i}n", "text": " ".join(near)})
    _write_docs(tmp_path / "docs", docs, parts=3)
    out = tmp_path / "dedup"
    m = run_dedup(DedupConfig(inputs=[str(tmp_path / "docs")], partitions=2, num_perm=64), out, LocalRunner())
    assert m.stats["removed"] == 20
    assert_layout(out)
    assert {p.name for p in out.iterdir() if p.name.startswith(SIDE_PREFIX)} >= {
        "__duplicates", "__signatures", "__buckets", "__clusters", "__stats"}
    assert assert_tools_read_main_table(out, tmp_path / "hf") == 60
    assert assert_tools_read_main_table(side_dir(out, "duplicates"), tmp_path / "hf") == 20


def test_contamination_hits_and_decontaminate(tmp_path):
    from webtext.contamination.config import ContaminationConfig, DecontaminateConfig
    from webtext.contamination.contamination_stage import run_contamination
    from webtext.contamination.decontaminate import run_decontaminate

    rng = random.Random(3)
    bench = [_text(rng, 20) for _ in range(5)]
    (tmp_path / "bench.jsonl").write_text("".join(json.dumps({"text": b}) + "\n" for b in bench))
    docs = [{"id": f"d{i}", "url": f"http://x.test/{i}", "karma": 3, "subreddits": ["a"],
             "text": _text(rng, 150) + (" " + bench[i] + " " + _text(rng, 50) if i < 5 else "")} for i in range(30)]
    _write_docs(tmp_path / "docs", docs, parts=2)
    report = tmp_path / "report"
    cfg = ContaminationConfig(inputs=[str(tmp_path / "docs")], benchmarks=[f"quiz={tmp_path / 'bench.jsonl'}#text"],
                              mode="exact")
    run_contamination(cfg, report, LocalRunner())
    hits = report / "hits"  # the report folder keeps its named outputs; its hits table is a dataset
    assert_layout(hits)
    # one shard found nothing: an empty part file must not break any tool (datasets chokes on an empty row group)
    assert [pq.ParquetFile(f).metadata.num_rows for f in sorted(hits.glob("part-*"))] == [5, 0]
    assert assert_tools_read_main_table(hits, tmp_path / "hf") == 5
    out = tmp_path / "clean"
    run_decontaminate(DecontaminateConfig(inputs=[str(tmp_path / "docs")], report=str(report), method="drop",
                                          max_fraction=0.0), out, LocalRunner())
    assert_layout(out)
    assert {r["id"] for r in main_table(side_dir(out, "removed")).to_pylist()} == {f"d{i}" for i in range(5)}
    assert assert_tools_read_main_table(out, tmp_path / "hf") == 25


def test_crawl_and_extract_on_the_loopback_web(tmp_path):
    from webtext.demo.web import DemoServer, DemoSite, write_site_dump
    from webtext.pipeline import load_pipeline, run_pipeline

    site = DemoSite(seed=4, hosts=2, pages_per_host=(5, 6))
    write_site_dump(tmp_path / "dumps" / "RS_2017-12.jsonl", site, seed=1)
    hosts = sorted({u.split("/")[2].split(":")[0] for u in site.urls()})
    path = tmp_path / "pipelines.yaml"
    path.write_text(textwrap.dedent(f"""\
        workdir: work
        runner: {{kind: local, max_retries: 0}}
        stages:
          urls: {{inputs: [dumps], buckets: 2}}
          crawl: {{inputs: [work/urls], partitions: 2, delay: 0.02, download_timeout: 5, retries: 0,
                  allow_network: [127.0.0.0/8], hosts: {hosts}}}
          extract: {{inputs: [work/crawl], languages: [en]}}
        """))
    with DemoServer(site):
        run_pipeline(load_pipeline(path), LocalRunner())
    for stage, side in [("crawl", "warc"), ("extract", "dropped")]:
        out = tmp_path / "work" / stage
        assert_layout(out)
        assert side_dir(out, side).is_dir()
        assert assert_tools_read_main_table(out, tmp_path / "hf") > 0


# ---------------------------------------------------------------------------------------------
# A folder written with the older names (no ``__`` prefix) is redone, never mixed


def _make_old(out: Path) -> list[str]:
    """Turn a finished folder into what an older webtext wrote: side folders without the prefix,
    the manifest and stats files naming them so."""
    old = []
    for p in sorted(out.iterdir()):
        if p.name.startswith(SIDE_PREFIX):
            p.rename(out / str(legacy_name(p.name)))
            old.append(str(legacy_name(p.name)))
    for f in [out / MANIFEST, *sorted((out / "stats").glob("*.json"))]:
        if f.exists():
            f.write_text(f.read_text().replace(f'"{SIDE_PREFIX}', '"').replace(f"/{SIDE_PREFIX}", "/"))
    return old


def _side_stage(out: Path, n: int = 3, *, fail: int | None = None) -> Manifest:
    def shard(task: ShardTask) -> ShardOutput:
        if task.index == fail:
            raise ValueError("boom")
        main, side = out / part_name(task.index), side_dir(out, "extra") / part_name(task.index)
        write_parquet(main, pa.table({"id": [f"k{task.index}-{j}" for j in range(4)], "x": [1, 2, 3, 4]}))
        write_parquet(side, pa.table({"other": ["not", "main"]}))
        return ShardOutput(files=[main, side], counts={"total": 6, "kept": 4, "dropped_other": 2})

    return run_stage(stage="layout-test", dataset=out, config={"n": n}, inputs=[],
                     tasks=[ShardTask(i, f"s{i}") for i in range(n)], shard_fn=shard, runner=LocalRunner(),
                     side_dirs=[side_name("extra")])


@pytest.mark.parametrize("finished", [True, False])
def test_a_folder_with_the_old_names_is_redone(tmp_path, caplog, finished):
    from webtext.errors import StageFailedError

    out = tmp_path / "d"
    if finished:
        _side_stage(out)
    else:  # an interrupted old run: shards 0 and 2 done, no manifest
        with pytest.raises(StageFailedError):
            _side_stage(out, fail=1)
    assert _make_old(out) == ["extra", "stats"]
    if finished:
        assert [f.path for f in Manifest.read(out).files()][:2] == ["part-00000.parquet", "extra/part-00000.parquet"]
    caplog.set_level(logging.INFO)
    m = _side_stage(out)
    assert "written by an older webtext (folders extra/, stats/" in caplog.text and "redoing the stage" in caplog.text
    assert sorted(p.name for p in out.iterdir()) == [
        "__extra", "__stats", MANIFEST, "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert all(f.path.startswith(("part-", "__extra/")) for f in m.files())
    assert verify_dataset(out)[1] == []
    assert assert_tools_read_main_table(out, tmp_path / "hf") == 12
    caplog.clear()
    assert _side_stage(out).fingerprint == m.fingerprint and "already complete" in caplog.text


def test_urls_with_the_old_names_is_redone_on_rerun(urls_out, tmp_path, caplog):
    from webtext.crawl.config import UrlsConfig
    from webtext.crawl.url_stage import run_urls

    src, months = urls_out
    out = tmp_path / "urls"
    shutil.copytree(src, out)
    want = main_table(out).to_pylist()
    assert _make_old(out) == ["buckets", "stats"]
    caplog.set_level(logging.INFO)
    run_urls(UrlsConfig(inputs=months, buckets=4), out, LocalRunner())
    assert "urls: " in caplog.text and "older webtext (folders buckets/, stats/, now prefixed with __)" in caplog.text
    assert not (out / "buckets").exists() and not (out / "stats").exists()
    assert_layout(out)
    assert verify_dataset(out)[1] == []
    assert main_table(out).to_pylist() == want
    assert assert_tools_read_main_table(out, tmp_path / "hf") == len(want)


def test_old_stats_alone_is_moved_not_redone(tmp_path, caplog):
    """A stage without side folders of its own (tokenize, memorization) had only ``stats/`` to
    rename: the move is exact (the manifest never lists stats files), so nothing is redone."""
    out, calls = tmp_path / "d", []

    def shard(task: ShardTask) -> ShardOutput:
        calls.append(task.index)
        main = out / part_name(task.index)
        write_parquet(main, pa.table({"id": [f"k{task.index}"]}))
        return ShardOutput(files=[main], counts={"total": 1, "kept": 1})

    def run() -> Manifest:
        return run_stage(stage="plain", dataset=out, config={}, inputs=[], tasks=[ShardTask(i, "") for i in range(2)],
                         shard_fn=shard, runner=LocalRunner())

    first = run()
    (out / STATS_DIR).rename(out / "stats")
    caplog.set_level(logging.INFO)
    again = run()
    assert calls == [0, 1] and again.created_at == first.created_at
    assert "moving stats to __stats" in caplog.text and "already complete" in caplog.text
    assert sorted(p.name for p in out.iterdir()) == ["__stats", MANIFEST, "part-00000.parquet", "part-00001.parquet"]
    (out / MANIFEST).unlink()  # an unfinished old run: its shards are still recognised as done
    (out / STATS_DIR).rename(out / "stats")
    run()
    assert calls == [0, 1] and verify_dataset(out)[1] == []
