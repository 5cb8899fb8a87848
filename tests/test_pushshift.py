"""Reading dumps line by line: every bad line counted under its reason, nothing crashes."""

from __future__ import annotations

import lzma
from collections import Counter

import orjson
import pytest
import zstandard

from webtext.crawl.pushshift import SubmissionFilter, input_format, read_submissions
from webtext.demo.sample_dump import JUNK_LINES
from webtext.errors import ShardError


def _rec(i: int, **kw) -> bytes:
    rec = {"id": f"s{i}", "url": f"http://example.com/{i}", "score": 5, "created_utc": 1_400_000_000 + i,
           "is_self": False, "over_18": False, "subreddit": "news"}
    rec.update(kw)
    return orjson.dumps(rec)


def _read(path, filt=None):
    counts: Counter[str] = Counter()
    rows = list(read_submissions(path, filt or SubmissionFilter(), counts))
    return rows, counts


def _balanced(counts, kept):
    drops = sum(v for k, v in counts.items() if k.startswith("dropped_"))
    return counts["lines"] == kept + drops


def test_every_bad_line_is_counted_under_its_reason(tmp_path):
    lines = [_rec(0)]
    expected: Counter[str] = Counter()
    for line, reason in JUNK_LINES:
        lines.append(line)
        expected["dropped_" + reason] += 1
    lines.append(_rec(1, score=7.0))  # an integral float is a valid score
    path = tmp_path / "RS_2014-05.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\n".join(lines) + b"\n"))
    rows, counts = _read(path)
    assert [r[0] for r in rows] == ["http://example.com/0", "http://example.com/1"]
    assert rows[1][1] == 7
    for key, n in expected.items():
        assert counts[key] == n, (key, counts)
    assert counts["lines"] == len(lines)
    assert _balanced(counts, len(rows))


def test_submission_filters(tmp_path):
    lines = [
        _rec(0),
        _rec(1, is_self=True),
        _rec(2, over_18=True),
        _rec(3, created_utc=1_600_000_000),
        _rec(4, subreddit="Spam"),
        _rec(5, id=None, subreddit=None),
    ]
    path = tmp_path / "dump.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    filt = SubmissionFilter(created_before=1_500_000_000, subreddits=frozenset({"spam"}))
    rows, counts = _read(path, filt)
    assert [r[0].rsplit("/", 1)[1] for r in rows] == ["0", "5"]
    assert rows[1][2] is None and rows[1][3] is None
    assert counts["dropped_self_post"] == counts["dropped_nsfw"] == 1
    assert counts["dropped_created_out_of_range"] == counts["dropped_subreddit_blocklist"] == 1
    assert _balanced(counts, len(rows))
    rows, counts = _read(path, SubmissionFilter(keep_self_posts=True, keep_nsfw=True))
    assert len(rows) == 6


def test_url_list_formats(tmp_path):
    urk = tmp_path / "RS_v2_2005-06.urk.json-00.xz"
    with lzma.open(urk, "wb") as f:
        f.write(b'{"u": "http://a.example/x", "r": "reddit.com", "k": 4}\n{"u": "http://b.example/", "r": "x"}\n')
        f.write(b'{"u": "http://c.example/", "k": "lots"}\n')
    rows, counts = _read(urk)
    assert rows == [("http://a.example/x", 4, None, "reddit.com", None), ("http://b.example/", None, None, "x", None)]
    assert counts["dropped_bad_score"] == 1 and _balanced(counts, 2)
    txt = tmp_path / "urls.txt"
    txt.write_text("# a comment\nhttp://a.example/\n\n  http://b.example/  \n")
    assert input_format(txt) == "text" and input_format(urk) == "json"
    rows, counts = _read(txt)
    assert [r[0] for r in rows] == ["http://a.example/", "http://b.example/"]
    assert counts["lines"] == 4 and _balanced(counts, 2)


def test_partial_last_line_is_a_truncation(tmp_path):
    path = tmp_path / "cut.jsonl"
    path.write_bytes(_rec(0) + b"\n" + _rec(1)[:30])
    with pytest.raises(ShardError, match="incomplete record") as err:
        _read(path)
    assert err.value.path == str(path)
    ok = tmp_path / "no-final-newline.jsonl"
    ok.write_bytes(_rec(0) + b"\n" + _rec(1))  # a complete last record without "\n" is fine
    rows, _ = _read(ok)
    assert len(rows) == 2


def test_real_dumps_have_the_documented_counts():
    from realdata import shared_data

    folder = shared_data("reddit-pushshift-submissions")
    for name, total, at_least_3 in [("RS_v2_2005-06.xz", 103, 83), ("RS_2005-07.zst", 1079, 757)]:
        rows, counts = _read(folder / name)
        assert counts["lines"] == total == len(rows)
        assert sum(1 for r in rows if r[1] >= 3) == at_least_3


@pytest.mark.parametrize("junk_every", [0, 7])
def test_fast_block_parser_matches_the_reference(tmp_path, junk_every):
    """Arrow's block parser and the line-by-line one keep the same rows and count the same drops."""
    from webtext.crawl.pushshift import read_submission_tables
    from webtext.demo.sample_dump import write_sample_dump

    path = tmp_path / "RS_2017-01.zst"
    write_sample_dump(path, 3000, seed=5, junk_every=junk_every)
    filt = SubmissionFilter(created_before=1_400_010_000, subreddits=frozenset({"books"}))
    ref_rows, ref_counts = _read(path, filt)
    fast_counts: Counter[str] = Counter()
    tables = list(read_submission_tables(path, filt, fast_counts, block_bytes=64 << 10))
    fast_rows = [tuple(r.values()) for t in tables for r in t.to_pylist()]
    assert fast_rows == ref_rows
    assert fast_counts == ref_counts
    assert ref_counts["dropped_self_post"] and ref_counts["dropped_subreddit_blocklist"]


@pytest.mark.parametrize("odd_lines", [
    [_rec(900) + b" " + _rec(901), b""],  # two documents on one line + a blank line: same line count
    [b"  \r", b"\t"],  # whitespace-only lines (decode_lines skips them)
    # UTF-8, then invalid UTF-8 in a field msgspec skips
    [_rec(902, selftext="café"), _rec(903, title="x").replace(b'"x"', b'"\xff"')],
    [_rec(904, score=5.0), _rec(905, score=True), _rec(906, created_utc="1400000000")],  # types
    [_rec(907, score=2**62).replace(b"4611686018427387904", b"18446744073709551616"),
     _rec(908, id=7, subreddit=["x"]), b'{"u": "http://a.example/", "k": 4}'],
])
def test_fast_parser_sends_odd_blocks_to_the_reference(tmp_path, odd_lines):
    from webtext.crawl.pushshift import read_submission_tables

    lines = [_rec(i) for i in range(40)]
    lines[10:10] = odd_lines
    path = tmp_path / "RS_odd.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    ref_rows, ref_counts = _read(path)
    fast_counts: Counter[str] = Counter()
    tables = list(read_submission_tables(path, SubmissionFilter(), fast_counts, block_bytes=1 << 20))
    assert [tuple(r.values()) for t in tables for r in t.to_pylist()] == ref_rows
    assert fast_counts == ref_counts
    assert _balanced(fast_counts, len(ref_rows))
