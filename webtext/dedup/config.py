"""Config of the ``dedup`` stage and the LSH weights it implies."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webtext.config import inputs_under, opt, subkey
from webtext.errors import ConfigError
from webtext.stage_spec import StaticInput, input_paths


@dataclass
class DedupConfig:
    """The ``dedup`` stage: exact and MinHash-LSH near-duplicate removal over any docs table."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a docs dataset, or folders/globs of Parquet files with at least `id` and `text` (`karma` optional)",
        positional=True,
    )
    threshold: float = opt(0.8, "Jaccard similarity (word shingles) at or above which documents are near duplicates")
    num_perm: int = opt(128, "MinHash permutations per signature")
    ngram: int = opt(5, "words per shingle")
    seed: int = opt(1, "seed of the MinHash permutations (datasketch's `seed`)")
    verify: bool = opt(True, "check LSH candidates against their full signatures (estimated Jaccard >= threshold)",
                       neg_help="take LSH candidates as duplicates without checking their full signatures")
    recall_weight: float | None = opt(
        None, "weight of missed pairs (false positives get 1 - it) in datasketch's search for the LSH bands x rows; "
        "null: 0.9 with verify (verification removes false positives: 14x9 bands at 0.8), 0.5 without (9x13)",
    )
    partitions: int = opt(16, "band-hash partitions = bucket reduce tasks; more keeps each task's memory smaller")
    batch_rows: int = opt(4096, "documents hashed per kernel call (bounds the signature pass's memory)")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        if not 0 < self.threshold <= 1:
            raise ConfigError(subkey(key, "threshold"), "must be in (0, 1]")
        if not 2 <= self.num_perm <= 4096:
            raise ConfigError(subkey(key, "num_perm"), "must be between 2 and 4096")
        if self.ngram < 1:
            raise ConfigError(subkey(key, "ngram"), "must be >= 1")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(subkey(key, "seed"), "must be between 0 and 2**32-1")
        if not 1 <= self.partitions <= 4096:
            raise ConfigError(subkey(key, "partitions"), "must be between 1 and 4096")
        if self.batch_rows < 1:
            raise ConfigError(subkey(key, "batch_rows"), "must be >= 1")
        if self.recall_weight is not None and not 0 < self.recall_weight < 1:
            raise ConfigError(subkey(key, "recall_weight"), "must be between 0 and 1 (exclusive)")

    def lsh_weights(self) -> tuple[float, float]:
        """(false positive weight, false negative weight) for the bands x rows search."""
        fn = self.recall_weight if self.recall_weight is not None else (0.9 if self.verify else 0.5)
        return 1 - fn, fn

    def static_inputs(self) -> list[StaticInput]:
        return input_paths(self.inputs)

    def resolve_paths(self, base: Path) -> DedupConfig:
        return inputs_under(self, base)
