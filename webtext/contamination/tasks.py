"""What each contamination pass's shard task carries (frozen, so Ray ships them as they are)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScanInput:
    """Scan pass: one docs file, its first row's global number, whether to spill n-gram hashes for the Bloom
    filter, how many threads hash its text (2 where the runner runs one shard at a time on a machine with
    a second core; the output does not depend on it)."""

    path: str
    offset: int
    bloom_input: bool
    hash_threads: int = 1


@dataclass(frozen=True)
class SliceInput:
    """Bloom pass: one slice [start, end) of the hash partitions, read from every scan shard's spill."""

    hashes: tuple[str, ...]
    runs: tuple[str, ...]
    partitions: tuple[int, int]


@dataclass(frozen=True)
class ReportInput:
    """Report pass: the benchmarks reported, their training splits, the Bloom filter's sizing."""

    names: tuple[str, ...]
    train: tuple[str, ...]
    bloom: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DecontaminateInput:
    """Decontaminate: one docs file and the index of the report's hits file for it."""

    path: str
    report_index: int
