"""Compiled (numba) loops of the contamination stage: GPT-2 n-gram hashing, the benchmark n-gram
table, the corpus scan and the Bloom filter. ``webtext.contamination.ngrams`` holds the plain
Python definitions they must agree with."""

from __future__ import annotations

import numpy as np
from numba import njit

from webtext.dedup.kernels import COMBINE_SEED, FNV_OFFSET, FNV_PRIME, GOLDEN, fmix64

U64 = np.uint64
EMPTY = U64(0)  # table slots hold hash | 1, so 0 marks a free slot


@njit(inline="always")
def _is_word_byte(c):
    return (97 <= c <= 122) or (48 <= c <= 57)  # [a-z0-9] of the lower-cased text


@njit(cache=True, nogil=True)
def ngram_hashes(buf, offsets, n, out, counts):
    """64-bit hashes of the word ``n``-grams of each text ``buf[offsets[d]:offsets[d+1]]`` (lower-
    cased UTF-8; words are runs of [a-z0-9]), written to ``out`` text after text; ``counts[d]`` =
    how many came from text d. N-grams never span two texts. Returns the total."""
    longest = 0
    for d in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[d + 1] - offsets[d])
    words = np.empty(longest // 2 + 2, dtype=np.uint64)
    pos = 0
    for d in range(offsets.shape[0] - 1):
        nw = 0
        h = FNV_OFFSET
        in_word = False
        for i in range(offsets[d], offsets[d + 1]):
            c = buf[i]
            if _is_word_byte(c):
                h = (h ^ U64(c)) * FNV_PRIME
                in_word = True
            elif in_word:
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
def scan_documents(hashes, counts, slots, values, n_bench, first_doc, found, doc_freq, last_doc, hits):
    """For each document's n-grams: per-benchmark hit counts (``hits[d, b]``), which table slots
    occur anywhere (``found``), and in how many documents each slot occurs (``doc_freq``;
    ``last_doc`` remembers the last document counted per slot, global numbering from
    ``first_doc``)."""
    pos = 0
    for d in range(counts.shape[0]):
        doc = first_doc + d
        for i in range(pos, pos + counts[d]):
            j = _slot_of(slots, hashes[i] | U64(1))
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


BLOCK_BITS = 512  # one 64-byte cache line
BLOCK_WORDS = 8
BLOCKS_PER_ITEM = 2  # an item's bits lie in 2 blocks: 2 memory accesses, ~1.15x the bits of a classic filter


@njit(inline="always")
def _block(h, nblocks):
    return ((h >> U64(32)) * nblocks) >> U64(32)  # multiply-shift: uniform over nblocks < 2**32


@njit(inline="always")
def _positions(h, r, k_block, nblocks, pos):
    """Block (word offset) of the item's ``r``-th block and its ``k_block`` bit positions in it:
    independent 9-bit fields of a stream of mixed 64-bit words (7 per word), as the
    false-positive formula assumes."""
    g = fmix64(h ^ (U64(0x9E3779B97F4A7C15) * U64(r + 1)))
    base = _block(g, nblocks) * U64(BLOCK_WORDS)
    word = fmix64(g + U64(0xD6E8FEB86659FD93))
    used = 0
    for t in range(k_block):
        if used == 7:
            word = fmix64(word + U64(0xD6E8FEB86659FD93))
            used = 0
        pos[t] = (word >> U64(9 * used)) & U64(511)
        used += 1
    return base


@njit(cache=True, nogil=True)
def bloom_insert(bits, nblocks, k_block, hashes):
    """Set the item's ``k_block`` bits in each of its 2 blocks."""
    pos = np.empty(k_block, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        for r in range(BLOCKS_PER_ITEM):
            base = _positions(hashes[i], r, k_block, nblocks, pos)
            for t in range(k_block):
                bits[base + (pos[t] >> U64(6))] |= U64(1) << (pos[t] & U64(63))


@njit(cache=True, nogil=True)
def bloom_query(bits, nblocks, k_block, hashes):
    """Whether each hash may be in the filter (all its bits set)."""
    out = np.empty(hashes.shape[0], dtype=np.bool_)
    pos = np.empty(k_block, dtype=np.uint64)
    for i in range(hashes.shape[0]):
        hit = True
        for r in range(BLOCKS_PER_ITEM):
            base = _positions(hashes[i], r, k_block, nblocks, pos)
            for t in range(k_block):
                if not (bits[base + (pos[t] >> U64(6))] >> (pos[t] & U64(63))) & U64(1):
                    hit = False
                    break
            if not hit:
                break
        out[i] = hit
    return out
