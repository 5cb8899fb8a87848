"""The benchmark side of the scan: every benchmark's n-gram occurrences (per example) and one
lookup table of their distinct hashes, each mapped to a bitmask of the benchmarks that have it.

Saved under ``REPORT/ngrams/``: ``NAME.npz`` (``hashes`` of every occurrence, example after
example, and ``counts`` per example) and ``table.npz`` (``slots``/``values`` of the open-
addressing table, benchmark names). At most 64 benchmarks (one bit each).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from webtext.arrays import sorted_unique
from webtext.contamination.benchmarks import Benchmark
from webtext.contamination.ngrams import NgramBatch, hash_texts
from webtext.errors import ConfigError
from webtext.paths import atomic_path

MAX_BENCHMARKS = 64


@dataclass
class NgramTable:
    names: list[str]
    slots: np.ndarray
    values: np.ndarray

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        from webtext.contamination.kernels import table_lookup

        return table_lookup(self.slots, np.ascontiguousarray(hashes, dtype=np.uint64))

    def presence(self) -> tuple[np.ndarray, int]:
        """(``kernels.presence_bits`` of the keys, its shift): 8 bits per slot, one hash."""
        from webtext.contamination.kernels import presence_bits

        shift = 64 - (len(self.slots) * 8).bit_length() + 1  # capacity is a power of two: 2**(64 - shift) bits
        return presence_bits(self.slots, shift), shift

    def distinct(self, name: str) -> int:
        """How many distinct n-grams benchmark ``name`` has (the slots holding its bit)."""
        bit = np.uint64(1) << np.uint64(self.names.index(name))
        return int(np.count_nonzero(self.values & bit))

    @classmethod
    def load(cls, path: Path) -> NgramTable:
        with np.load(path) as z:
            return cls(json.loads(str(z["names"])), z["slots"], z["values"])


def benchmark_ngrams(benchmarks: list[Benchmark], n: int) -> dict[str, NgramBatch]:
    return {b.name: hash_texts(b.examples, n) for b in benchmarks}


def build_table(grams: dict[str, NgramBatch]) -> NgramTable:
    from webtext.contamination.kernels import table_build

    if len(grams) > MAX_BENCHMARKS:
        raise ConfigError("--benchmark", f"at most {MAX_BENCHMARKS} benchmarks per report, got {len(grams)}")
    names = list(grams)
    keys = [sorted_unique(g.hashes) for g in grams.values()]
    masks = [np.full(len(k), np.uint64(1) << np.uint64(i), dtype=np.uint64) for i, k in enumerate(keys)]
    all_keys = np.concatenate(keys) if keys else np.empty(0, np.uint64)
    capacity = 1 << max(4, int(2 * max(len(all_keys), 1) - 1).bit_length())  # load factor <= 1/2
    slots, values = table_build(all_keys, np.concatenate(masks) if masks else np.empty(0, np.uint64), capacity)
    return NgramTable(names, slots, values)


def digest(grams: dict[str, NgramBatch]) -> str:
    h = hashlib.sha256()
    for name, g in grams.items():
        h.update(name.encode() + b"\0")
        h.update(g.hashes.tobytes())
        h.update(g.counts.tobytes())
    return h.hexdigest()


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def load_grams(path: Path) -> NgramBatch:
    with np.load(path) as z:
        return NgramBatch(z["hashes"], z["counts"])
