"""A Bloom filter of n-gram hashes: sized for a false-positive rate, mergeable by OR, saved with
a versioned, checksummed header.

The filter is *blocked*: an item's ``k`` bits lie in 2 blocks of 512 bits (one cache line each),
``k/2`` per block, so an insert or a query costs 2 memory accesses instead of ``k`` (a classic
filter at p = 1e-8 does ~3 M inserts/s here). The second block lies within 1024 blocks after the
first, and the first block's index is monotone in its hash: items added in
``kernels.partition_order`` walk the filter through the cache (a filter much larger than the
cache otherwise costs 2 cache misses per insert). Blocks fill unevenly, so for the same rate a
blocked filter needs more bits than the classic ``m = -n ln p / ln(2)^2`` (38.3 bits per item at
1e-8; 2 blocks need ~44, 1 block would need ~64). ``bloom_size`` searches the smallest ``m``
(and its best ``k``) whose false-positive rate, computed over the Poisson load of a block, is
<= ``p``, for the number of *distinct* n-grams (HyperLogLog-estimated during the scan, plus a
margin; a repeated n-gram sets no new bit). The file: a JSON header line (format, m, k, items,
planned distinct items, n-gram size, hash scheme, sha256 of the bit array) then the bit array, little-endian
uint64 words; a truncated or altered file is refused with the reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from webtext.contamination.kernels import (
    BLOCK_BITS,
    BLOCKS_PER_ITEM,
    PARTITION_BITS,
    WINDOW,
    bloom_insert,
    bloom_query,
    combined_ngram_hashes,
    fill_moments,
    random_ngrams,
    random_vocabulary,
)
from webtext.paths import atomic_path

MAGIC = b"WEBTEXT-BLOOM\n"
FORMAT = 2
HASH_SCHEME = "webtext-ngram-fnv1a-fmix64/2x512-blocked-window1024-v3"


def zeroed_words(n: int) -> np.ndarray:
    """``n`` zeroed uint64 words in anonymous memory advised to use huge pages: random access over
    a large filter then misses the TLB far less (2-3x faster inserts here)."""
    import mmap

    if n * 8 < 1 << 22 or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(n, dtype=np.uint64)
    try:
        buf = mmap.mmap(-1, n * 8, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        buf.madvise(mmap.MADV_HUGEPAGE)
    except (OSError, ValueError):
        return np.zeros(n, dtype=np.uint64)
    return np.frombuffer(buf, dtype=np.uint64)  # anonymous pages are zero; the array keeps the map alive


class BloomFileError(ValueError):
    """A Bloom filter file that cannot be used, and why."""


BLOCK = BLOCK_BITS
MAX_BLOCKS = (1 << 32) - 1
PARTITIONS = 1 << PARTITION_BITS


_MOMENTS: dict[int, np.ndarray] = {}  # k_block -> moments for t = 0.. (grown on demand)


def _fill_moments(k_block: int, throws: int) -> np.ndarray:
    """``E[(X_t / 512) ** k_block]`` for t = 0..throws, X_t the set bits of a 512-bit block after t
    uniformly random bit throws (exact occupancy distribution, not the mean-fill approximation,
    which underestimates small rates); computed once per ``k_block``, extended when more throws
    are asked for."""
    have = _MOMENTS.get(k_block)
    if have is None or len(have) <= throws:
        have = fill_moments(BLOCK, k_block, max(512, throws * 3 // 2))
        _MOMENTS[k_block] = have
    return have[: throws + 1]


def false_positive_bound(m: int, k: int, items: int) -> float:
    """Expected false-positive rate of the blocked filter (m bits, k bits per item over 2 blocks)
    holding ``items``: per block, the chance that ``k/2`` random positions are all set, exact for a
    Poisson number of items touching the block; an absent item must find both blocks set."""
    k_block = k // BLOCKS_PER_ITEM
    lam = items * BLOCKS_PER_ITEM * BLOCK / m
    hi = int(lam + 12 * math.sqrt(lam) + 30)
    moments = _fill_moments(k_block, hi * k_block)
    total, log_p = 0.0, -lam  # log Poisson(0)
    for j in range(hi + 1):
        if j:
            log_p += math.log(lam) - math.log(j)
        total += math.exp(log_p) * moments[j * k_block]
    return min(1.0, total ** BLOCKS_PER_ITEM)


#: the item count ``size_ahead`` sizes a filter for: large enough that rounding ``m`` to whole blocks changes nothing
SIZING_PROBE_ITEMS = 10**9


def size_ahead(fp_rate: float) -> threading.Thread:
    """Compute, in a daemon thread, the occupancy moments ``bloom_size(items, fp_rate)`` reads (~50 ms at 1e-8, the
    compiled part without the GIL), before the item count is known: the moments depend on the bits per item the
    search tries and on ``k``, not on the count, so sizing a nominal count visits the same ones (``_fill_moments``
    also computes 1.5x the throws asked for: a real count's block rounding finds them too). A small run then sizes
    its filter in ~4 ms after the scan instead of ~50 ms; a search that needs more moments computes them as before."""
    thread = threading.Thread(target=bloom_size, args=(SIZING_PROBE_ITEMS, fp_rate), name="bloom-sizing",
                              daemon=True)
    thread.start()
    return thread


def bloom_size(items: int, fp_rate: float) -> tuple[int, int]:
    """(m bits, k hashes): the smallest blocked filter for ``items`` at ``fp_rate``."""
    if not 0 < fp_rate < 1:
        raise ValueError("fp_rate must be in (0, 1)")
    items = max(int(items), 1)
    classic = -math.log(fp_rate) / math.log(2) ** 2  # bits per item of an unblocked filter
    bpi = classic
    while True:
        m = max(BLOCK, math.ceil(items * bpi / BLOCK) * BLOCK)
        classic_k = bpi * math.log(2)
        candidates = range(max(2, int(0.5 * classic_k) // 2 * 2), int(1.1 * classic_k) + 3, 2)
        best = min(candidates, key=lambda k: false_positive_bound(m, k, items))
        if false_positive_bound(m, best, items) <= fp_rate:
            if m // BLOCK > MAX_BLOCKS:
                raise ValueError(f"{items:,} items at fp {fp_rate} need more than 2**32 blocks: raise fp_rate")
            return m, best
        bpi *= 1.02


def slice_blocks(nblocks: int, parts: tuple[int, int]) -> tuple[int, int]:
    """(first block, block count) of the slice of a filter of ``nblocks`` blocks that holds every
    block of the items of partitions ``parts = [p0, p1)``: their first blocks (monotone in the
    partition) and the ``WINDOW`` blocks after them, wrapping."""
    shift = 64 - PARTITION_BITS - 32  # partition p holds the first blocks of (g0 >> 32) in [p << shift, ...)
    p0, p1 = parts
    lo = ((p0 << shift) * nblocks) >> 32
    hi = ((((p1 << shift) - 1) * nblocks) >> 32) if p1 > p0 else lo - 1
    return lo, min(nblocks, hi - lo + 1 + min(WINDOW, nblocks - 1))


@dataclass
class BloomFilter:
    """A filter of ``m`` bits, or the slice of one that holds the items of a range of partitions
    (``bits`` = its blocks from ``first_block`` on, wrapping), as a worker builds them; ``merge``
    puts slices together."""

    m: int
    k: int
    ngram: int
    bits: np.ndarray
    items: int = 0  # n-gram occurrences inserted (an upper bound on distinct items)
    planned: int = 0  # distinct items the filter was sized for (0: unknown, then ``items`` counts)
    partitions: tuple[int, int] = (0, PARTITIONS)  # the items it holds (all: a whole filter)

    @property
    def first_block(self) -> int:
        return slice_blocks(self.m // BLOCK, self.partitions)[0]

    @property
    def bound_items(self) -> int:
        """The item count its false-positive bound is computed for."""
        return self.planned or self.items

    @property
    def whole(self) -> bool:
        return self.first_block == 0 and self.bits.size * 64 == self.m

    @classmethod
    def empty(cls, m: int, k: int, ngram: int, parts: tuple[int, int] | None = None) -> BloomFilter:
        """A zeroed filter, or the slice of one for the items of partitions ``parts``."""
        if m % BLOCK:
            raise ValueError(f"m must be a multiple of {BLOCK}")
        parts = parts or (0, PARTITIONS)
        _, blocks = slice_blocks(m // BLOCK, parts)
        return cls(m, k, ngram, zeroed_words(blocks * BLOCK // 64), partitions=(int(parts[0]), int(parts[1])))

    @property
    def nbytes(self) -> int:
        return int(self.bits.nbytes)

    def add(self, hashes: np.ndarray) -> None:
        """Insert n-gram hashes (a slice: only hashes of its partitions)."""
        if len(hashes):
            bloom_insert(self.bits, np.uint64(self.m // BLOCK), self.k // BLOCKS_PER_ITEM,
                         np.ascontiguousarray(hashes, dtype=np.uint64), self.first_block)
            self.items += len(hashes)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        if not self.whole:
            raise ValueError("a slice of a Bloom filter cannot answer queries: merge the slices first")
        return bloom_query(self.bits, np.uint64(self.m // BLOCK), self.k // BLOCKS_PER_ITEM,
                           np.ascontiguousarray(hashes, dtype=np.uint64))

    def merge(self, other: BloomFilter) -> None:
        """OR ``other`` (a whole filter or a slice of the same shape) into this whole filter."""
        if (other.m, other.k, other.ngram) != (self.m, self.k, self.ngram):
            raise ValueError(f"cannot merge Bloom filters of different shape: "
                             f"{(self.m, self.k, self.ngram)} vs {(other.m, other.k, other.ngram)}")
        if not self.whole:
            raise ValueError("merge into a whole filter, not into a slice")
        start = other.first_block * (BLOCK // 64)
        head = min(other.bits.size, self.bits.size - start)
        np.bitwise_or(self.bits[start:start + head], other.bits[:head], out=self.bits[start:start + head])
        if head < other.bits.size:  # the slice wraps to the start of the filter
            rest = other.bits.size - head
            np.bitwise_or(self.bits[:rest], other.bits[head:], out=self.bits[:rest])
        self.items += other.items
        self.planned = max(self.planned, other.planned)  # parts of one build share the plan

    def fill_ratio(self) -> float:
        return int(np.bitwise_count(self.bits).sum(dtype=np.int64)) / self.m

    def save(self, path: Path) -> str:
        """Write the filter atomically; returns the file's sha256 (for the manifest)."""
        header = {
            "format": FORMAT, "m": self.m, "k": self.k, "items": self.items, "planned": self.planned,
            "ngram": self.ngram, "partitions": list(self.partitions),
            "hash": HASH_SCHEME, "sha256": hashlib.sha256(memoryview(self.bits)).hexdigest(),
        }
        head = MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n"
        digest = hashlib.sha256(head)
        digest.update(memoryview(self.bits))
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
            f.write(head)
            self.bits.tofile(f)  # little-endian uint64 on every platform numba targets here
            f.flush()
            os.fsync(f.fileno())
        return digest.hexdigest()

    @classmethod
    def load(cls, path: Path) -> BloomFilter:
        path = Path(path)
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise BloomFileError(f"{path} is not a webtext Bloom filter (bad magic bytes)")
            try:
                header = json.loads(f.readline())
                if not isinstance(header, dict):
                    raise ValueError("the header is not a JSON object")
                if header.get("format") != FORMAT or header.get("hash") != HASH_SCHEME:
                    raise BloomFileError(f"{path}: format {header.get('format')} / hash {header.get('hash')!r} is "
                                         f"not {FORMAT} / {HASH_SCHEME!r}; rebuild the filter with this version")
                m, k, items, ngram = (int(header[key]) for key in ("m", "k", "items", "ngram"))
                planned = int(header.get("planned", 0))
                p0, p1 = (int(v) for v in header.get("partitions", (0, PARTITIONS)))
                checksum = str(header["sha256"])
            except (ValueError, KeyError, TypeError) as exc:
                if isinstance(exc, BloomFileError):
                    raise
                raise BloomFileError(f"{path}: damaged header ({type(exc).__name__}: {exc})") from exc
            if (m <= 0 or m % BLOCK or k <= 0 or k % BLOCKS_PER_ITEM or items < 0 or ngram < 1
                    or not 0 <= p0 < p1 <= PARTITIONS):
                raise BloomFileError(f"{path}: impossible shape in the header: m={m}, k={k}, items={items}, "
                                     f"ngram={ngram}, partitions={p0}..{p1}")
            size = slice_blocks(m // BLOCK, (p0, p1))[1] * BLOCK // 8
            bits = zeroed_words(size // 8)  # read straight into the array: no copies
            got = f.readinto(memoryview(bits).cast("B"))
            extra = len(f.read(1))
        if got != size or extra:
            raise BloomFileError(f"{path}: truncated or padded: {got + extra}{'+' if extra else ''} bytes of bits, "
                                 f"header says {size}")
        if hashlib.sha256(memoryview(bits)).hexdigest() != checksum:
            raise BloomFileError(f"{path}: checksum mismatch: the bit array is corrupt")
        return cls(m, k, ngram, bits, items, planned, (p0, p1))


RANDOM_WORD_BITS = 16  # the random strings' vocabulary: 65,536 random 6-letter words
RANDOM_WORD_LETTERS = 6


def random_strings(samples: int, ngram: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPT-2's random strings, as (vocabulary letters ``(words, 6)`` uint8, their word hashes, word
    numbers ``(samples, ngram)``): sample i is the text of words ``picks[i]`` separated by spaces.
    Drawing words from a vocabulary of 2**16 random words instead of drawing every letter leaves
    2**128 possible 8-grams, so a sample is still almost surely absent from any corpus, and the
    check keeps its statistical power (the same number of samples, each hashed exactly as its text
    would be) for ~1/10 of the work: no text to write and read back."""
    letters, word_hashes = random_vocabulary(1 << RANDOM_WORD_BITS, RANDOM_WORD_LETTERS, seed)
    return letters, word_hashes, random_ngrams(samples, ngram, RANDOM_WORD_BITS, seed)


def random_texts(samples: int, ngram: int, seed: int = 0) -> list[str]:
    """The text of each random string (for tests and for reading; the check never builds it)."""
    letters, _, picks = random_strings(samples, ngram, seed)
    words = [bytes(row).decode() for row in letters]
    return [" ".join(words[i] for i in row) for row in picks.tolist()]


def distinct_estimate(registers: np.ndarray) -> float:
    """HyperLogLog's estimate of the distinct items behind ``registers`` (linear counting while
    many registers are empty); relative standard error 1.04 / sqrt(len(registers))."""
    m = len(registers)
    alpha = 0.7213 / (1 + 1.079 / m)
    estimate = alpha * m * m / float(np.sum(np.exp2(-registers.astype(np.float64))))
    zeros = int(np.count_nonzero(registers == 0))
    if estimate <= 2.5 * m and zeros:
        estimate = m * math.log(m / zeros)
    return estimate


def planned_items(occurrences: int, registers: np.ndarray) -> int:
    """The item count a filter is sized for: the distinct estimate plus 5 standard errors (6
    standard errors or more below the truth has odds under 1e-9), never more than the occurrences."""
    margin = 1 + 5 * 1.04 / math.sqrt(len(registers))
    return max(1, min(int(occurrences), math.ceil(distinct_estimate(registers) * margin)))


def random_string_hashes(samples: int, ngram: int, seed: int = 0) -> np.ndarray:
    """The n-gram hashes of GPT-2's random strings (``random_strings``), hashed as corpus n-grams are: what
    ``random_string_check`` looks up (drawn before the filter exists, if need be)."""
    _, word_hashes, picks = random_strings(samples, ngram, seed)
    return combined_ngram_hashes(word_hashes, picks)


def random_string_check(bloom: BloomFilter, samples: int = 1_000_000, seed: int = 0) -> int:
    """GPT-2's check: ``samples`` random strings (``ngram`` random 6-letter words, almost surely
    absent from any corpus: ``random_strings``) hashed like corpus n-grams; returns how many the
    filter says it holds."""
    return int(bloom.contains(random_string_hashes(samples, bloom.ngram, seed)).sum())
