"""URL filtering of a whole Arrow column at once: the one fast path of ``UrlFilter`` (the reference).

Most submission URLs are plain ASCII already close to normal form (no escapes, port, credentials
or dot segments). For those, every step of ``webtext.crawl.urls`` is done with Arrow's compute
kernels over the column (RE2 extraction, lower-casing, query split/filter/sort/join), the host
blocklists are consulted once per distinct host and the extension list once per column. Every
other URL goes through ``UrlFilter.__call__`` one at a time (with a memo: reposts are common).
Both give the same (url, domain, drop reason) for every input: property-tested.

The bucket hash of a kept URL (``crc32`` of its UTF-8 bytes, as ``zlib.crc32``) is computed here
too, by a compiled loop over the column's buffers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from webtext import probes
from webtext.crawl.urls import TRACKING_PARAMS, TRACKING_PREFIXES, UrlFilter, UrlRejected
from webtext.strings import string_buffers

njit = probes.njit  # numba without its SciPy probes, cached kernels without its registries (webtext.probes)

if TYPE_CHECKING:
    import pyarrow as pa

_MEMO_MAX = 200_000


def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table[i] = c
    return table


_CRC_TABLE = _crc_table()


@njit(cache=True, nogil=True)
def _crc32_strings(offsets: np.ndarray, data: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover
    out = np.empty(len(offsets) - 1, dtype=np.uint32)
    for i in range(len(offsets) - 1):
        c = np.uint32(0xFFFFFFFF)
        for j in range(offsets[i], offsets[i + 1]):
            c = table[(c ^ data[j]) & 0xFF] ^ (c >> 8)
        out[i] = c ^ np.uint32(0xFFFFFFFF)
    return out


def crc32_column(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``zlib.crc32`` of each string's UTF-8 bytes (nulls hash as empty strings)."""
    data, offsets = string_buffers(strings)
    return _crc32_strings(offsets, data, _CRC_TABLE)


def _normalise_queries(query: pa.Array) -> pa.Array:
    """``urls._normalise_query`` for plain queries: tracking parameters out, sorted by name."""
    import pyarrow as pa
    import pyarrow.compute as pc

    params = pc.split_pattern(query, "&")
    flat = pc.list_flatten(params)
    parent = pc.list_parent_indices(params)
    name = pc.struct_field(pc.extract_regex(flat, r"^(?P<k>[^=]*)"), [0])
    key = pc.ascii_lower(pc.replace_substring_regex(name, r"^\?+", ""))
    tracking = pc.is_in(key, pa.array(sorted(TRACKING_PARAMS), pa.string()))
    for prefix in TRACKING_PREFIXES:
        tracking = pc.or_(tracking, pc.starts_with(key, prefix))
    keep = pc.and_(pc.not_equal(flat, ""), pc.invert(tracking))
    position = pa.array(np.arange(len(flat), dtype=np.int64))
    kept = pa.table({"parent": parent, "name": name, "position": position, "value": flat}).filter(keep)
    kept = kept.sort_by([("parent", "ascending"), ("name", "ascending"), ("position", "ascending")])
    counts = np.bincount(kept["parent"].to_numpy(), minlength=len(query))
    offsets = np.zeros(len(query) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), kept["value"].combine_chunks())
    return pc.binary_join(lists, "&")


def _byte_class(chars: bytes) -> np.ndarray:
    table = np.zeros(256, dtype=np.bool_)
    table[np.frombuffer(chars, dtype=np.uint8)] = True
    return table


_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LABEL = _byte_class(_ALNUM + b"_-")  # a plain URL's host label characters
_PATH = _byte_class(_ALNUM + b"-._~!$&'()*+,;=:@/")  # ... its path characters (and query, without "?")


@njit(cache=True, nogil=True)
def _put(out: np.ndarray, at: int, data: np.ndarray, start: int, stop: int, lower: bool) -> int:  # pragma: no cover
    for j in range(start, stop):
        c = data[j]
        out[at] = c + 32 if lower and 65 <= c <= 90 else c
        at += 1
    return at


@njit(cache=True, nogil=True)
def _put_unescaped(out: np.ndarray, at: int, data: np.ndarray, start: int, stop: int) -> int:  # pragma: no cover
    """Copy with ``&amp;`` (repeated: ``&amp;amp;``) as ``&``, as ``normalise_url`` unescapes it."""
    j = start
    while j < stop:
        c = data[j]
        out[at] = c
        at += 1
        j += 1
        if c == 38:
            while j + 4 <= stop and data[j] == 97 and data[j + 1] == 109 and data[j + 2] == 112 and data[j + 3] == 59:
                j += 4
    return at


