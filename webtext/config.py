"""Typed configuration for every stage, shared by the CLI flags and ``pipelines.yaml``.

Each stage has one dataclass. Its fields carry their help text in ``metadata["help"]``; the CLI
builds its options from them (``min_karma`` -> ``--min-karma``; a bool that defaults to True
becomes ``--no-<name>``) and ``pipelines.yaml`` uses the same names as keys. Every value goes
through ``from_mapping``, which raises ``ConfigError`` naming the YAML key (or CLI flag) for an
unknown key, a wrong type or a missing value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from webtext.errors import ConfigError

T = TypeVar("T")


def opt(default: Any = dataclasses.MISSING, help: str = "", **meta: Any) -> Any:
    """A config field with help text (``positional=True`` for CLI positionals)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


# ---------------------------------------------------------------------------------------------
# Generic loading and type checking


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError:
                continue
        raise ConfigError(key, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(key, f"expected one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and item is str:
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(key, f"expected a list, got {value!r}")
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(key, f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float | dt.date) and not isinstance(value, bool):
            return str(value)  # YAML reads 2018-01-01 as a date
        raise ConfigError(key, f"expected a string, got {value!r}")
    raise TypeError(f"unsupported config type {tp!r} at {key}")


def from_mapping(cls: type[T], data: dict[str, Any] | None, key: str, base: Path | None = None) -> T:
    """Build config ``cls`` from a mapping; errors name ``key.<field>``.

    With ``base``, relative paths in the config are taken relative to it (the YAML's folder).
    """
    data = dict(data or {})
    if not isinstance(data, dict):
        raise ConfigError(key, f"expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}" if key else unknown[0],
            f"unknown key; valid keys are: {', '.join(sorted(fields))}",
        )
    values = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            values[name] = _coerce(data[name], hints[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(sub, "missing required value")
    obj = cls(**values)
    if base is not None and hasattr(obj, "resolve_paths"):
        obj = obj.resolve_paths(base)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(key)
    return obj


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def parse_date(value: str, key: str) -> int:
    """``2018-01-01`` (UTC) or an epoch second count -> epoch seconds."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(key, f"expected a date like 2018-01-01 or epoch seconds, got {value!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def _sub(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _under(base: Path, path: str | None) -> str | None:
    """A config path as given if absolute (or unset), else relative to ``base`` (the YAML's folder)."""
    return path if not path or Path(path).is_absolute() else str(base / path)


def _inputs_under(cfg: T, base: Path, **changes: Any) -> T:
    """``cfg`` with its ``inputs`` (and the given other fields) made relative to ``base``."""
    return dataclasses.replace(cfg, inputs=[_under(base, p) for p in cfg.inputs], **changes)  # type: ignore[type-var]


# ---------------------------------------------------------------------------------------------
# Stage configs


@dataclass
class RunnerConfig:
    """Where shards run."""

    kind: Literal["ray", "local"] = opt(
        "ray", "ray: one Ray task per shard (embedded local Ray, or the cluster in RAY_ADDRESS); "
        "local: in this process", flag="runner",
    )
    max_retries: int = opt(2, "retries per shard for transient errors and lost workers")
    cpus_per_task: float = opt(1.0, "CPUs Ray reserves for each shard task")
    num_cpus: int | None = opt(None, "CPUs of the embedded local Ray (default: all)")
    dashboard: bool = opt(True, "start the Ray dashboard (bound to 127.0.0.1) with the embedded Ray")

    def validate(self, key: str) -> None:
        if self.max_retries < 0:
            raise ConfigError(_sub(key, "max_retries"), "must be >= 0")
        if self.cpus_per_task <= 0:
            raise ConfigError(_sub(key, "cpus_per_task"), "must be > 0")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ConfigError(_sub(key, "num_cpus"), "must be >= 1")


@dataclass
class UrlsConfig:
    """The ``urls`` stage: Reddit submissions -> de-duplicated outbound URLs with karma."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="Pushshift dumps (.zst/.xz/.bz2/.gz/.json/.jsonl/.ndjson), URL lists ({u,r,k} JSON lines "
        "or one URL per line .txt), or folders of them; globs allowed",
        positional=True,
    )
    min_karma: int = opt(3, "keep URLs with at least this karma (GPT-2: 3)")
    karma_mode: Literal["max", "sum"] = opt(
        "max", "max: some submission of the URL reached min_karma (GPT-2's reading); "
        "sum: karma summed over its submissions (OpenWebText2's)",
    )
    keep_self_posts: bool = opt(False, "keep self (text) posts")
    keep_nsfw: bool = opt(False, "keep submissions marked over_18")
    created_after: str | None = opt(None, "keep submissions created at or after this UTC date (2005-06-01)")
    created_before: str | None = opt(None, "keep submissions created before this UTC date (2018-01-01)")
    subreddit_blocklist: str | None = opt(None, "file with one subreddit per line to drop")
    blocklists: bool = opt(True, "apply the Wikipedia, domain and extension blocklists")
    domain_blocklist: str | None = opt(None, "replace the shipped media/social domain blocklist with this file")
    extension_blocklist: str | None = opt(None, "replace the shipped non-HTML extension list with this file")
    max_url_length: int = opt(2048, "drop URLs longer than this many characters")
    buckets: int = opt(16, "URL-hash buckets for the global de-duplication (one reduce task each)")
    reduce_rows: int = opt(
        50_000, "rows a reduce task aggregates at once; larger buckets take several sub-passes (bounds memory)"
    )

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        for i, p in enumerate(self.inputs):
            if not Path(p).exists() and not glob.glob(p):
                raise ConfigError(f"{_sub(key, 'inputs')}[{i}]", f"input not found: {p}")
        if self.min_karma < 0:
            raise ConfigError(_sub(key, "min_karma"), "must be >= 0")
        if not 1 <= self.buckets <= 65536:
            raise ConfigError(_sub(key, "buckets"), "must be between 1 and 65536")
        if self.reduce_rows < 1000:
            raise ConfigError(_sub(key, "reduce_rows"), "must be >= 1000")
        if self.max_url_length < 16:
            raise ConfigError(_sub(key, "max_url_length"), "must be >= 16")
        after = parse_date(self.created_after, _sub(key, "created_after")) if self.created_after else None
        before = parse_date(self.created_before, _sub(key, "created_before")) if self.created_before else None
        if after is not None and before is not None and after >= before:
            raise ConfigError(_sub(key, "created_before"), "must be later than created_after")
        for name in ("subreddit_blocklist", "domain_blocklist", "extension_blocklist"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise ConfigError(_sub(key, name), f"file not found: {value}")

    def resolve_paths(self, base: Path) -> UrlsConfig:
        """Relative paths are relative to ``base`` (the pipelines.yaml folder)."""
        return _inputs_under(
            self, base, subreddit_blocklist=_under(base, self.subreddit_blocklist),
            domain_blocklist=_under(base, self.domain_blocklist),
            extension_blocklist=_under(base, self.extension_blocklist),
        )


@dataclass
class CrawlConfig:
    """The ``crawl`` stage: fetch every URL politely and safely; keep raw responses as WARC."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a urls dataset, any folder/file of Parquet with a `url` column, or a text file of URLs",
        positional=True,
    )
    partitions: int = opt(8, "URL partitions by host hash; one crawl process (Ray task) each")
    concurrency: int = opt(64, "concurrent requests per crawl process")
    concurrency_per_host: int = opt(1, "concurrent requests to one host")
    delay: float = opt(1.0, "seconds between requests to one host (randomised 0.5-1.5x)")
    autothrottle: bool = opt(True, "slow down further when a host answers slowly (AutoThrottle)")
    abort_cooldown: float = opt(2.0, "extra pause for a host after a download was aborted (timeout, size cap)")
    download_timeout: float = opt(30.0, "seconds a whole download may take")
    max_bytes: int = opt(10 * 1024 * 1024, "largest body kept, after decompression; larger ones are aborted")
    max_redirects: int = opt(5, "redirects followed per URL")
    retries: int = opt(2, "retries on 429/5xx/timeouts")
    retry_backoff: float = opt(1.0, "first back-off in seconds without Retry-After (doubles each retry)")
    max_retry_after: float = opt(120.0, "longest Retry-After honoured; longer ones end the URL with an error")
    user_agent: str | None = opt(None, "User-Agent (default names webtext, its version and a contact URL)")
    obey_robots: bool = opt(True, "obey robots.txt (5xx or unreachable robots.txt: host disallowed)")
    robots_max_bytes: int = opt(500 * 1024, "bytes of a robots.txt that are parsed")
    max_crawl_delay: float = opt(30.0, "largest Crawl-delay honoured; hosts asking more are skipped")
    max_urls_per_host: int = opt(10_000, "URLs fetched per host; the rest get a log row 'skipped:host_cap'")
    allow_network: list[str] = opt(  # noqa: RUF009 - opt() turns a list into a default_factory
        [], "CIDR opened despite being private/loopback (repeatable), e.g. 127.0.0.0/8 for tests"
    )
    hosts: list[str] = opt(  # noqa: RUF009 - opt() turns a list into a default_factory
        [], "crawl only these hosts and their subdomains (repeatable); other URLs get 'skipped:host_not_listed'"
    )
    log_chunk_rows: int = opt(200, "fetch-log rows per resumable chunk")
    warc_gzip_level: int = opt(1, "gzip level of WARC records (1: fast; 9: ~15% smaller, a third more crawl CPU)")

    def validate(self, key: str) -> None:
        import ipaddress

        # Inputs may be written by an earlier stage of the same pipeline: checked when the stage runs.
        if not self.inputs:
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        for name in ("partitions", "concurrency", "concurrency_per_host", "max_urls_per_host", "log_chunk_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(_sub(key, name), "must be >= 1")
        for name in ("delay", "retry_backoff", "max_retry_after", "max_crawl_delay", "abort_cooldown"):
            if getattr(self, name) < 0:
                raise ConfigError(_sub(key, name), "must be >= 0")
        if self.download_timeout <= 0:
            raise ConfigError(_sub(key, "download_timeout"), "must be > 0")
        if not 0 <= self.warc_gzip_level <= 9:
            raise ConfigError(_sub(key, "warc_gzip_level"), "must be between 0 and 9")
        if self.max_bytes < 1024:
            raise ConfigError(_sub(key, "max_bytes"), "must be >= 1024")
        for i, cidr in enumerate(self.allow_network):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ConfigError(f"{_sub(key, 'allow_network')}[{i}]", f"not a network: {cidr!r}") from exc

    def resolve_paths(self, base: Path) -> CrawlConfig:
        return _inputs_under(self, base)


@dataclass
class ExtractConfig:
    """The ``extract`` stage: main text of stored HTML with trafilatura, then GPT-2-style cleaning."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a crawl dataset, or folders/globs of .warc/.warc.gz files (Common Crawl WARCs too)", positional=True,
    )
    quality_filters: bool = opt(True, "apply the cleaning rules below (off: extraction only)")
    favor: Literal["balanced", "precision", "recall"] = opt("balanced", "trafilatura's precision/recall trade-off")
    include_tables: bool = opt(True, "keep the text of tables")
    dates: bool = opt(True, "publication date of each page by htmldate (~1 ms a page); off: the date column is null")
    max_bytes: int = opt(5 * 1024 * 1024, "larger bodies are dropped before any parsing (too_large)")
    doc_timeout: float = opt(20.0, "seconds one document may take; the extraction process is killed after that")
    min_words: int = opt(80, "fewer words: too_few_words (80 words ~ 110 GPT-2 tokens; OpenWebText used ~128)")
    max_symbol_ratio: float = opt(0.15, "larger share of digits/symbols among characters: non_prose_symbols")
    max_unpunctuated_lines: float = opt(
        0.60, "larger (word-weighted) share of lines without sentence punctuation: non_prose_lines"
    )
    max_repeated_lines: float = opt(0.60, "larger share of repeated lines: repeated_lines")
    drop_interstitials: bool = opt(True, "drop 'enable JavaScript / verify you are human / cookie wall' pages")
    interstitial_max_words: int = opt(300, "only texts shorter than this are searched for interstitial phrases")
    languages: list[str] = opt(  # noqa: RUF009 - opt() turns a list into a default_factory
        [], "languages kept, e.g. en (GPT-2 kept English; the WebText recipe sets it); empty keeps all"
    )
    min_language_words: int = opt(20, "texts shorter than this are not language-tested")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        if self.max_bytes < 1024:
            raise ConfigError(_sub(key, "max_bytes"), "must be >= 1024")
        if self.doc_timeout <= 0:
            raise ConfigError(_sub(key, "doc_timeout"), "must be > 0")
        for name in ("max_symbol_ratio", "max_unpunctuated_lines", "max_repeated_lines"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(_sub(key, name), "must be between 0 and 1")

    def resolve_paths(self, base: Path) -> ExtractConfig:
        return _inputs_under(self, base)

    def quality_rules(self) -> Any:
        """The cleaning rules (``webtext.extract.cleaning.QualityRules``) these settings describe."""
        from webtext.extract.cleaning import QualityRules

        names = {f.name for f in dataclasses.fields(QualityRules)}
        values = {k: v for k, v in dataclasses.asdict(self).items() if k in names}
        if "languages" in values:
            values["languages"] = tuple(values["languages"])
        return QualityRules(**values)


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
    verify: bool = opt(True, "check LSH candidates against their full signatures (estimated Jaccard >= threshold)")
    recall_weight: float | None = opt(
        None, "weight of missed pairs (false positives get 1 - it) in datasketch's search for the LSH bands x rows; "
        "null: 0.9 with verify (verification removes false positives: 14x9 bands at 0.8), 0.5 without (9x13)",
    )
    partitions: int = opt(16, "band-hash partitions = bucket reduce tasks; more keeps each task's memory smaller")
    batch_rows: int = opt(4096, "documents hashed per kernel call (bounds the signature pass's memory)")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        if not 0 < self.threshold <= 1:
            raise ConfigError(_sub(key, "threshold"), "must be in (0, 1]")
        if not 2 <= self.num_perm <= 4096:
            raise ConfigError(_sub(key, "num_perm"), "must be between 2 and 4096")
        if self.ngram < 1:
            raise ConfigError(_sub(key, "ngram"), "must be >= 1")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(_sub(key, "seed"), "must be between 0 and 2**32-1")
        if not 1 <= self.partitions <= 4096:
            raise ConfigError(_sub(key, "partitions"), "must be between 1 and 4096")
        if self.batch_rows < 1:
            raise ConfigError(_sub(key, "batch_rows"), "must be >= 1")
        if self.recall_weight is not None and not 0 < self.recall_weight < 1:
            raise ConfigError(_sub(key, "recall_weight"), "must be between 0 and 1 (exclusive)")

    def lsh_weights(self) -> tuple[float, float]:
        """(false positive weight, false negative weight) for the bands x rows search."""
        fn = self.recall_weight if self.recall_weight is not None else (0.9 if self.verify else 0.5)
        return 1 - fn, fn

    def resolve_paths(self, base: Path) -> DedupConfig:
        return _inputs_under(self, base)


def _resolve_named_paths(specs: list[str], base: Path) -> list[str]:
    """``NAME=PATH`` specs with relative paths made relative to ``base`` (hf: sources untouched)."""
    out = []
    for spec in specs:
        name, sep, source = spec.partition("=")
        if sep and source and not source.startswith("hf:"):
            spec = f"{name}={_under(base, source)}"
        out.append(spec)
    return out


@dataclass
class ContaminationConfig:
    """The ``contamination`` stage: GPT-2's n-gram overlap of benchmark test sets with a corpus."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a docs dataset, or folders/globs of Parquet files with `id` and `text` (`url`, `karma` used if present)",
        positional=True,
    )
    benchmarks: list[str] = opt(  # noqa: RUF009 - opt() turns a list into a default_factory
        [], "NAME=PATH of a benchmark test set (repeat); known NAMEs pick their loader: wikitext2, wikitext103, "
        "ptb, lambada, cbt, enwik8, text8, 1bw; else one example per line, PATH.jsonl#FIELD, hf:DATASET:SPLIT#FIELD",
        flag="benchmark",
    )
    benchmark_train: list[str] = opt(  # noqa: RUF009
        [], "NAME=PATH of a benchmark's own training split (repeat): Table 6's first row", flag="benchmark-train",
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
    batch_rows: int = opt(2048, "documents hashed per batch")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        if not self.benchmarks:
            raise ConfigError(_sub(key, "benchmarks") if key else "--benchmark", "give at least one NAME=PATH")
        if not 1 <= self.ngram <= 64:
            raise ConfigError(_sub(key, "ngram"), "must be between 1 and 64")
        if not 0 < self.fp_rate < 0.5:
            raise ConfigError(_sub(key, "fp_rate"), "must be in (0, 0.5)")
        if self.bloom is not None and not Path(self.bloom).is_file():
            raise ConfigError(_sub(key, "bloom"), f"no Bloom filter file at {self.bloom}")
        if self.batch_rows < 1:
            raise ConfigError(_sub(key, "batch_rows"), "must be >= 1")
        if self.random_check < 0 or self.bloom_parts < 0 or self.top_documents < 0:
            bad = next(n for n in ("random_check", "bloom_parts", "top_documents") if getattr(self, n) < 0)
            raise ConfigError(_sub(key, bad), "must be >= 0")

    def resolve_paths(self, base: Path) -> ContaminationConfig:
        return _inputs_under(
            self, base, benchmarks=_resolve_named_paths(self.benchmarks, base),
            benchmark_train=_resolve_named_paths(self.benchmark_train, base), bloom=_under(base, self.bloom),
        )


@dataclass
class DecontaminateConfig:
    """``decontaminate``: remove benchmark text found by a contamination report from a docs table."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="the docs the report was made on (a docs dataset or folders/globs of Parquet files)", positional=True,
    )
    report: str = opt("", "the contamination report folder (its hits/ and ngrams/)")
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
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        if not self.report or not (Path(self.report) / "_manifest.json").is_file():
            raise ConfigError(_sub(key, "report"), f"not a finished contamination report folder: {self.report!r}")
        if not 0 <= self.max_fraction <= 1:
            raise ConfigError(_sub(key, "max_fraction"), "must be between 0 and 1")
        for name in ("context_chars", "min_piece_chars", "max_pieces", "max_ngram_docs"):
            if getattr(self, name) < 0:
                raise ConfigError(_sub(key, name), "must be >= 0")

    def resolve_paths(self, base: Path) -> DecontaminateConfig:
        return _inputs_under(self, base, report=_under(base, self.report))


@dataclass
class TrainTokenizerConfig:
    """``train-tokenizer``: GPT-2's kind of byte-level BPE, trained with tokenizers on a corpus sample."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a docs dataset, or folders/globs of Parquet files with `id` and `text`", positional=True,
    )
    vocab_size: int = opt(50257, "tokens including the 256 byte tokens and <|endoftext|> (the last id)")
    sample_bytes: int = opt(1_000_000_000, "text it trains on: every k-th document, streamed, up to about this much")
    threads: int = opt(0, "threads the trainer uses (0: all CPUs of this machine)")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        if not 257 <= self.vocab_size <= 2**32:
            raise ConfigError(_sub(key, "vocab_size"), "must be >= 257 (256 bytes + <|endoftext|>)")
        if self.sample_bytes < 1:
            raise ConfigError(_sub(key, "sample_bytes"), "must be >= 1")
        if self.threads < 0:
            raise ConfigError(_sub(key, "threads"), "must be >= 0")

    def resolve_paths(self, base: Path) -> TrainTokenizerConfig:
        return _inputs_under(self, base)


@dataclass
class TokenizeConfig:
    """The ``tokenize`` stage: docs -> Arrow token shards (train/ and val/ splits)."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a docs dataset, or folders/globs of Parquet files with `id` and `text`", positional=True,
    )
    tokenizer: str = opt("", "tokenizer.json, or a folder with encoder.json+vocab.bpe (OpenAI's GPT-2 files) or "
                             "vocab.json+merges.txt or tokenizer.json")
    val_fraction: float = opt(0.0005, "share of documents in val/, chosen by a hash of the id (nanoGPT: 0.0005)")
    shard_tokens: int = opt(100_000_000, "target tokens per shard: small docs files are grouped up to about this")
    batch_rows: int = opt(1024, "documents encoded per batch")
    max_chars_per_piece: int = opt(1_000_000, "longer documents are encoded in pieces cut at token boundaries")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(_sub(key, "inputs"), "no inputs given")
        if not self.tokenizer:
            raise ConfigError(_sub(key, "tokenizer"), "give the tokenizer (a file or folder)")
        if not Path(self.tokenizer).exists():
            raise ConfigError(_sub(key, "tokenizer"), f"{self.tokenizer} not found")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(_sub(key, "val_fraction"), "must be in [0, 1)")
        for name in ("shard_tokens", "batch_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(_sub(key, name), "must be >= 1")
        if self.max_chars_per_piece < 1000:
            raise ConfigError(_sub(key, "max_chars_per_piece"), "must be >= 1000")

    def resolve_paths(self, base: Path) -> TokenizeConfig:
        return _inputs_under(self, base, tokenizer=_under(base, self.tokenizer))


@dataclass
class TrainConfig:
    """The ``train`` stage: GPT-2 on token shards with FSDP2, checkpoints and exact resume."""

    data: str = opt("", "a tokens dataset (its train/ split is read)")
    preset: Literal["tiny", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"] = opt("gpt2", "model size")
    n_layer: int | None = opt(None, "override the preset's layers")
    n_head: int | None = opt(None, "override the preset's attention heads")
    n_embd: int | None = opt(None, "override the preset's width")
    block_size: int | None = opt(None, "override the preset's context length")
    pad_vocab: bool = opt(False, "pad the embedding/head rows to a multiple of 64 (faster on GPUs)")
    seq_len: int | None = opt(None, "tokens per training window (default: the context length)")
    max_steps: int = opt(1000, "optimizer steps to reach (a resumed run continues up to it)")
    batch_size: int | None = opt(None, "global batch in sequences per optimizer step (default: the preset's)")
    total_batch_tokens: int | None = opt(None, "global batch in tokens (GPT-2: 524288 = 512 x 1024); sets batch_size")
    micro_batch_size: int | None = opt(None, "sequences per process per forward pass (default: as large as the batch "
                                             "allows); gradient accumulation makes up the rest")
    lr: float | None = opt(None, "peak learning rate (default: the preset's)")
    min_lr: float | None = opt(None, "learning rate at the end of the cosine decay (default: lr / 10)")
    warmup_steps: int | None = opt(None, "linear warm-up steps (default: the preset's)")
    lr_decay_steps: int | None = opt(None, "steps of the cosine decay, independent of max_steps so a run can stop and "
                                           "resume (default: the preset's)")
    weight_decay: float = opt(0.1, "AdamW weight decay on matrices (not on biases, norms)")
    beta1: float = opt(0.9, "AdamW beta1")
    beta2: float = opt(0.95, "AdamW beta2")
    grad_clip: float = opt(1.0, "clip the global gradient norm to this (0: off)")
    seed: int = opt(1337, "seed of the initial weights and of the data order")
    deterministic: bool = opt(False, "bitwise-reproducible: deterministic algorithms, fixed seeds")
    checkpoint_every: int = opt(0, "checkpoint every N steps (the last step always is); 0: only the last")
    keep_checkpoints: int = opt(2, "newest checkpoints kept (>= 2)")
    resume: bool = opt(False, "continue from the newest valid checkpoint in --out (any --nproc)")
    nproc: int = opt(1, "local processes (torchrun semantics); torchrun/Ray Train set their own")
    launcher: Literal["local", "ray"] = opt("local", "local: spawn --nproc processes here; ray: Ray Train's "
                                                     "TorchTrainer with --nproc workers on the cluster")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto: CUDA when available")
    compile: bool = opt(False, "torch.compile the model")
    activation_checkpointing: bool = opt(False, "recompute each block's activations in the backward pass")
    max_skipped_steps: int = opt(5, "consecutive non-finite steps after which training stops")
    log_every: int = opt(10, "console log every N steps (metrics.jsonl gets every step)")
    tensorboard: bool = opt(False, "also write TensorBoard events to RUN_DIR/tb (needs the tensorboard package)")
    peak_tflops: float | None = opt(None, "the device's peak TFLOP/s for MFU (default: known GPUs; none on CPU)")
    inject_nan_steps: list[int] = opt(  # noqa: RUF009 - opt() turns a list into a default_factory
        [], "testing: make the loss of these steps non-finite", hidden=True,
    )

    def validate(self, key: str) -> None:
        if not self.data:
            raise ConfigError(_sub(key, "data"), "give the tokens dataset")  # it may not exist yet in a pipeline
        for name in ("max_steps", "nproc", "max_skipped_steps", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(_sub(key, name), "must be >= 1")
        if self.keep_checkpoints < 2:
            raise ConfigError(_sub(key, "keep_checkpoints"), "must be >= 2 (a corrupt newest one falls back)")
        for name in ("n_layer", "n_head", "n_embd", "block_size", "seq_len", "batch_size", "total_batch_tokens",
                     "micro_batch_size", "warmup_steps", "lr_decay_steps"):
            v = getattr(self, name)
            if v is not None and v < (0 if name == "warmup_steps" else 1):
                raise ConfigError(_sub(key, name), "must be >= 1" if name != "warmup_steps" else "must be >= 0")
        if self.checkpoint_every < 0:
            raise ConfigError(_sub(key, "checkpoint_every"), "must be >= 0")

    def resolve_paths(self, base: Path) -> TrainConfig:
        return dataclasses.replace(self, data=_under(base, self.data))


#: Stage name -> its config class, in pipeline order. Later stages register here.
STAGES: dict[str, type] = {
    "urls": UrlsConfig, "crawl": CrawlConfig, "extract": ExtractConfig, "dedup": DedupConfig,
    "contamination": ContaminationConfig, "decontaminate": DecontaminateConfig,
    "train-tokenizer": TrainTokenizerConfig, "tokenize": TokenizeConfig, "train": TrainConfig,
}
import webtext.eval.config  # noqa: E402, F401 - registers "eval" in STAGES (it builds on the helpers above)


@dataclass
class PipelineConfig:
    """A ``pipelines.yaml`` file: where outputs go, how shards run, which stages with what."""

    workdir: Path
    runner: RunnerConfig
    stages: dict[str, Any]
    outs: dict[str, Path]
    source: Path


def load_pipeline(path: Path) -> PipelineConfig:
    """Read and validate a pipelines.yaml; every error names the key to change."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError("", f"pipeline file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("", f"{path}: expected a mapping with 'workdir', 'runner' and 'stages'")
    unknown = sorted(set(data) - {"workdir", "runner", "stages"})
    if unknown:
        raise ConfigError(unknown[0], "unknown key; valid keys are: runner, stages, workdir")
    base = path.resolve().parent
    workdir = base / _coerce(data.get("workdir", "webtext-data"), str, "workdir")
    runner = from_mapping(RunnerConfig, data.get("runner"), "runner")
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, dict) or not raw_stages:
        raise ConfigError("stages", f"expected a mapping of stage names ({', '.join(STAGES)}) to settings")
    stages: dict[str, Any] = {}
    outs: dict[str, Path] = {}
    for name, settings in raw_stages.items():
        if name not in STAGES:
            raise ConfigError(f"stages.{name}", f"unknown stage; valid stages are: {', '.join(STAGES)}")
        settings = dict(settings or {})
        out = settings.pop("out", None)
        outs[name] = base / _coerce(out, str, f"stages.{name}.out") if out else workdir / name
        stages[name] = from_mapping(STAGES[name], settings, f"stages.{name}", base=base)
    return PipelineConfig(workdir=workdir, runner=runner, stages=stages, outs=outs, source=path)
