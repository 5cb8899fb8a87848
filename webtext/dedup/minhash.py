"""What a document's signature is: normalised text, word shingles, the shingle hash, MinHash
permutations and the LSH band split.

The definitions here are plain Python and are what ``webtext.dedup.kernels`` computes in bulk:
``shingle_hash`` is a valid ``hashfunc`` for ``datasketch.MinHash``, and
``MinHash(num_perm, seed, hashfunc=shingle_hash).update_batch(shingles(text, n))`` gives the same
hash values as ``MinHasher(num_perm, seed, n).signatures([text])`` (tests hold both to it).

- Normalisation: NFKC, case-folded, whitespace collapsed to single spaces (so exact duplicates
  that differ only in case or spacing hash alike).
- Shingles: ``n`` consecutive words of the normalised text; a text of 1..n-1 words is one
  shingle (short texts stay distinct); an empty text has none.
- Shingle hash: FNV-1a (64-bit) per word, words combined in order, MurmurHash3's 64-bit
  finaliser, top 32 bits. Hashing words once and combining them is what lets the kernel avoid
  making a string per shingle.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from webtext.hashing import combine_words, fmix64

EXACT_DIGEST_BYTES = 16


def normalise_text(text: str | None) -> str:
    """NFKC, case-folded, whitespace collapsed: the text both hashes are computed on."""
    if not text:
        return ""
    if text.isascii():  # NFKC is the identity on ASCII and casefold is lower(): skip both passes
        return " ".join(text.lower().split())
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def exact_hash(normalised: bytes) -> bytes:
    """128-bit digest of a normalised text (exact-duplicate key)."""
    return hashlib.blake2b(normalised, digest_size=EXACT_DIGEST_BYTES).digest()


def shingles(text: str | None, n: int) -> list[bytes]:
    """The word ``n``-gram shingles of a text, as UTF-8 bytes (the reference definition)."""
    words = normalise_text(text).encode().split()
    if not words:
        return []
    k = min(n, len(words))
    return [b" ".join(words[i:i + k]) for i in range(len(words) - k + 1)]


def shingle_hash(shingle: bytes) -> int:
    """32-bit hash of one shingle (words separated by single spaces); a datasketch ``hashfunc``."""
    words = shingle.split(b" ")
    return fmix64(combine_words(words) ^ len(words)) >> 32


def lsh_params(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """(bands, rows) for a Jaccard threshold: the (bands, rows) that minimise the weighted sum of
    the false positive and false negative probability mass (weights: false positive, false
    negative; datasketch's default is equal weights).

    Vendored from datasketch's private ``datasketch.lsh._optimal_param`` (MIT License, Copyright
    (c) 2015 ekzhu) so a datasketch release cannot change or remove it under us;
    tests/test_dedup_minhash.py checks it still equals datasketch's while datasketch has it.
    """
    from scipy.integrate import quad

    fp_weight, fn_weight = weights
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            # P[candidate] = 1 - (1 - s^r)^b; false positives below the threshold, false negatives above.
            fp = quad(lambda s, b=b, r=r: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]
            fn = quad(lambda s, b=b, r=r: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]
            error = fp * fp_weight + fn * fn_weight
            if error < best:
                best, opt = error, (b, r)
    return opt


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine permutation parameters (a, b) for ``num_perm`` and ``seed``."""
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed)
    if getattr(m, "scheme", None) != "affine32":  # datasketch < 2.0 permutes another way
        raise RuntimeError("webtext's MinHash follows datasketch >= 2.0 (scheme affine32); upgrade datasketch")
    a, b = m.permutations
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


@dataclass
class Signatures:
    """Signatures of a batch of documents: ``values`` (docs x num_perm, uint32), shingle counts
    and 128-bit exact-text digests."""

    values: np.ndarray
    n_shingles: np.ndarray
    exact: list[bytes]


@dataclass
class MinHasher:
    """Computes signatures for batches of texts with fixed permutations."""

    num_perm: int = 128
    seed: int = 1
    ngram: int = 5
    _a: np.ndarray = field(init=False, repr=False)
    _b: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._a, self._b = permutations(self.num_perm, self.seed)

    def signatures(self, texts: Sequence[str | None]) -> Signatures:
        from webtext.dedup.kernels import minhash_batch

        encoded = [normalise_text(t).encode() for t in texts]
        lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(1, np.uint8)
        values = np.empty((len(encoded), self.num_perm), dtype=np.uint32)
        counts = np.empty(len(encoded), dtype=np.int64)
        minhash_batch(buf, offsets, self.ngram, self._a, self._b, values, counts)
        return Signatures(values, counts, [exact_hash(e) for e in encoded])


def estimated_jaccard(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Share of equal signature positions (what ``MinHash.jaccard`` returns), row by row."""
    return np.count_nonzero(np.asarray(x) == np.asarray(y), axis=-1) / np.asarray(x).shape[-1]
