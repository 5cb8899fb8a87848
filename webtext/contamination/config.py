"""Configs of the ``contamination`` and ``decontaminate`` stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from webtext.config import inputs_under, opt, subkey, under
from webtext.contamination.benchmarks import parse_spec, resolve_source, source_under
from webtext.errors import ConfigError
from webtext.paths import MANIFEST
from webtext.stage_spec import StaticInput, input_paths


def resolve_named_paths(specs: list[str], base: Path) -> list[str]:
    """``NAME=SOURCE`` specs (benchmarks, eval tasks) with relative paths made relative to ``base``
    (``hf:`` sources untouched; a ``lines:`` prefix kept in front of its path)."""
    out = []
    for spec in specs:
        name, sep, source = spec.partition("=")
        if sep and source:
            spec = f"{name}={source_under(source, base)}"
        out.append(spec)
    return out


def _spec_keys(key: str, field: str, flag: str, specs: list[str]) -> list[tuple[str, str]]:
    """(the key an error names, spec) for each ``NAME=SOURCE``: ``stages.x.benchmarks[2]``, or the flag on the CLI."""
    return [(f"{subkey(key, field)}[{i}]" if key else flag, spec) for i, spec in enumerate(specs)]


def benchmark_files(field: str, specs: list[str]) -> list[StaticInput]:
    """The files of ``NAME=SOURCE`` specs (``hf:`` sources have none) as static inputs under ``field``."""
    out = []
    for i, spec in enumerate(specs):
        name, source = parse_spec(spec, field)
        how = resolve_source(name, source, field)
        if how.kind != "hf":
            out.append(StaticInput(f"{field}[{i}]", how.path, f"benchmark {name}"))
    return out


@dataclass
class ContaminationConfig:
    """The ``contamination`` stage: GPT-2's n-gram overlap of benchmark test sets with a corpus."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a docs dataset, or folders/globs of Parquet files with `id` and `text` (`url`, `karma` used if present)",
        positional=True,
    )
    benchmarks: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="NAME=PATH of a benchmark test set (repeat); a known NAME picks its loader: wikitext2, wikitext103, "
        "ptb, lambada, cbt (-ne, -cn, -v, -p), enwik8, text8, 1bw; any other NAME needs an explicit form: "
        "NAME=lines:PATH (one example per non-empty line), NAME=PATH.jsonl#FIELD, NAME=hf:DATASET[:CONFIG]:SPLIT#FIELD",
        flag="benchmark",
    )
    benchmark_train: list[str] = opt(  # noqa: RUF009
        [], "NAME=SOURCE of a benchmark's own training split (repeat; the forms of --benchmark): Table 6's first row",
        flag="benchmark-train",
    )
    ngram: int = opt(8, "words per n-gram (GPT-2: 8; GPT-3's variant: 13)")
    mode: Literal["bloom", "exact"] = opt(
        "bloom", "bloom: GPT-2's method, a Bloom filter of the corpus n-grams; exact: hash sets, exact overlap",
    )
    fp_rate: float = opt(1e-8, "Bloom filter false-positive rate it is sized for")
    bloom: str | None = opt(None, "a saved corpus Bloom filter (corpus.bloom of an earlier report) to query instead of "
                                  "building one")
    bloom_parts: int = opt(0, "slices of the Bloom filter built in parallel (each ~m / parts bits, each reading only "
                              "its range of the scan's n-gram hashes), then put together; 0: as many as the runner "
                              "runs at once (1 locally)")
    random_check: int = opt(1_000_000, "random strings the finished Bloom filter is tested with (GPT-2's check)")
    top_documents: int = opt(50, "most contaminated documents listed in the report")
    batch_rows: int = opt(512, "documents hashed per batch (in Bloom mode a batch's spill overlaps the next "
                               "batch's hashing: smaller batches hide more of it)")

    @property
    def builds_bloom(self) -> bool:
        """Whether a run builds the corpus's Bloom filter (Bloom mode without a saved filter to query)."""
        return self.mode == "bloom" and self.bloom is None

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        if not self.benchmarks:
            raise ConfigError(subkey(key, "benchmarks") if key else "--benchmark", "give at least one NAME=PATH")
        for where, spec in [*_spec_keys(key, "benchmarks", "--benchmark", self.benchmarks),
                            *_spec_keys(key, "benchmark_train", "--benchmark-train", self.benchmark_train)]:
            resolve_source(*parse_spec(spec, where), where)  # a misspelt name is refused before anything runs
        if not 1 <= self.ngram <= 64:
            raise ConfigError(subkey(key, "ngram"), "must be between 1 and 64")
        if not 0 < self.fp_rate < 0.5:
            raise ConfigError(subkey(key, "fp_rate"), "must be in (0, 0.5)")
        if self.batch_rows < 1:
            raise ConfigError(subkey(key, "batch_rows"), "must be >= 1")
        if self.random_check < 0 or self.bloom_parts < 0 or self.top_documents < 0:
            bad = next(n for n in ("random_check", "bloom_parts", "top_documents") if getattr(self, n) < 0)
            raise ConfigError(subkey(key, bad), "must be >= 0")

    def static_inputs(self) -> list[StaticInput]:
        """The corpus, every benchmark file and the saved Bloom filter (checked before a pipeline runs)."""
        bloom = [StaticInput("bloom", self.bloom, "Bloom filter file")] if self.bloom else []
        return [*input_paths(self.inputs), *benchmark_files("benchmarks", self.benchmarks),
                *benchmark_files("benchmark_train", self.benchmark_train), *bloom]

    def resolve_paths(self, base: Path) -> ContaminationConfig:
        return inputs_under(
            self, base, benchmarks=resolve_named_paths(self.benchmarks, base),
            benchmark_train=resolve_named_paths(self.benchmark_train, base), bloom=under(base, self.bloom),
        )


