"""The 64-bit hash primitives shared by dedup's shingle hash and contamination's n-gram hash.

Plain Python, modulo 2**64: FNV-1a 64 per word, words combined in order (``(g + word) * GOLDEN``
from ``COMBINE_SEED``), MurmurHash3's 64-bit finaliser. The compiled kernels
(webtext/dedup/kernels.py, webtext/contamination/kernels.py) use these same constants; tests pin
the hash values, so none of them may change.
"""

from __future__ import annotations

M64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
COMBINE_SEED = 0x243F6A8885A308D3  # pi's fraction bits: an arbitrary non-zero start
GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: an odd multiplier that mixes high bits
FMIX_C1 = 0xFF51AFD7ED558CCD
FMIX_C2 = 0xC4CEB9FE1A85EC53


def fmix64(h: int) -> int:
    """MurmurHash3's 64-bit finaliser (every input bit affects every output bit)."""
    h ^= h >> 33
    h = (h * FMIX_C1) & M64
    h ^= h >> 33
    h = (h * FMIX_C2) & M64
    return h ^ (h >> 33)


def word_hash(word: bytes) -> int:
    """FNV-1a 64 of one word's bytes."""
    h = FNV_OFFSET
    for c in word:
        h = ((h ^ c) * FNV_PRIME) & M64
    return h


def combine_words(words: list[bytes]) -> int:
    """The words' hashes combined in order (before the finaliser; callers mix in the count)."""
    g = COMBINE_SEED
    for w in words:
        g = ((g + word_hash(w)) * GOLDEN) & M64
    return g