@njit(cache=True, nogil=True)
def _parse_plain(offsets: np.ndarray, data: np.ndarray, short: np.ndarray, label: np.ndarray,
                 path_chars: np.ndarray):  # pragma: no cover
    """Plain URLs, recognised without backtracking: ``http(s)://`` in any case, host labels of
    ``[A-Za-z0-9_-]`` joined by dots, an optional path and query of characters that need no
    escaping (no ``%``, port, credentials or dot segments), an optional fragment; other rows go to
    ``UrlFilter``. For the rows that match (``ok``):
    ``scheme://host[:port]path`` lower-cased where URLs are case-insensitive, the host, the
    domain, the query and the lower-cased extension of the last path segment, as (offsets, bytes)
    columns. ``&amp;`` is unescaped in path and query (the only parts whose characters it uses,
    so matching before or after unescaping is the same)."""
    n = len(offsets) - 1
    ok = np.zeros(n, dtype=np.bool_)
    size = len(data) + 8 * n
    base, host, domain, query, ext = (np.empty(size, np.uint8), np.empty(size, np.uint8), np.empty(size, np.uint8),
                                      np.empty(size, np.uint8), np.empty(size, np.uint8))
    # Offsets of the matching rows only (m + 1 of them): the columns come out compacted.
    base_off, host_off, domain_off, query_off, ext_off = (np.zeros(n + 1, np.int32), np.zeros(n + 1, np.int32),
                                                          np.zeros(n + 1, np.int32), np.zeros(n + 1, np.int32),
                                                          np.zeros(n + 1, np.int32))
    nb = nh = nd = nq = ne = m = 0
    for i in range(n):
        a, b = offsets[i], offsets[i + 1]
        if not short[i] or b - a < 8 or (data[a] | 32) != 104 or (data[a + 1] | 32) != 116:
            continue
        if (data[a + 2] | 32) != 116 or (data[a + 3] | 32) != 112:
            continue
        k = a + 4
        https = (data[k] | 32) == 115
        if https:
            k += 1
        if k + 3 > b or data[k] != 58 or data[k + 1] != 47 or data[k + 2] != 47:
            continue
        scheme_end = k
        k += 3
        h0 = k
        good = True
        while True:  # labels separated by single dots
            start = k
            while k < b and label[data[k]]:
                k += 1
            if k == start:
                good = False
                break
            if k < b and data[k] == 46 and k + 1 < b and label[data[k + 1]]:
                k += 1
                continue
            break
        if not good or k - h0 > 253:
            continue
        h1 = k
        port = -1
        if k < b and data[k] == 58:
            k += 1
            p0 = k
            port = 0
            while k < b and 48 <= data[k] <= 57 and k - p0 < 6:
                port = port * 10 + (data[k] - 48)
                k += 1
            if k == p0 or k - p0 > 5 or port > 65535:
                continue
        p0 = k
        if k < b and data[k] == 47:
            while k < b and path_chars[data[k]]:
                if data[k] == 46 and data[k - 1] == 47:  # "/." : dot segments, general path
                    good = False
                k += 1
        if not good:
            continue
        p1 = k
        q0 = q1 = k
        if k < b and data[k] == 63:
            k += 1
            q0 = k
            while k < b and path_chars[data[k]]:
                k += 1
            q1 = k
        if k < b and data[k] == 35:
            k += 1
            while k < b and data[k] >= 32 and data[k] != 127:
                k += 1
        if k != b:
            continue
        ok[i] = True
        nb = _put(base, nb, data, a, scheme_end + 3, True)
        nb = _put(base, nb, data, h0, h1, True)
        if port >= 0 and port != (443 if https else 80):
            base[nb] = 58
            nb += 1
            digits = np.zeros(5, np.uint8)
            nd_ = 0
            v = port
            while True:
                digits[nd_] = 48 + v % 10
                nd_ += 1
                v //= 10
                if v == 0:
                    break
            for j in range(nd_ - 1, -1, -1):
                base[nb] = digits[j]
                nb += 1
        path_at = nb
        if p1 > p0:
            nb = _put_unescaped(base, nb, data, p0, p1)
        else:
            base[nb] = 47
            nb += 1
        nh = _put(host, nh, data, h0, h1, True)
        www = h1 - h0 > 4 and (data[h0] | 32) == 119 and (data[h0 + 1] | 32) == 119 and (data[h0 + 2] | 32) == 119
        nd = _put(domain, nd, data, h0 + 4 if www and data[h0 + 3] == 46 else h0, h1, True)
        nq = _put_unescaped(query, nq, data, q0, q1)
        slash = nb - 1  # the extension, from the path as written
        while slash >= path_at and base[slash] != 47:
            slash -= 1
        dot = nb - 1
        while dot > slash and base[dot] != 46:
            dot -= 1
        if dot > slash:
            ne = _put(ext, ne, base, dot + 1, nb, True)
        m += 1
        base_off[m], host_off[m], domain_off[m], query_off[m], ext_off[m] = nb, nh, nd, nq, ne
    return (ok, (base_off[: m + 1], base[:nb]), (host_off[: m + 1], host[:nh]), (domain_off[: m + 1], domain[:nd]),
            (query_off[: m + 1], query[:nq]), (ext_off[: m + 1], ext[:ne]))


