"""What each dedup pass's shard task carries (frozen, so Ray ships them as they are)."""

from __future__ import annotations

from dataclasses import dataclass

from webtext.dedup.signatures import ShardSpan


@dataclass(frozen=True)
class DocsInput:
    """Signature and filter passes: one docs file and where its rows sit in the global numbering."""

    path: str
    offset: int
    rows: int


@dataclass(frozen=True)
class FilterInput:
    """Filter pass: one docs file and the removals table of the clusters pass."""

    docs: DocsInput
    removals: str


@dataclass(frozen=True)
class PartitionInput:
    """Buckets pass: the band-record files of one partition, and every shard's signature file."""

    files: tuple[str, ...]
    spans: tuple[ShardSpan, ...]


@dataclass(frozen=True)
class ComponentsInput:
    """Clusters pass: every candidate-pair file, every metadata file, every signature file."""

    total: int  # documents in all
    pairs: tuple[str, ...]
    meta: tuple[str, ...]
    spans: tuple[ShardSpan, ...]
