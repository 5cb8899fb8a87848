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

        def fix(p: str | None) -> str | None:
            return None if p is None else str(base / p) if not Path(p).is_absolute() else p

        return dataclasses.replace(
            self,
            inputs=[fix(p) or p for p in self.inputs],
            subreddit_blocklist=fix(self.subreddit_blocklist),
            domain_blocklist=fix(self.domain_blocklist),
            extension_blocklist=fix(self.extension_blocklist),
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
        return dataclasses.replace(self, inputs=[p if Path(p).is_absolute() else str(base / p) for p in self.inputs])


@dataclass
class ExtractConfig:
    """The ``extract`` stage: main text of stored HTML with trafilatura, then GPT-2-style cleaning."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a crawl dataset, or folders/globs of .warc/.warc.gz files (Common Crawl WARCs too)", positional=True,
    )
    quality_filters: bool = opt(True, "apply the cleaning rules below (off: extraction only)")
    favor: Literal["balanced", "precision", "recall"] = opt("balanced", "trafilatura's precision/recall trade-off")
    include_tables: bool = opt(True, "keep the text of tables")
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
        return dataclasses.replace(self, inputs=[p if Path(p).is_absolute() else str(base / p) for p in self.inputs])

    def quality_rules(self) -> Any:
        """The cleaning rules (``webtext.extract.cleaning.QualityRules``) these settings describe."""
        from webtext.extract.cleaning import QualityRules

        names = {f.name for f in dataclasses.fields(QualityRules)}
        values = {k: v for k, v in dataclasses.asdict(self).items() if k in names}
        if "languages" in values:
            values["languages"] = tuple(values["languages"])
        return QualityRules(**values)


#: Stage name -> its config class, in pipeline order. Later stages register here.
STAGES: dict[str, type] = {"urls": UrlsConfig, "crawl": CrawlConfig, "extract": ExtractConfig}


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