def _strings(column: tuple[np.ndarray, np.ndarray]) -> pa.Array:
    import pyarrow as pa

    offsets, data = column
    return pa.StringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def _fast_rows(raw: pa.Array, ufilter: UrlFilter) -> tuple[np.ndarray, pa.Array, pa.Array, pa.Array]:
    """(row indices, url, domain, drop reason) for the rows the vectorised path takes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    short = pc.fill_null(pc.less_equal(pc.utf8_length(raw), ufilter.max_length), False)
    data, offsets = string_buffers(raw)
    ok, *columns = _parse_plain(offsets, data, short.to_numpy(zero_copy_only=False), _LABEL, _PATH)
    rows = np.flatnonzero(ok)
    url, host, domain, query, ext = (_strings(c) for c in columns)
    has_query = pc.not_equal(query, "")
    if pc.any(has_query).as_py():  # only these rows go through the query kernels
        joined = _normalise_queries(query.filter(has_query))
        tail = pc.if_else(pc.equal(joined, ""), "", pc.binary_join_element_wise("?", joined, ""))
        url = pc.replace_with_mask(url, has_query, pc.binary_join_element_wise(url.filter(has_query), tail, ""))
    hosts = pc.dictionary_encode(host)
    reason = pa.array([ufilter.host_reason(h) for h in hosts.dictionary.to_pylist()], pa.string()).take(hosts.indices)
    if ufilter.extensions is not None:
        blocked = pc.is_in(ext, pa.array(sorted(ufilter.extensions.entries), pa.string()))
        blocked = pc.and_(pc.and_(blocked, pc.not_equal(ext, "")), pc.is_null(reason))
        reason = pc.if_else(blocked, "extension_blocklist", reason)
    return rows, url, domain, reason


def filter_url_column(
    raw: pa.Array, ufilter: UrlFilter, memo: dict[str, tuple[str, str] | str] | None = None
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(url, domain, drop reason) per raw URL: url/domain null where dropped, reason null where kept.

    ``memo`` (raw URL -> (url, domain) or reason) carries the one-at-a-time results across calls.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    memo = {} if memo is None else memo
    if len(memo) > _MEMO_MAX:
        memo.clear()
    fast, url, domain, reason = _fast_rows(raw, ufilter)
    slow = np.setdiff1d(np.arange(len(raw)), fast, assume_unique=True)
    if len(slow):
        s_url: list[str | None] = []
        s_domain: list[str | None] = []
        s_reason: list[str | None] = []
        for text in raw.take(pa.array(slow)).to_pylist():
            hit = memo.get(text)
            if hit is None:
                try:
                    hit = ufilter(text)
                except UrlRejected as exc:
                    hit = exc.reason
                memo[text] = hit
            if type(hit) is str:
                s_url.append(None)
                s_domain.append(None)
                s_reason.append(hit)
            else:
                s_url.append(hit[0])
                s_domain.append(hit[1])
                s_reason.append(None)
        # Back to input order: row fast[k] is value k, row slow[k] is value len(fast) + k.
        where = np.empty(len(raw), dtype=np.int64)
        where[fast] = np.arange(len(fast))
        where[slow] = len(fast) + np.arange(len(slow))
        order = pa.array(where)
        url = pa.concat_arrays([url, pa.array(s_url, pa.string())]).take(order)
        domain = pa.concat_arrays([domain, pa.array(s_domain, pa.string())]).take(order)
        reason = pa.concat_arrays([reason, pa.array(s_reason, pa.string())]).take(order)
    dropped = pc.is_valid(reason)
    if reason.null_count == len(reason):
        return url, domain, reason
    null = pa.scalar(None, pa.string())
    return pc.if_else(dropped, null, url), pc.if_else(dropped, null, domain), reason
