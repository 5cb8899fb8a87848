"""Reddit submission dumps and URL lists -> rows of submissions, counting every line.

Reads, streamed block by block (a few MiB of whole lines at a time):
- Pushshift submission dumps (``RS_YYYY-MM`` and ``RS_v2_`` schemas), one JSON object per line;
- OpenWebText-style URL lists, JSON lines ``{"u": url, "r": subreddit, "k": karma}``;
- plain text URL lists, one URL per line (no karma), for files named ``*.txt``.

Two parsers feed one record filter (``_select``) and so give the same result. The fast one hands a
whole block to msgspec's ``decode_lines`` with a struct of the ten fields we read: the rest of a
~1.5 KB Pushshift record is validated but never built into Python objects, which is why it beats
``orjson.loads`` per line. It is taken only when msgspec accepts every line of the block, the
block is valid UTF-8 (msgspec does not check the strings it skips) and has no blank line. Any
other block goes through the line-by-line parser (orjson), which is the reference: every line
ends up in exactly one counter, ``kept`` by the caller or one ``dropped_<reason>`` here, so
``lines == kept_submissions + sum(dropped_*)``. A file cut off in the middle (compressed frame
open, or an unparsable unterminated last line) is a ``ShardError`` naming file and byte offset.
"""

from __future__ import annotations

import operator
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import orjson

from webtext import probes
from webtext.ahead import ahead
from webtext.crawl.streams import Lines, block_lines, compression_of, iter_blocks
from webtext.errors import ShardError

njit = probes.njit  # numba without its SciPy probes, cached kernels without its registries (webtext.probes)

if TYPE_CHECKING:
    import pyarrow as pa

#: (raw url, score or None, submission id or None, subreddit or None, created_utc or None)
Submission = tuple[str, int | None, str | None, str | None, int | None]

_INT64 = 2**63
_UNSET = msgspec.UNSET


class _Fields(msgspec.Struct, gc=False):
    """The fields of a record the stage reads; UNSET when the key is absent (not the same as null)."""

    url: Any = _UNSET
    score: Any = _UNSET
    created_utc: Any = _UNSET
    is_self: Any = _UNSET
    over_18: Any = _UNSET
    id: Any = _UNSET
    subreddit: Any = _UNSET
    u: Any = _UNSET  # URL lists: {"u": url, "r": subreddit, "k": karma}
    r: Any = _UNSET
    k: Any = _UNSET


class _Clean(msgspec.Struct, gc=False):
    """The usual submission, strictly typed: msgspec checks the types in C, and a block with any
    other record is decoded again as ``_Fields`` (same result, checked in Python)."""

    url: str
    score: int
    created_utc: int
    is_self: Any = _UNSET
    over_18: Any = _UNSET
    id: str | None = None
    subreddit: str | None = None


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


def _select(records: Iterable[_Fields], filt: SubmissionFilter, counts: Counter[str]) -> Iterator[Submission]:
    """The submissions among parsed ``records`` that pass ``filt``; every other one counted by reason."""
    keep_self, keep_nsfw = filt.keep_self_posts, filt.keep_nsfw
    after, before, blocked = filt.created_after, filt.created_before, filt.subreddits
    unset = _UNSET
    for rec in records:
        url = rec.url
        if url is not unset:
            if type(url) is not str:
                counts["dropped_bad_url_type"] += 1
                continue
            score = rec.score
            if score is unset:
                counts["dropped_missing_score"] += 1
                continue
            if type(score) is not int or not -_INT64 <= score < _INT64:
                score = _as_int(score)
                if score is None:
                    counts["dropped_bad_score"] += 1
                    continue
            created = rec.created_utc
            if type(created) is not int or not -_INT64 <= created < _INT64:
                created = _as_int(created)
                if created is None:
                    counts["dropped_bad_created_utc"] += 1
                    continue
            if not keep_self and rec.is_self is True:
                counts["dropped_self_post"] += 1
                continue
            if not keep_nsfw and rec.over_18 is True:
                counts["dropped_nsfw"] += 1
                continue
            if (after is not None and created < after) or (before is not None and created >= before):
                counts["dropped_created_out_of_range"] += 1
                continue
            sid = rec.id
            sub = rec.subreddit
            sid = sid if type(sid) is str else None
            sub = sub if type(sub) is str else None
        elif rec.u is not unset:
            url = rec.u
            if type(url) is not str:
                counts["dropped_bad_url_type"] += 1
                continue
            score = None
            if rec.k is not None and rec.k is not unset:
                score = _as_int(rec.k)
                if score is None:
                    counts["dropped_bad_score"] += 1
                    continue
            sub = rec.r
            sub = sub if type(sub) is str else None
            sid = created = None
        else:
            counts["dropped_missing_url"] += 1
            continue
        if blocked and sub is not None and sub.lower() in blocked:
            counts["dropped_subreddit_blocklist"] += 1
            continue
        yield url, score, sid, sub, created


