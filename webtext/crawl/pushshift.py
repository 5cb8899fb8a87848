"""Reddit submission dumps and URL lists -> tables of submissions, counting every line.

Reads, streamed block by block (a few MiB of whole lines at a time):
- Pushshift submission dumps (``RS_YYYY-MM`` and ``RS_v2_`` schemas), one JSON object per line;
- OpenWebText-style URL lists, JSON lines ``{"u": url, "r": subreddit, "k": karma}``;
- plain text URL lists, one URL per line (no karma), for files named ``*.txt``.

Two parsers give the same result. The fast one hands a whole block to Arrow's JSON reader with
an explicit schema of the seven fields we use and applies the submission filters as vectorised
masks; it is taken only when every line of the block is a clean submission (a string ``url``,
integer ``score`` and ``created_utc``). Any other block — junk lines, URL lists, odd types — goes
through the line-by-line parser (orjson), which is the reference: every line ends up in exactly
one counter, ``kept`` by the caller or one ``dropped_<reason>`` here, so
``lines == kept_submissions + sum(dropped_*)``. A file cut off in the middle (compressed frame
open, or an unparsable unterminated last line) is a ``ShardError`` naming file and byte offset.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from webtext.crawl.streams import block_lines, compression_of, iter_blocks
from webtext.errors import ShardError

if TYPE_CHECKING:
    import pyarrow as pa

#: (raw url, score or None, submission id or None, subreddit or None, created_utc or None)
Submission = tuple[str, int | None, str | None, str | None, int | None]
SUBMISSION_COLUMNS = ("url_raw", "score", "submission_id", "subreddit", "created_utc")

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


def submission_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [("url_raw", pa.string()), ("score", pa.int64()), ("submission_id", pa.string()),
         ("subreddit", pa.string()), ("created_utc", pa.int64())]
    )


# ---------------------------------------------------------------------------------------------
# The reference parser: one line at a time


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


def parse_json_lines(
    lines: Iterable[bytes], filt: SubmissionFilter, counts: Counter[str], *, partial_tail: bool = False,
    path: str = "", offset: int = 0,
) -> Iterator[Submission]:
    """Yield the submissions among ``lines`` that pass ``filt``; count every line.

    With ``partial_tail`` the last line had no newline at the end of the file: if it does not
    parse, the file was truncated (ShardError).
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    keep_self, keep_nsfw = filt.keep_self_posts, filt.keep_nsfw
    after, before, blocked = filt.created_after, filt.created_before, filt.subreddits
    lines = list(lines)
    last = len(lines) - 1
    counts["lines"] += len(lines)
    for i, line in enumerate(lines):
        if not line or line.isspace():
            counts["dropped_blank_line"] += 1
            continue
        try:
            rec = loads(line)
        except decode_error as exc:
            if partial_tail and i == last:
                raise ShardError("truncated input: the last line is an incomplete record", path=path,
                                 offset=offset) from exc
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


def parse_text_lines(lines: Iterable[bytes], counts: Counter[str]) -> Iterator[Submission]:
    """One URL per line; blank lines and ``#`` comments are counted as blank."""
    for line in lines:
        counts["lines"] += 1
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


def read_submissions(path: Path, filt: SubmissionFilter, counts: Counter[str]) -> Iterator[Submission]:
    """Every kept submission of one file, one at a time, through the reference parser."""
    path = Path(path)
    text = input_format(path) == "text"
    for block, partial, offset in iter_blocks(path, compression_of(path)):
        lines = block_lines(block)
        if text:
            yield from parse_text_lines(lines, counts)
        else:
            yield from parse_json_lines(lines, filt, counts, partial_tail=partial, path=str(path), offset=offset)
    counts["bytes_read"] += path.stat().st_size


# ---------------------------------------------------------------------------------------------
# The fast parser: a block at a time through Arrow


def _arrow_parse_options():
    import pyarrow as pa
    import pyarrow.json as pj

    schema = pa.schema(
        [("url", pa.string()), ("score", pa.int64()), ("created_utc", pa.int64()), ("is_self", pa.bool_()),
         ("over_18", pa.bool_()), ("id", pa.string()), ("subreddit", pa.string()), ("u", pa.string())]
    )
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")


def _parse_block_arrow(block: bytes, n_lines: int, filt: SubmissionFilter, counts: Counter[str], options):
    """The block as a submissions table, or None if it needs the line-by-line parser."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    try:
        t = pj.read_json(
            pa.BufferReader(block),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(block) + 1),
            parse_options=options,
        )
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    if (
        t.num_rows != n_lines
        or t["url"].null_count
        or t["score"].null_count
        or t["created_utc"].null_count
        or t["u"].null_count != t.num_rows
    ):
        return None
    counts["lines"] += n_lines
    alive = None
    masks: list[tuple[str, pa.ChunkedArray]] = []
    if not filt.keep_self_posts:
        masks.append(("self_post", pc.fill_null(t["is_self"], False)))
    if not filt.keep_nsfw:
        masks.append(("nsfw", pc.fill_null(t["over_18"], False)))
    created = t["created_utc"]
    if filt.created_after is not None or filt.created_before is not None:
        out = pc.less(created, filt.created_after) if filt.created_after is not None else None
        if filt.created_before is not None:
            late = pc.greater_equal(created, filt.created_before)
            out = late if out is None else pc.or_(out, late)
        masks.append(("created_out_of_range", out))
    if filt.subreddits:
        blocked = pa.array(sorted(filt.subreddits), pa.string())
        masks.append(("subreddit_blocklist", pc.fill_null(pc.is_in(pc.utf8_lower(t["subreddit"]), blocked), False)))
    for reason, mask in masks:  # in the reference parser's order: each line gets one reason
        hit = mask if alive is None else pc.and_(mask, alive)
        counts["dropped_" + reason] += pc.sum(hit.cast(pa.int64())).as_py() or 0
        alive = pc.invert(mask) if alive is None else pc.and_(alive, pc.invert(mask))
    if alive is not None:
        t = t.filter(alive)
    return pa.table(
        [t["url"], t["score"], t["id"], t["subreddit"], t["created_utc"]], schema=submission_schema()
    )


def _table(rows: list[Submission]):
    import pyarrow as pa

    schema = submission_schema()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.table([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


def read_submission_tables(
    path: Path, filt: SubmissionFilter, counts: Counter[str], block_bytes: int = 4 << 20
) -> Iterator[pa.Table]:
    """The kept submissions of one file as Arrow tables (``SUBMISSION_COLUMNS``), block by block."""
    path = Path(path)
    text = input_format(path) == "text"
    options = _arrow_parse_options()
    for block, partial, offset in iter_blocks(path, compression_of(path), block_bytes):
        if text:
            yield _table(list(parse_text_lines(block_lines(block), counts)))
            continue
        n_lines = block.count(b"\n") + (1 if partial else 0)
        table = None if partial else _parse_block_arrow(block, n_lines, filt, counts, options)
        if table is None:
            rows = parse_json_lines(block_lines(block), filt, counts, partial_tail=partial, path=str(path),
                                    offset=offset)
            table = _table(list(rows))
        yield table
    counts["bytes_read"] += path.stat().st_size