@dataclass
class DecontaminateConfig:
    """``decontaminate``: remove benchmark text found by a contamination report from a docs table."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="the docs the report was made on (a docs dataset or folders/globs of Parquet files)", positional=True,
    )
    report: str = opt(help="the contamination report folder (its hits/ and ngrams/)")
    method: Literal["drop", "gpt3"] = opt(
        "drop", "drop: remove documents over --max-fraction; gpt3: cut each colliding n-gram with --context-chars "
        "around it (GPT-3, appendix C)",
    )
    max_fraction: float = opt(0.0, "drop: a document whose share of n-grams found in a benchmark exceeds this is "
                                   "removed (0: any hit)")
    context_chars: int = opt(200, "gpt3: characters removed on each side of a colliding n-gram")
    min_piece_chars: int = opt(200, "gpt3: pieces shorter than this are dropped")
    max_pieces: int = opt(10, "gpt3: a document split into more pieces is dropped")
    max_ngram_docs: int = opt(10, "gpt3: n-grams found in more documents than this are ignored (common phrases)")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        if not self.report:
            raise ConfigError(subkey(key, "report"), "give the contamination report folder")
        if not 0 <= self.max_fraction <= 1:
            raise ConfigError(subkey(key, "max_fraction"), "must be between 0 and 1")
        for name in ("context_chars", "min_piece_chars", "max_pieces", "max_ngram_docs"):
            if getattr(self, name) < 0:
                raise ConfigError(subkey(key, name), "must be >= 0")

    def static_inputs(self) -> list[StaticInput]:
        # joined as text: Path would fold a URI's "s3://" into "s3:/"
        report = StaticInput("report", f"{self.report.rstrip('/')}/{MANIFEST}", "finished contamination report")
        return [*input_paths(self.inputs), report]

    def resolve_paths(self, base: Path) -> DecontaminateConfig:
        return inputs_under(self, base, report=under(base, self.report))