def _parse_lines(lines: list[bytes], counts: Counter[str], *, partial_tail: bool, path: str,
                 offset: int) -> Iterator[_Fields]:
    """The reference parser: each line through ``orjson``; bad lines counted, records yielded."""
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    last = len(lines) - 1
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
        yield _Fields(**{k: rec[k] for k in _Fields.__struct_fields__ if k in rec})


def parse_json_lines(
    lines: Iterable[bytes], filt: SubmissionFilter, counts: Counter[str], *, partial_tail: bool = False,
    path: str = "", offset: int = 0,
) -> Iterator[Submission]:
    """Yield the submissions among ``lines`` that pass ``filt``; count every line.

    With ``partial_tail`` the last line had no newline at the end of the file: if it does not
    parse, the file was truncated (ShardError).
    """
    lines = list(lines)
    counts["lines"] += len(lines)
    yield from _select(_parse_lines(lines, counts, partial_tail=partial_tail, path=path, offset=offset), filt,
                       counts)


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
# The fast parser: a block at a time through msgspec


_CLEAN = msgspec.json.Decoder(_Clean)
_FIELDS = msgspec.json.Decoder(_Fields)


_U64 = np.uint64
_NEWLINES = _U64(0x0A0A0A0A0A0A0A0A)  # "\n" in every byte of a word
_LOW7 = _U64(0x7F7F7F7F7F7F7F7F)


@njit(inline="always")
def _popcount(x):  # pragma: no cover
    x = x - ((x >> _U64(1)) & _U64(0x5555555555555555))
    x = (x & _U64(0x3333333333333333)) + ((x >> _U64(2)) & _U64(0x3333333333333333))
    x = (x + (x >> _U64(4))) & _U64(0x0F0F0F0F0F0F0F0F)
    return (x * _U64(0x0101010101010101)) >> _U64(56)


@njit(inline="always")
def _is_json_whitespace(c) -> bool:  # pragma: no cover
    return c == 32 or c == 10 or c == 9 or c == 13


@njit(cache=True, nogil=True)
def _scan_words(data: np.ndarray) -> tuple[int, bool, bool]:  # pragma: no cover
    """``_scan_lines`` eight bytes at a time: a word's newlines found and counted without a
    branch per byte (the usual word has none), its high bits gathered for the ASCII check."""
    m = data.shape[0]
    if m == 0:
        return 0, False, True
    words = m // 8
    packed = data[: words * 8].view(np.uint64)
    n = 0
    odd = _is_json_whitespace(data[0])
    high = _U64(0)
    for i in range(words):
        w = packed[i]
        high |= w
        x = w ^ _NEWLINES
        hits = ~(((x & _LOW7) + _LOW7) | x | _LOW7)  # 0x80 in each byte that was "\n", exactly
        if hits:
            n += _popcount(hits)
            for b in range(8):
                j = i * 8 + b + 1
                if (hits >> _U64(8 * b + 7)) & _U64(1) and j < m and _is_json_whitespace(data[j]):
                    odd = True
    for j in range(words * 8, m):
        high |= _U64(data[j])
        if data[j] == 10:
            n += 1
            if j + 1 < m and _is_json_whitespace(data[j + 1]):
                odd = True
    return n, odd, (high & ~_LOW7) == 0


def _scan_lines(data: np.ndarray) -> tuple[int, bool, bool]:
    """(newlines in ``data``, whether a line starts with JSON whitespace: blank lines, which
    ``decode_lines`` skips, and indented ones, whether it is all ASCII), in one compiled pass."""
    n, odd, is_ascii = _scan_words(data)
    return int(n), bool(odd), bool(is_ascii)


def _block_shape(block: Lines) -> tuple[int, bool]:
    """(line count, whether ``decode_lines`` can take the block).

    ``decode_lines`` skips blank lines and accepts two documents on one line: a block is taken
    only if no line is blank (or starts with whitespace) and it decodes to as many documents as
    lines (then one per line). msgspec does not check the strings it skips: UTF-8 checked here."""
    n_lines, odd, is_ascii = _scan_lines(np.frombuffer(block.data, dtype=np.uint8)[block.start : block.stop])
    return n_lines, not odd and (is_ascii or block.is_utf8())


def _decode_block(block: Lines, decoder: msgspec.json.Decoder, n_lines: int) -> list | None:
    try:
        records = decoder.decode_lines(block.view())
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
    return records if len(records) == n_lines else None


def submission_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [("url_raw", pa.string()), ("score", pa.int64()), ("submission_id", pa.string()),
         ("subreddit", pa.string()), ("created_utc", pa.int64())]
    )


