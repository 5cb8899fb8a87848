"""Compiled (numba) loops of the contamination stage: GPT-2 n-gram hashing, the benchmark n-gram
table, the corpus scan and the Bloom filter. ``webtext.contamination.ngrams`` holds the plain
Python definitions they must agree with."""

from __future__ import annotations

import numpy as np

from webtext import probes
from webtext.dedup.kernels import COMBINE_SEED, FNV_OFFSET, FNV_PRIME, GOLDEN, fmix64

njit = probes.njit  # numba without its SciPy probes, cached kernels without its registries (webtext.probes)

U64 = np.uint64
EMPTY = U64(0)  # table slots hold hash | 1, so 0 marks a free slot


@njit(inline="always")
def _is_word_byte(c):
    return (97 <= c <= 122) or (48 <= c <= 57)  # [a-z0-9] of the lower-cased text


@njit(cache=True, nogil=True)
def ngram_hashes(buf, offsets, n, out, counts):
    """64-bit hashes of the word ``n``-grams of each text ``buf[offsets[d]:offsets[d+1]]`` (UTF-8),
    written to ``out`` text after text; ``counts[d]`` = how many came from text d. N-grams never
    span two texts. Returns the total.

    Words are the runs of ``[a-z0-9]`` of ``text.lower()``, computed on the bytes: ``A-Z`` lower-
    cased here, and the only two other characters whose lower case holds one of those letters
    (checked over all of Unicode): KELVIN SIGN (U+212A) -> ``k``, and U+0130 -> ``i`` + U+0307,
    which ends the word. No lower-cased copy of the text is made."""
    longest = 0
    for d in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[d + 1] - offsets[d])
    words = np.empty(longest // 2 + 2, dtype=np.uint64)
    pos = 0
    for d in range(offsets.shape[0] - 1):
        nw = 0
        h = FNV_OFFSET
        in_word = False
        i = offsets[d]
        end = offsets[d + 1]
        while i < end:
            c = buf[i]
            i += 1
            if 65 <= c <= 90:
                c += 32
            if _is_word_byte(c):
                h = (h ^ U64(c)) * FNV_PRIME
                in_word = True
                continue
            if c == 0xE2 and i + 1 < end and buf[i] == 0x84 and buf[i + 1] == 0xAA:  # U+212A -> "k"
                h = (h ^ U64(107)) * FNV_PRIME
                in_word = True
                i += 2
                continue
            if c == 0xC4 and i < end and buf[i] == 0xB0:  # U+0130 -> "i" + U+0307 (a separator)
                words[nw] = (h ^ U64(105)) * FNV_PRIME
                nw += 1
                h = FNV_OFFSET
                in_word = False
                i += 1
                continue
            if in_word:
                words[nw] = h
                nw += 1
                h = FNV_OFFSET
                in_word = False
        if in_word:
            words[nw] = h
            nw += 1
        count = max(nw - n + 1, 0)
        for s in range(count):
            g = COMBINE_SEED
            for t in range(n):
                g = (g + words[s + t]) * GOLDEN
            out[pos + s] = fmix64(g ^ U64(n))
        counts[d] = count
        pos += count
    return pos


@njit(cache=True, nogil=True)
def table_build(keys, masks, capacity):
    """Open-addressing table (linear probing, ``capacity`` a power of two) of ``keys`` -> OR of
    their ``masks`` (one bit per benchmark)."""
    slots = np.zeros(capacity, dtype=np.uint64)
    values = np.zeros(capacity, dtype=np.uint64)
    mask = U64(capacity - 1)
    for i in range(keys.shape[0]):
        k = keys[i] | U64(1)
        j = k & mask
        while slots[j] != EMPTY and slots[j] != k:
            j = (j + U64(1)) & mask
        slots[j] = k
        values[j] |= masks[i]
    return slots, values


@njit(inline="always")
def _slot_of(slots, k):
    mask = U64(slots.shape[0] - 1)
    j = k & mask
    while True:
        s = slots[j]
        if s == k:
            return np.int64(j)
        if s == EMPTY:
            return np.int64(-1)
        j = (j + U64(1)) & mask


@njit(cache=True, nogil=True)
def table_lookup(slots, hashes):
    """Slot of each hash in the table, -1 where absent."""
    out = np.empty(hashes.shape[0], dtype=np.int64)
    for i in range(hashes.shape[0]):
        out[i] = _slot_of(slots, hashes[i] | U64(1))
    return out


@njit(cache=True, nogil=True)
def presence_bits(slots, shift):
    """A one-hash bitset of the table's keys, bit ``key >> shift`` (the table's slot comes from the
    low bits, this from the high ones): 8 bits per slot, small enough to stay in cache, so that most
    corpus n-grams -- absent from every benchmark -- are ruled out without touching the table."""
    bits = np.zeros(max((slots.shape[0] * 8) >> 6, 1), dtype=np.uint64)
    for j in range(slots.shape[0]):
        k = slots[j]
        if k != EMPTY:
            p = k >> U64(shift)
            bits[p >> U64(6)] |= U64(1) << (p & U64(63))
    return bits


@njit(cache=True, nogil=True)
def scan_documents(hashes, counts, slots, values, presence, shift, n_bench, first_doc, found, doc_freq, last_doc,
                   hits):
    """For each document's n-grams: per-benchmark hit counts (``hits[d, b]``), which table slots
    occur anywhere (``found``), and in how many documents each slot occurs (``doc_freq``;
    ``last_doc`` remembers the last document counted per slot, global numbering from
    ``first_doc``). ``presence``/``shift``: ``presence_bits`` of the table."""
    pos = 0
    for d in range(counts.shape[0]):
        doc = first_doc + d
        for i in range(pos, pos + counts[d]):
            k = hashes[i] | U64(1)
            p = k >> U64(shift)
            if not (presence[p >> U64(6)] >> (p & U64(63))) & U64(1):
                continue
            j = _slot_of(slots, k)
            if j < 0:
                continue
            found[j] = True
            if last_doc[j] != doc:
                last_doc[j] = doc
                doc_freq[j] += 1
            v = values[j]
            for b in range(n_bench):
                if (v >> U64(b)) & U64(1):
                    hits[d, b] += 1
        pos += counts[d]


@njit(cache=True, nogil=True)
def fill_moments(block, k_block, throws):
    """``E[(X_t / block) ** k_block]`` for t = 0..throws, X_t the set bits of a ``block``-bit block
    after t uniformly random bit throws: the occupancy distribution pushed forward throw by throw."""
    x = np.arange(block + 1).astype(np.float64)
    stay = x / block
    frac = stay ** k_block
    dist = np.zeros(block + 1)
    nxt = np.zeros(block + 1)
    dist[0] = 1.0
    out = np.empty(throws + 1)
    for t in range(throws + 1):
        acc = 0.0
        for j in range(block + 1):
            acc += dist[j] * frac[j]
        out[t] = acc
        nxt[0] = dist[0] * stay[0]
        for j in range(1, block + 1):
            nxt[j] = dist[j] * stay[j] + dist[j - 1] * (1.0 - stay[j - 1])
        dist, nxt = nxt, dist
    return out


BLOCK_BITS = 512  # one 64-byte cache line
BLOCK_WORDS = 8
BLOCKS_PER_ITEM = 2  # an item's bits lie in 2 blocks: 2 memory accesses, ~1.15x the bits of a classic filter
WINDOW = 1024  # the second block lies within this many blocks after the first (64 KiB)
PARTITION_BITS = 12  # insert order: items sorted by the top bits of their first block (4096 ranges)
MAX_RUNS = 1024  # more sorted runs than this in one ``bloom_insert`` call: inserted in the given order
_SEED1 = U64(0x9E3779B97F4A7C15)
_SEED2 = U64(0x3C6EF372FE94F82A)  # 2 * _SEED1 mod 2**64
_STREAM = U64(0xD6E8FEB86659FD93)


@njit(inline="always")
def _block(h, nblocks):
    return ((h >> U64(32)) * nblocks) >> U64(32)  # multiply-shift: uniform over nblocks < 2**32, monotone in h


@njit(inline="always")
def _first(h):
    return fmix64(h ^ _SEED1)


@njit(inline="always")
def _span(nblocks):
    """How many blocks after the first one the second may be in (computed once per call: a
    generic ``min`` inside the loop doubled the insert time)."""
    return U64(WINDOW) if nblocks - U64(1) > U64(WINDOW) else nblocks - U64(1)


@njit(inline="always")
def _positions(g0, h, r, k_block, nblocks, span, pos):
    """Block (word offset) of the item's ``r``-th block and its ``k_block`` bit positions in it;
    ``g0 = _first(h)``, ``span = _span(nblocks)``.

    Block 0 is uniform over the filter; block 1 uniform over the ``WINDOW`` blocks after it
    (wrapping): each block still receives a Poisson number of items and the two blocks of an item
    are distinct, as the false-positive formula assumes, while both lie close together, so that
    inserting items in block order (``partition_order``) walks the filter through the cache. Bit
    positions are independent 9-bit fields of a stream of mixed 64-bit words (7 per word)."""
    b = _block(g0, nblocks)
    if r:
        if span > U64(0):  # multiply-shift, not %: a 64-bit division costs as much as the rest
            b += U64(1) + (((g0 & U64(0xFFFFFFFF)) * span) >> U64(32))
            if b >= nblocks:
                b -= nblocks
        g = fmix64(h ^ _SEED2)
    else:
        g = g0
    word = fmix64(g + _STREAM)
    used = 0
    for t in range(k_block):
        if used == 7:
            word = fmix64(word + _STREAM)
            used = 0
        pos[t] = (word >> U64(9 * used)) & U64(511)
        used += 1
    return b * U64(BLOCK_WORDS)


@njit(cache=True, nogil=True)
def bloom_insert(bits, nblocks, k_block, hashes, first_block):
    """Set each item's ``k_block`` bits in each of its 2 blocks.

    ``bits`` holds the filter's blocks from ``first_block`` on (wrapping): the whole filter, or the
    slice a worker builds, which must cover every block of ``hashes`` (``bloom.slice_blocks``).
    ``hashes`` made of runs in ``partition_order`` (each run non-decreasing in partition) are
    inserted partition by partition across all runs, so every insert lands in the stretch of the
    filter that is in cache; any other order works too, only slower."""
    pos = np.empty(k_block, dtype=np.uint64)
    span = _span(nblocks)
    # word offset of the slice, and where the filter wraps in it
    lo = U64(first_block) * U64(BLOCK_WORDS)
    wrap = nblocks * U64(BLOCK_WORDS)
    n = hashes.shape[0]
    shift = U64(64 - PARTITION_BITS)
    starts = np.empty(MAX_RUNS + 1, dtype=np.int64)  # runs: maximal stretches whose partition does not decrease
    starts[0] = 0
    runs = 1
    prev = U64(0)
    for i in range(n):
        key = _first(hashes[i]) >> shift
        if i and key < prev:
            if runs == MAX_RUNS:
                runs += 1
                break
            starts[runs] = i
            runs += 1
        prev = key
    if runs > MAX_RUNS:  # not in partition order: plain order
        for i in range(n):
            h = hashes[i]
            g0 = _first(h)
            for r in range(BLOCKS_PER_ITEM):  # (written out twice: an inlined helper ran 2x slower)
                base = _positions(g0, h, r, k_block, nblocks, span, pos)
                base = base - lo if base >= lo else base + wrap - lo
                for t in range(k_block):
                    bits[base + (pos[t] >> U64(6))] |= U64(1) << (pos[t] & U64(63))
        return
    starts[runs] = n
    at = np.empty(runs, dtype=np.int64)
    for r in range(runs):
        at[r] = starts[r]
    for p in range(1 << PARTITION_BITS):
        for r in range(runs):
            i = at[r]
            end = starts[r + 1]
            while i < end:
                h = hashes[i]
                g0 = _first(h)
                if (g0 >> shift) != U64(p):
                    break
                for q in range(BLOCKS_PER_ITEM):
                    base = _positions(g0, h, q, k_block, nblocks, span, pos)
                    base = base - lo if base >= lo else base + wrap - lo
                    for t in range(k_block):
                        bits[base + (pos[t] >> U64(6))] |= U64(1) << (pos[t] & U64(63))
                i += 1
            at[r] = i


@njit(cache=True, nogil=True)
def bloom_query(bits, nblocks, k_block, hashes):
    """Whether each hash may be in the filter (all its bits set)."""
    out = np.empty(hashes.shape[0], dtype=np.bool_)
    pos = np.empty(k_block, dtype=np.uint64)
    span = _span(nblocks)
    for i in range(hashes.shape[0]):
        h = hashes[i]
        g0 = _first(h)
        hit = True
        for r in range(BLOCKS_PER_ITEM):
            base = _positions(g0, h, r, k_block, nblocks, span, pos)
            for t in range(k_block):
                if not (bits[base + (pos[t] >> U64(6))] >> (pos[t] & U64(63))) & U64(1):
                    hit = False
                    break
            if not hit:
                break
        out[i] = hit
    return out


@njit(cache=True, nogil=True)
def partition_order(hashes):
    """(``hashes`` reordered by the top ``PARTITION_BITS`` of their first block's hash, where each
    partition starts: ``2**PARTITION_BITS + 1`` offsets): a counting sort, two passes. The block
    index is monotone in those bits for every filter size, so the inserts of one range of
    partitions land in one stretch of the filter."""
    parts = 1 << PARTITION_BITS
    shift = U64(64 - PARTITION_BITS)
    starts = np.zeros(parts + 1, dtype=np.int64)
    for i in range(hashes.shape[0]):
        starts[np.int64(_first(hashes[i]) >> shift) + 1] += 1
    for p in range(parts):
        starts[p + 1] += starts[p]
    bounds = starts.copy()
    out = np.empty_like(hashes)
    for i in range(hashes.shape[0]):
        p = np.int64(_first(hashes[i]) >> shift)
        out[starts[p]] = hashes[i]
        starts[p] += 1
    return out, bounds


HLL_BITS = 14  # 16,384 registers: standard error 1.04 / 128 = 0.8 %


@njit(cache=True, nogil=True)
def hll_add(registers, hashes):
    """HyperLogLog update with (already mixed) 64-bit hashes: register = top ``HLL_BITS`` bits,
    rank = 1 + leading zeros of the rest."""
    shift = U64(64 - HLL_BITS)
    guard = U64(1) << U64(HLL_BITS - 1)  # the rank never exceeds 64 - HLL_BITS + 1
    for i in range(hashes.shape[0]):
        h = hashes[i]
        w = (h << U64(HLL_BITS)) | guard
        rank = 1  # 1 + leading zeros of w, by halving (no loop per zero bit)
        if w < U64(1) << U64(32):
            rank += 32
            w <<= U64(32)
        if w < U64(1) << U64(48):
            rank += 16
            w <<= U64(16)
        if w < U64(1) << U64(56):
            rank += 8
            w <<= U64(8)
        if w < U64(1) << U64(60):
            rank += 4
            w <<= U64(4)
        if w < U64(1) << U64(62):
            rank += 2
            w <<= U64(2)
        if w < U64(1) << U64(63):
            rank += 1
        j = np.int64(h >> shift)
        if rank > registers[j]:
            registers[j] = rank


@njit(inline="always")
def _splitmix(state):
    """The next (state, 64-bit output) of a splitmix64 stream."""
    state += U64(0x9E3779B97F4A7C15)
    return state, fmix64(state)


@njit(cache=True, nogil=True)
def random_vocabulary(words, letters, seed):
    """``words`` x ``letters`` random lower-case letters (a splitmix64 stream, two letters from each
    64-bit output by multiply-shift) and each row's FNV-1a word hash, as ``ngram_hashes`` hashes a word."""
    chars = np.empty((words, letters), dtype=np.uint8)
    hashes = np.empty(words, dtype=np.uint64)
    state = U64(seed) * U64(0x9E3779B97F4A7C15) + U64(1)
    z = U64(0)
    for w in range(words):
        h = FNV_OFFSET
        for c in range(letters):
            if c % 2 == 0:
                state, z = _splitmix(state)
                half = z >> U64(32)
            else:
                half = z & U64(0xFFFFFFFF)
            chars[w, c] = 97 + np.uint8((half * U64(26)) >> U64(32))
            h = (h ^ U64(chars[w, c])) * FNV_PRIME
        hashes[w] = h
    return chars, hashes


@njit(cache=True, nogil=True)
def random_ngrams(rows, n, word_bits, seed):
    """``rows`` x ``n`` random word numbers below ``2**word_bits`` (four 16-bit fields of each
    splitmix64 output, so ``word_bits`` <= 16), a stream of its own (``seed`` + 1)."""
    out = np.empty((rows, n), dtype=np.int64)
    state = U64(seed + 1) * U64(0x9E3779B97F4A7C15) + U64(1)
    used = 4
    z = U64(0)
    for r in range(rows):
        for t in range(n):
            if used == 4:
                state, z = _splitmix(state)
                used = 0
            out[r, t] = np.int64((z >> U64(16 * used)) & U64((1 << word_bits) - 1))
            used += 1
    return out


@njit(cache=True, nogil=True)
def combined_ngram_hashes(word_hashes, picks):
    """The n-gram hash of each row of ``picks`` (word numbers into ``word_hashes``): what
    ``ngram_hashes`` gives for the text of those words separated by spaces."""
    rows, n = picks.shape
    out = np.empty(rows, dtype=np.uint64)
    for r in range(rows):
        g = COMBINE_SEED
        for t in range(n):
            g = (g + word_hashes[picks[r, t]]) * GOLDEN
        out[r] = fmix64(g ^ U64(n))
    return out
