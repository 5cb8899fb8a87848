"""Compiled (numba) loops of the dedup stage: shingle hashing, MinHash, band keys, union-find.

These are the only per-shingle and per-pair loops of the stage; they work on flat numpy arrays
so no Python object is made per word, shingle or pair. ``webtext.dedup.minhash`` holds the
plain-Python definitions they must agree with (tests compare the two, and both with datasketch).
All hashing is modulo 2**64 (or 2**32), so every constant is typed to keep numba from promoting
to float.
"""

from __future__ import annotations

import numpy as np

from webtext import hashing, probes

njit = probes.njit  # numba without its SciPy probes, cached kernels without its registries (webtext.probes)

U64 = np.uint64
U32 = np.uint32
# The constants of webtext.hashing (the plain-Python definitions), typed for numba.
FNV_OFFSET = U64(hashing.FNV_OFFSET)
FNV_PRIME = U64(hashing.FNV_PRIME)
COMBINE_SEED = U64(hashing.COMBINE_SEED)
GOLDEN = U64(hashing.GOLDEN)
FMIX_C1 = U64(hashing.FMIX_C1)
FMIX_C2 = U64(hashing.FMIX_C2)
MASK32 = U64(0xFFFFFFFF)
SPACE = 32


@njit(inline="always")
def fmix64(h):
    h ^= h >> U64(33)
    h *= FMIX_C1
    h ^= h >> U64(33)
    h *= FMIX_C2
    h ^= h >> U64(33)
    return h


@njit(inline="always")
def fmix32(h):
    # numba widens uint32 arithmetic to 64 bits: mask after each multiply to stay modulo 2**32
    h = U64(h)
    h ^= h >> U64(16)
    h = (h * U64(0x85EBCA6B)) & MASK32
    h ^= h >> U64(13)
    h = (h * U64(0xC2B2AE35)) & MASK32
    h ^= h >> U64(16)
    return U32(h)


@njit(cache=True, nogil=True)
def _word_hashes(buf, start, end, out):
    """FNV-1a of every space-separated word of buf[start:end] into ``out``; returns the count."""
    n = 0
    h = FNV_OFFSET
    in_word = False
    for i in range(start, end):
        c = buf[i]
        if c == SPACE:
            if in_word:
                out[n] = h
                n += 1
                h = FNV_OFFSET
                in_word = False
        else:
            h = (h ^ U64(c)) * FNV_PRIME
            in_word = True
    if in_word:
        out[n] = h
        n += 1
    return n


@njit(cache=True, nogil=True)
def _shingle_hash(words, first, k):
    g = COMBINE_SEED
    for t in range(k):
        g = (g + words[first + t]) * GOLDEN
    g ^= U64(k)
    return U32(fmix64(g) >> U64(32))


@njit(cache=True, nogil=True)
def minhash_batch(buf, offsets, ngram, a, b, sigs, n_shingles):
    """MinHash signatures of the documents ``buf[offsets[d]:offsets[d+1]]`` into ``sigs[d]``.

    Equals ``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)`` (scheme affine32) fed
    the document's shingles: hash -> MurmurHash3 fmix32 -> ``a*h + b mod 2**32`` -> minimum.
    A document with no words keeps the empty signature (all 2**32-1) and 0 shingles.
    """
    n_docs = offsets.shape[0] - 1
    longest = 0
    for d in range(n_docs):
        longest = max(longest, offsets[d + 1] - offsets[d])
    words = np.empty(longest // 2 + 2, dtype=np.uint64)
    hv = np.empty(longest // 2 + 2, dtype=np.uint32)
    num_perm = a.shape[0]
    for d in range(n_docs):
        row = sigs[d]
        for j in range(num_perm):
            row[j] = U32(0xFFFFFFFF)
        nw = _word_hashes(buf, offsets[d], offsets[d + 1], words)
        if nw == 0:
            n_shingles[d] = 0
            continue
        k = min(ngram, nw)
        count = nw - k + 1
        for s in range(count):
            hv[s] = fmix32(_shingle_hash(words, s, k))
        for s in range(count):
            h = hv[s]
            for j in range(num_perm):
                p = U32(a[j] * h + b[j])  # truncation = modulo 2**32
                if p < row[j]:
                    row[j] = p
        n_shingles[d] = count
    return n_shingles


@njit(cache=True, nogil=True)
def band_keys(sigs, bands, rows):
    """64-bit key of each band (``rows`` consecutive values) of each signature: (docs, bands)."""
    n = sigs.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    for d in range(n):
        for band in range(bands):
            g = COMBINE_SEED ^ U64(band)
            for t in range(band * rows, (band + 1) * rows):
                g = (g ^ U64(sigs[d, t])) * GOLDEN
            keys[d, band] = fmix64(g)
    return keys


@njit(cache=True, nogil=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def union_pairs(parent, left, right):
    """Union each (left[i], right[i]); the smaller index becomes the root, so the result does
    not depend on the order pairs arrive in."""
    for i in range(left.shape[0]):
        x = _find(parent, left[i])
        y = _find(parent, right[i])
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y


@njit(cache=True, nogil=True)
def resolve_roots(parent, start, end, out):
    """out[i - start] = root of i for i in [start, end)."""
    for i in range(start, end):
        out[i - start] = _find(parent, i)
