"""GPT-2's n-gram normalisation and the n-gram hash, defined in plain Python.

GPT-2 (section 4): lower-cased, alphanumeric words, single-space delimited. A word is a run of
``[a-z0-9]`` in ``text.lower()``; everything else separates words. N-grams are ``n`` consecutive
words of one text (one benchmark example or one document), never across texts. An n-gram is
identified by a 64-bit hash: FNV-1a per word, words combined in order, MurmurHash3's finaliser
(``ngram_hash``); ``NgramHasher`` computes the same in bulk with the compiled kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from webtext.hashing import combine_words, fmix64
from webtext.strings import string_buffers
from webtext.textforms import GPT2_WORD


def gpt2_words(text: str) -> list[str]:
    """GPT-2's normalised words of a text."""
    return GPT2_WORD.findall(text.lower())


def ngram_strings(text: str, n: int) -> list[str]:
    """The normalised n-grams of one text, as GPT-2 wrote them (single spaces)."""
    w = gpt2_words(text)
    return [" ".join(w[i:i + n]) for i in range(len(w) - n + 1)]


def ngram_hash(gram: str) -> int:
    """64-bit hash of one normalised n-gram (words separated by single spaces)."""
    words = gram.split(" ")
    return fmix64(combine_words([w.encode() for w in words]) ^ len(words))


def text_bytes(texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 of the texts, concatenated, with offsets (None and '' are empty); the kernel lower-cases."""
    encoded = [t.encode("utf-8", "surrogatepass") if t else b"" for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(1, np.uint8)
    return buf, offsets


@dataclass
class NgramBatch:
    """N-gram hashes of a batch of texts: ``hashes`` text after text, ``counts`` per text."""

    hashes: np.ndarray
    counts: np.ndarray
    n_bytes: int = 0  # UTF-8 bytes of the texts hashed (``hash_texts``)

    def starts(self) -> np.ndarray:
        out = np.zeros(len(self.counts) + 1, dtype=np.int64)
        np.cumsum(self.counts, out=out[1:])
        return out


def hash_texts(texts, n: int, *, compact: bool = True, helper: Executor | None = None) -> NgramBatch:
    """``ngram_hash`` of every n-gram of every text (a sequence of str, or an Arrow string column,
    read in place), computed in bulk. ``compact=False`` returns a view into the (~3x larger)
    work buffer instead of a copy: for batches that are used and dropped. With a ``helper``
    thread, a batch of at least ``SPLIT_BYTES`` is hashed in two halves at once (the kernel
    releases the GIL), with the same result."""
    if isinstance(texts, Sequence):
        buf, offsets = text_bytes(texts)
    else:
        buf, offsets = string_buffers(texts)
    size = int(offsets[-1] - offsets[0])
    if helper is None or size < SPLIT_BYTES or len(offsets) < 3:
        hashes, counts = _hash_range(buf, offsets, n)
        return NgramBatch(hashes.copy() if compact else hashes, counts, size)
    # the texts split where half the bytes are: the later half to the helper, the first here
    mid = int(np.clip(np.searchsorted(offsets, offsets[0] + size // 2), 1, len(offsets) - 2))
    later = helper.submit(_hash_range, buf, offsets[mid:], n)
    first, first_counts = _hash_range(buf, offsets[:mid + 1], n)
    second, second_counts = later.result()
    return NgramBatch(np.concatenate([first, second]), np.concatenate([first_counts, second_counts]), size)


SPLIT_BYTES = 1 << 20  # below this a second thread costs more than it saves


def _hash_range(buf: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(n-gram hashes, a view into the work buffer; n-grams per text) of the texts ``offsets`` delimit."""
    from webtext.contamination.kernels import ngram_hashes

    n_texts = len(offsets) - 1
    out = np.empty(int(offsets[-1] - offsets[0]) // 2 + n_texts + 1, dtype=np.uint64)  # >= words of all texts
    counts = np.empty(n_texts, dtype=np.int64)
    total = ngram_hashes(buf, offsets, n, out, counts)
    return out[:total], counts
