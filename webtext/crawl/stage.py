"""The ``urls`` and ``crawl`` stages as the registry sees them (light: no scrapy, no Ray)."""

from __future__ import annotations

from webtext.crawl.config import CrawlConfig, UrlsConfig
from webtext.data import Manifest
from webtext.stage_spec import DemoContext, StageSpec, top_counts


def summarise_urls(manifest: Manifest) -> str:
    s = manifest.stats
    sub = s.get("submissions", {})
    return (
        f"urls: {sub.get('lines', 0):,} lines -> {sub.get('kept_submissions', 0):,} submissions -> "
        f"{s.get('urls', 0):,} distinct URLs -> {s.get('kept_urls', 0):,} kept "
        f"(karma drop {s.get('dropped_karma', 0):,}; line drops: {top_counts(sub, 'dropped_', 6) or 'none'})"
    )


#: Kinds of the fetch log's ``error`` column (its ``error_<kind>`` counters) that are outcomes the
#: crawl chose, not failures: URLs not requested by rule (hosts not listed, the per-host cap,
#: robots.txt, our address/scheme safety blocks), and answers that are not pages we keep.
NOT_FETCHED = ("skipped", "robots", "blocked")
NOT_PAGES = ("not_html", "too_large")


def summarise_crawl(manifest: Manifest) -> str:
    s = manifest.stats
    groups: dict[str, dict[str, int]] = {"not fetched by rule": {}, "not pages": {}, "errors": {}}
    for key, n in s.items():
        if key.startswith("error_") and isinstance(n, int) and n:
            kind = key[len("error_"):]
            group = "not fetched by rule" if kind in NOT_FETCHED else "not pages" if kind in NOT_PAGES else "errors"
            groups[group][f"error_{kind}"] = n
    shown = [f"{name}: {top_counts(counts, 'error_', 6)}" for name, counts in groups.items() if counts]
    if not groups["errors"]:
        shown.append("errors: none")
    return (f"crawl: {s.get('urls', 0):,} URLs -> {s.get('stored', 0):,} pages stored in WARC "
            f"({s.get('status_200', 0):,} answered 200; {'; '.join(shown)})")


def demo_urls(ctx: DemoContext) -> UrlsConfig:
    return UrlsConfig(inputs=[str(ctx.dumps)], created_before="2018-01-01", buckets=4)


def demo_crawl(ctx: DemoContext) -> tuple[CrawlConfig, object]:
    hosts = sorted({u.split("/")[2].split(":")[0] for u in ctx.site.urls()})
    cfg = CrawlConfig(
        inputs=[str(ctx.out("urls"))], partitions=2, concurrency=16, delay=0.2, download_timeout=10,
        allow_network=["127.0.0.0/8"], hosts=hosts, retries=1,
    )
    return cfg, ctx.server()  # the demo website is up while the crawl runs


URLS = StageSpec(
    name="urls", config=UrlsConfig, run="webtext.crawl.url_stage:run_urls",
    help="Reddit submission dumps -> de-duplicated outbound URLs with karma",
    summarise=summarise_urls, demo=demo_urls, static_inputs=UrlsConfig.static_inputs,
)

CRAWL = StageSpec(
    name="crawl", config=CrawlConfig, run="webtext.crawl.crawl_stage:run_crawl",
    help="fetch URLs politely and safely with scrapy; WARC + fetch log",
    summarise=summarise_crawl, demo=demo_crawl, static_inputs=CrawlConfig.static_inputs,
)
