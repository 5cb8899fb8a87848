"""Reddit submission dumps and URL lists -> submission records, counting every line.

Reads, streamed:
- Pushshift submission dumps (``RS_YYYY-MM`` and ``RS_v2_`` schemas), one JSON object per line;
- OpenWebText-style URL lists, JSON lines ``{"u": url, "r": subreddit, "k": karma}``;
- plain text URL lists, one URL per line (no karma), for files named ``*.txt``.

Every line ends up in exactly one counter: ``kept`` by the caller or one ``dropped_<reason>``
here, so ``lines == kept_submissions + sum(dropped_*)``. Bad lines are counted and skipped; a
file cut off in the middle (compressed frame open, or an unparsable unterminated last line) is a
``ShardError`` naming the file and byte offset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from webtext.crawl.streams import LineReader, compression_of
from webtext.errors import ShardError

#: (raw url, score or None, submission id or None, subreddit or None, created_utc or None)
Submission = tuple[str, int | None, str | None, str | None, int | None]

_INT64 = 2**63


@dataclass(frozen=True)
class SubmissionFilter:
    """Submission-level filters (the URL-level ones live in ``webtext.crawl.urls``)."""

    keep_self_posts: bool = False
    keep_nsfw: bool = False
    created_after: int | None = None  # inclusive, epoch seconds
    created_before: int | None = None  # exclusive
    subreddits: frozenset[str] = frozenset()  # lower-cased blocklist


def input_format(path: Path) -> str:
    """``text`` for one-URL-per-line files (``*.txt``, ``*.txt.gz``...), else ``json``."""
    name = Path(path).name.lower()
    if compression_of(Path(name)):
        name = name.rsplit(".", 1)[0]
    return "text" if name.endswith((".txt", ".urls", ".lst")) else "json"


def _json_error_reason(exc: orjson.JSONDecodeError) -> str:
    msg = str(exc)
    if "UTF-8" in msg:
        return "invalid_utf8"
    if "depth limit" in msg or "recursion" in msg:
        return "too_deep"
    return "invalid_json"


def _as_int(value: object) -> int | None:
    """An integer field: ints (not bools) and integral floats inside int64; else None."""
    t = type(value)
    if t is int:
        return value if -_INT64 <= value < _INT64 else None  # type: ignore[operator,return-value]
    if t is float and value.is_integer() and abs(value) < _INT64:  # type: ignore[union-attr,arg-type]
        return int(value)  # type: ignore[arg-type]
    return None


def read_submissions(path: Path, filt: SubmissionFilter, counts: Counter[str]) -> Iterator[Submission]:
    """Yield the submissions of one input file that pass ``filt``; count everything else."""
    reader = LineReader(Path(path), compression_of(Path(path)))
    if input_format(path) == "text":
        yield from _read_text(reader, counts)
        return
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    keep_self, keep_nsfw = filt.keep_self_posts, filt.keep_nsfw
    after, before, blocked = filt.created_after, filt.created_before, filt.subreddits
    lines = 0
    for line in reader:
        lines += 1
        if not line or line.isspace():
            counts["dropped_blank_line"] += 1
            continue
        try:
            rec = loads(line)
        except decode_error as exc:
            if reader.at_tail:
                raise ShardError(
                    "truncated input: the last line is an incomplete record", path=str(path), offset=reader.offset
                ) from exc
            counts["dropped_" + _json_error_reason(exc)] += 1
            continue
        if type(rec) is not dict:
            counts["dropped_not_object"] += 1
            continue
        if "url" in rec:
            url = rec["url"]
            if type(url) is not str:
                counts["dropped_bad_url_type"] += 1
                continue
            if "score" not in rec:
                counts["dropped_missing_score"] += 1
                continue
            score = _as_int(rec["score"])
            if score is None:
                counts["dropped_bad_score"] += 1
                continue
            created = _as_int(rec.get("created_utc"))
            if created is None:
                counts["dropped_bad_created_utc"] += 1
                continue
            if not keep_self and rec.get("is_self") is True:
                counts["dropped_self_post"] += 1
                continue
            if not keep_nsfw and rec.get("over_18") is True:
                counts["dropped_nsfw"] += 1
                continue
            if (after is not None and created < after) or (before is not None and created >= before):
                counts["dropped_created_out_of_range"] += 1
                continue
            sid = rec.get("id")
            sub = rec.get("subreddit")
            sid = sid if type(sid) is str else None
            sub = sub if type(sub) is str else None
        elif "u" in rec:  # {"u": url, "r": subreddit, "k": karma}
            url = rec["u"]
            if type(url) is not str:
                counts["dropped_bad_url_type"] += 1
                continue
            score = None
            if rec.get("k") is not None:
                score = _as_int(rec["k"])
                if score is None:
                    counts["dropped_bad_score"] += 1
                    continue
            sub = rec.get("r")
            sub = sub if type(sub) is str else None
            sid = created = None
        else:
            counts["dropped_missing_url"] += 1
            continue
        if blocked and sub is not None and sub.lower() in blocked:
            counts["dropped_subreddit_blocklist"] += 1
            continue
        yield url, score, sid, sub, created
    counts["lines"] += lines
    counts["bytes_read"] += Path(path).stat().st_size


def _read_text(reader: LineReader, counts: Counter[str]) -> Iterator[Submission]:
    lines = 0
    for line in reader:
        lines += 1
        text = line.strip()
        if not text or text.startswith(b"#"):
            counts["dropped_blank_line"] += 1
            continue
        try:
            url = text.decode("utf-8")
        except UnicodeDecodeError:
            counts["dropped_invalid_utf8"] += 1
            continue
        yield url, None, None, None, None
    counts["lines"] += lines
    counts["bytes_read"] += reader.path.stat().st_size
