"""Configs of the ``urls`` and ``crawl`` stages (their CLI flags and ``pipelines.yaml`` keys)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from webtext.config import inputs_under, opt, parse_date, subkey, under
from webtext.errors import ConfigError
from webtext.stage_spec import StaticInput, input_paths


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
    created_after: str | None = opt(None, "keep submissions created at or after this UTC date (e.g. 2005-06-01)")
    created_before: str | None = opt(None, "keep submissions created before this UTC date (e.g. 2018-01-01)")
    subreddit_blocklist: str | None = opt(None, "file with one subreddit per line to drop")
    blocklists: bool = opt(True, "apply the Wikipedia, domain and extension blocklists",
                           neg_help="do not apply the Wikipedia, domain and extension blocklists")
    domain_blocklist: str | None = opt(None, "replace the shipped media/social domain blocklist with this file")
    extension_blocklist: str | None = opt(None, "replace the shipped non-HTML extension list with this file")
    max_url_length: int = opt(2048, "drop URLs longer than this many characters")
    buckets: int = opt(16, "URL-hash buckets for the global de-duplication (one reduce task each)")
    reduce_rows: int = opt(
        50_000, "rows a reduce task aggregates at once; larger buckets take several sub-passes (bounds memory)"
    )

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        if self.min_karma < 0:
            raise ConfigError(subkey(key, "min_karma"), "must be >= 0")
        if not 1 <= self.buckets <= 65536:
            raise ConfigError(subkey(key, "buckets"), "must be between 1 and 65536")
        if self.reduce_rows < 1000:
            raise ConfigError(subkey(key, "reduce_rows"), "must be >= 1000")
        if self.max_url_length < 16:
            raise ConfigError(subkey(key, "max_url_length"), "must be >= 16")
        after = parse_date(self.created_after, subkey(key, "created_after")) if self.created_after else None
        before = parse_date(self.created_before, subkey(key, "created_before")) if self.created_before else None
        if after is not None and before is not None and after >= before:
            raise ConfigError(subkey(key, "created_before"), "must be later than created_after")

    def static_inputs(self) -> list[StaticInput]:
        """The dumps and the blocklist files given (checked before the stage, or a pipeline, runs)."""
        lists = [StaticInput(n, getattr(self, n), "blocklist file")
                 for n in ("subreddit_blocklist", "domain_blocklist", "extension_blocklist") if getattr(self, n)]
        return [*input_paths(self.inputs), *lists]

    def resolve_paths(self, base: Path) -> UrlsConfig:
        """Relative paths are relative to ``base`` (the pipelines.yaml folder)."""
        return inputs_under(
            self, base, subreddit_blocklist=under(base, self.subreddit_blocklist),
            domain_blocklist=under(base, self.domain_blocklist),
            extension_blocklist=under(base, self.extension_blocklist),
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
    autothrottle: bool = opt(True, "slow down further when a host answers slowly (AutoThrottle)",
                             neg_help="no AutoThrottle: a slow host gets only the fixed delay between requests")
    abort_cooldown: float = opt(2.0, "extra pause for a host after a download was aborted (timeout, size cap)")
    download_timeout: float = opt(30.0, "seconds a whole download may take")
    max_bytes: int = opt(10 * 1024 * 1024, "largest body kept, after decompression; larger ones are aborted")
    max_redirects: int = opt(5, "redirects followed per URL")
    retries: int = opt(2, "retries on 429/5xx/timeouts")
    retry_backoff: float = opt(1.0, "first back-off in seconds without Retry-After (doubles each retry)")
    max_retry_after: float = opt(120.0, "longest Retry-After honoured; longer ones end the URL with an error")
    user_agent: str | None = opt(None, "User-Agent (default names webtext, its version and a contact URL)")
    obey_robots: bool = opt(True, "obey robots.txt (5xx or unreachable robots.txt: host disallowed)",
                            neg_help="ignore robots.txt (pages it disallows are crawled too)")
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
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        for name in ("partitions", "concurrency", "concurrency_per_host", "max_urls_per_host", "log_chunk_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(subkey(key, name), "must be >= 1")
        for name in ("delay", "retry_backoff", "max_retry_after", "max_crawl_delay", "abort_cooldown"):
            if getattr(self, name) < 0:
                raise ConfigError(subkey(key, name), "must be >= 0")
        if self.download_timeout <= 0:
            raise ConfigError(subkey(key, "download_timeout"), "must be > 0")
        if not 0 <= self.warc_gzip_level <= 9:
            raise ConfigError(subkey(key, "warc_gzip_level"), "must be between 0 and 9")
        if self.max_bytes < 1024:
            raise ConfigError(subkey(key, "max_bytes"), "must be >= 1024")
        for i, cidr in enumerate(self.allow_network):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ConfigError(f"{subkey(key, 'allow_network')}[{i}]", f"not a network: {cidr!r}") from exc

    def static_inputs(self) -> list[StaticInput]:
        return input_paths(self.inputs)

    def resolve_paths(self, base: Path) -> CrawlConfig:
        return inputs_under(self, base)