def _rows_table(rows: list[Submission]) -> pa.Table:
    import pyarrow as pa

    schema = submission_schema()
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.table([pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema)


def _int64s(values: list[Any], clean: bool) -> np.ndarray | None:
    """``values`` as int64 if every one is an int (not a bool; ``clean``: known) inside int64, else None."""
    if not clean and set(map(type, values)) != {int}:
        return None
    try:
        return np.fromiter(values, dtype=np.int64, count=len(values))
    except OverflowError:
        return None


def _is_true(values: list[Any]) -> np.ndarray:
    return np.fromiter(map(operator.is_, values, repeat(True)), dtype=bool, count=len(values))


_STR_OR_NONE = frozenset({str, type(None)})


def _select_columns(
    records: list[_Fields] | list[_Clean], filt: SubmissionFilter, counts: Counter[str], *, clean: bool = False
) -> pa.Table | None:
    """``_select`` a column at a time, for the usual block: every record a submission with a string
    ``url``, int ``score`` and ``created_utc``, str-or-null ``id``/``subreddit`` (checked here
    unless ``clean``: msgspec did). None otherwise (then ``_select`` runs record by record).
    C-level ``map`` loops: no Python frame per record."""
    import pyarrow as pa

    urls, scores, created_at, sids, subs = (list(map(attrgetter(name), records)) for name in
                                            ("url", "score", "created_utc", "id", "subreddit"))
    if not clean and (set(map(type, urls)) != {str} or not set(map(type, sids)) <= _STR_OR_NONE
                      or not set(map(type, subs)) <= _STR_OR_NONE):
        return None
    score, created = _int64s(scores, clean), _int64s(created_at, clean)
    if score is None or created is None:
        return None
    n = len(records)
    drops: list[tuple[str, np.ndarray]] = []
    if not filt.keep_self_posts:
        drops.append(("self_post", _is_true(list(map(attrgetter("is_self"), records)))))
    if not filt.keep_nsfw:
        drops.append(("nsfw", _is_true(list(map(attrgetter("over_18"), records)))))
    if filt.created_after is not None or filt.created_before is not None:
        out = np.zeros(n, dtype=bool)
        if filt.created_after is not None:
            out |= created < filt.created_after
        if filt.created_before is not None:
            out |= created >= filt.created_before
        drops.append(("created_out_of_range", out))
    if filt.subreddits:
        blocked = filt.subreddits
        drops.append(("subreddit_blocklist",
                      np.fromiter((s is not None and s.lower() in blocked for s in subs), bool, n)))
    alive = np.ones(n, dtype=bool)
    for reason, mask in drops:  # in ``_select``'s order: each record gets its first reason
        hit = mask & alive
        counts["dropped_" + reason] += int(hit.sum())
        alive &= ~hit
    table = pa.table(
        [pa.array(urls, pa.string()), pa.array(score), pa.array(sids, pa.string()), pa.array(subs, pa.string()),
         pa.array(created)],
        schema=submission_schema(),
    )
    return table if alive.all() else table.filter(pa.array(alive))


def _parse_block(block: Lines, filt: SubmissionFilter, counts: Counter[str]) -> pa.Table | None:
    """The kept submissions of a block through msgspec: strictly typed first, then as ``_Fields``
    checked in Python; None if it needs the line-by-line parser (nothing counted then)."""
    n_lines, decodable = _block_shape(block)
    if not decodable:
        return None
    records = _decode_block(block, _CLEAN, n_lines)
    table = None if records is None else _select_columns(records, filt, counts, clean=True)
    if table is None:
        records = _decode_block(block, _FIELDS, n_lines)
        if records is None:
            return None
        table = _select_columns(records, filt, counts)
        if table is None:
            table = _rows_table(list(_select(records, filt, counts)))
    counts["lines"] += n_lines
    return table


def read_submission_tables(
    path: Path, filt: SubmissionFilter, counts: Counter[str], block_bytes: int = 1 << 20
) -> Iterator[pa.Table]:
    """The kept submissions of one file (``submission_schema``), a block at a time; the same rows
    and counts as ``read_submissions``. Blocks of ~1 MiB stay in cache for the passes over them
    (2 MiB blocks took 5% less CPU on ``benchmarks/urls.py``, but its peak RSS grew by 17.7% from
    1M to 4M records instead of 5%)."""
    path = Path(path)
    text = input_format(path) == "text"
    # Read and decompressed in a thread (the decompressor releases the GIL) while this one parses: on
    # benchmarks/urls.py that was a sixth of a map task's time on its critical path.
    for block, partial, offset in ahead(iter_blocks(path, compression_of(path), block_bytes), name="dump-reader"):
        if text:
            yield _rows_table(list(parse_text_lines(block_lines(block), counts)))
            continue
        table = None if partial else _parse_block(block, filt, counts)
        if table is None:
            table = _rows_table(list(parse_json_lines(block_lines(block), filt, counts, partial_tail=partial,
                                                      path=str(path), offset=offset)))
        yield table
    counts["bytes_read"] += path.stat().st_size
