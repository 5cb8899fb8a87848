"""The urls stage end to end on the local runner: aggregation, filters, balance, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
import zstandard

from webtext.cli import main
from webtext.crawl.config import UrlsConfig
from webtext.crawl.url_stage import run_urls, urls_schema
from webtext.demo.sample_dump import write_sample_dump
from webtext.errors import StageFailedError
from webtext.paths import STATS_DIR, side_dir
from webtext.runner import LocalRunner


def _url(row: dict) -> str:
    return row["url"]


def _rows(folder: Path) -> list[dict]:
    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def _sub(sid, url, score, created=1_400_000_000, **kw) -> bytes:
    rec = {"id": sid, "url": url, "score": score, "created_utc": created, "subreddit": kw.pop("sub", "news"),
           "is_self": False, "over_18": False, **kw}
    return orjson.dumps(rec)


@pytest.fixture
def two_dumps(tmp_path):
    a = [
        _sub("a1", "http://news.example/story?id=1&utm_source=x", 1, 1_400_000_010),
        _sub("a2", "HTTP://NEWS.example/story?id=1#c", 2, 1_400_000_005),
        _sub("b1", "https://blog.example/post", 3, sub="science"),
        _sub("w1", "https://en.wikipedia.org/wiki/Reddit", 50),
        _sub("i1", "http://i.imgur.com/x.png", 40),
        _sub("s1", "https://www.reddit.com/r/news/comments/1/", 9, is_self=True),
        b"{not json",
    ]
    b = [
        _sub("a3", "http://news.example/story?id=1&amp;utm_medium=y", 2, 1_400_000_020),
        _sub("b1", "https://blog.example/post", 3, sub="science"),  # the same submission again
        _sub("c1", "ftp://files.example/x", 10),
    ]
    pa_ = tmp_path / "RS_2014-05.zst"
    pa_.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(a) + b"\n"))
    pb = tmp_path / "RS_2014-06.jsonl"
    pb.write_bytes(b"\n".join(b) + b"\n")
    return [pa_, pb]


def test_aggregation_max_mode(tmp_path, two_dumps):
    out = tmp_path / "urls"
    m = run_urls(UrlsConfig(inputs=[str(p) for p in two_dumps], buckets=3), out, LocalRunner())
    rows = {r["url"]: r for r in _rows(out)}
    assert set(rows) == {"https://blog.example/post"}  # news.example peaked at 2 < 3
    blog = rows["https://blog.example/post"]
    assert blog["karma"] == 3 and blog["n_submissions"] == 1 and blog["submission_ids"] == ["b1"]
    assert blog["subreddits"] == ["science"] and blog["domain"] == "blog.example"
    assert m.stats["duplicate_submissions"] == 1
    assert m.stats["dropped_karma"] == 1
    sub = m.stats["submissions"]
    assert sub["dropped_wikipedia"] == 1 and sub["dropped_domain_blocklist"] == 1
    assert sub["dropped_self_post"] == 1 and sub["dropped_invalid_json"] == 1 and sub["dropped_url_scheme"] == 1


def test_aggregation_sum_mode_merges_spellings(tmp_path, two_dumps):
    out = tmp_path / "urls"
    run_urls(UrlsConfig(inputs=[str(p) for p in two_dumps], karma_mode="sum", buckets=2), out, LocalRunner())
    rows = {r["url"]: r for r in _rows(out)}
    news = rows["http://news.example/story?id=1"]
    assert news["karma"] == 5 and news["karma_max"] == 2 and news["karma_sum"] == 5
    assert news["n_submissions"] == 3 and sorted(news["submission_ids"]) == ["a1", "a2", "a3"]
    assert news["first_created_utc"] == 1_400_000_005
    assert news["url_raw"] == "HTTP://NEWS.example/story?id=1#c"  # the earliest spelling
    assert len(news["raw_urls"]) == 3
    assert pq.read_schema(out / "part-00000.parquet").equals(urls_schema())


def test_no_blocklists_and_keep_flags(tmp_path, two_dumps):
    out = tmp_path / "urls"
    cfg = UrlsConfig(inputs=[str(p) for p in two_dumps], blocklists=False, keep_self_posts=True, min_karma=0)
    run_urls(cfg, out, LocalRunner())
    domains = {r["domain"] for r in _rows(out)}
    assert {"en.wikipedia.org", "i.imgur.com", "reddit.com"} <= domains
    assert "files.example" not in domains  # non-http is never kept


def test_generated_dump_books_balance_per_shard(tmp_path):
    junk = write_sample_dump(tmp_path / "in" / "RS_2017-01.zst", 4000, seed=3, junk_every=40, long_window=True)
    write_sample_dump(tmp_path / "in" / "RS_2017-02.bz2", 1000, seed=4, junk_every=25)
    out = tmp_path / "urls"
    m = run_urls(UrlsConfig(inputs=[str(tmp_path / "in")], buckets=4), out, LocalRunner())
    for stats_file in sorted((side_dir(out, "buckets") / STATS_DIR).glob("*.json")):
        counts = json.loads(stats_file.read_text())["counts"]
        drops = sum(v for k, v in counts.items() if k.startswith("dropped_"))
        assert counts["lines"] == counts["kept_submissions"] + drops, stats_file
    sub = m.stats["submissions"]
    assert sub["lines"] == 5000 + sum(junk.values()) + 1000 // 25
    for reason, n in junk.items():
        assert sub[f"dropped_{reason}"] >= n
    rows = _rows(out)
    assert len({r["url"] for r in rows}) == len(rows) == m.stats["kept_urls"] > 100
    assert all(r["karma"] >= 3 for r in rows)
    assert any(len(r["raw_urls"]) > 1 for r in rows)  # reposts in other spellings were merged
    assert not any("wikipedia" in r["domain"] or "imgur" in r["domain"] for r in rows)


def test_a_truncated_input_fails_its_shard_only(tmp_path, capsys):
    good = tmp_path / "in" / "RS_2017-01.zst"
    write_sample_dump(good, 2000, seed=1)
    write_sample_dump(tmp_path / "in" / "RS_2017-02.xz", 2000, seed=2)
    full = tmp_path / "full.zst"
    write_sample_dump(full, 3000, seed=5, long_window=True)
    data = full.read_bytes()
    cut = tmp_path / "in" / "RS_2017-03.zst"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "urls"
    code = main(["urls", str(tmp_path / "in"), "--out", str(out), "--runner", "local"])
    err = capsys.readouterr().err
    assert code == 1
    assert "RS_2017-03.zst" in err and f"byte offset {len(data) // 2}" in err and "truncated" in err
    assert not (side_dir(out, "buckets") / "_manifest.json").exists() and not (out / "_manifest.json").exists()
    assert sorted(p.name for p in (side_dir(out, "buckets") / STATS_DIR).glob("*.json")) == ["00000.json", "00001.json"]
    # Repair the input: the rerun only processes the failed shard.
    cut.write_bytes(data)
    code = main(["urls", str(tmp_path / "in"), "--out", str(out), "--runner", "local"])
    assert code == 0 and (out / "_manifest.json").exists()


def test_failure_is_reported_not_raised_by_the_runner(tmp_path):
    bad = tmp_path / "RS_2017-04.zst"
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00" * 64)  # a zstd magic number, then garbage
    good = tmp_path / "RS_2017-05.jsonl"
    good.write_bytes(_sub("x", "http://a.example/", 5) + b"\n")
    with pytest.raises(StageFailedError) as err:
        run_urls(UrlsConfig(inputs=[str(bad), str(good)], buckets=1), tmp_path / "out", LocalRunner())
    assert list(err.value.failures) == [0]
    assert "RS_2017-04.zst" in err.value.failures[0]
    assert (side_dir(tmp_path / "out", "buckets") / STATS_DIR / "00001.json").exists()


def test_reduce_sub_passes_give_the_same_rows(tmp_path):
    write_sample_dump(tmp_path / "in" / "RS_2017-01.zst", 8000, seed=11)
    one = run_urls(UrlsConfig(inputs=[str(tmp_path / "in")], buckets=2), tmp_path / "one", LocalRunner())
    many = run_urls(UrlsConfig(inputs=[str(tmp_path / "in")], buckets=2, reduce_rows=1000), tmp_path / "many",
                    LocalRunner())
    assert one.stats["reduce_passes"] == 2 and many.stats["reduce_passes"] > 4
    assert sorted(_rows(tmp_path / "one"), key=_url) == sorted(_rows(tmp_path / "many"), key=_url)
