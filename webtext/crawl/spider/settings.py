"""scrapy settings for one partition's crawl, from the stage's ``CrawlConfig``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from webtext import __version__

DEFAULT_USER_AGENT = f"webtext/{__version__} (+https://github.com/webtext-project/webtext; WebText rebuild crawler)"


def crawl_settings(cfg: Any, warc_path: Path, log_chunks: Path) -> dict[str, Any]:
    """Settings for a crawl process. ``cfg`` is a ``webtext.crawl.config.CrawlConfig``."""
    return {
        "BOT_NAME": "webtext",
        "USER_AGENT": cfg.user_agent or DEFAULT_USER_AGENT,
        "ROBOTSTXT_OBEY": cfg.obey_robots,
        "WEBTEXT_ROBOTS_MAX_BYTES": cfg.robots_max_bytes,
        "WEBTEXT_MAX_CRAWL_DELAY": cfg.max_crawl_delay,
        # Politeness: one connection per host, a pause between its requests, adaptive slow-down.
        "CONCURRENT_REQUESTS": cfg.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": cfg.concurrency_per_host,
        # A callback returns one item, and the pipelines are synchronous: scrapy's default of 100
        # starts 100 asyncio tasks per response to process it (a fifth of the crawl's CPU).
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": cfg.delay,
        "RANDOMIZE_DOWNLOAD_DELAY": True,
        "DOWNLOADER": "webtext.crawl.spider.downloader.PoliteDownloader",  # delay counted from a response's end
        "WEBTEXT_ABORT_COOLDOWN": cfg.abort_cooldown,
        "AUTOTHROTTLE_ENABLED": cfg.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(cfg.delay, 0.1),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(cfg.concurrency_per_host),
        # Limits.
        "DOWNLOAD_TIMEOUT": cfg.download_timeout,
        "DOWNLOAD_MAXSIZE": cfg.max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": cfg.max_redirects,
        "METAREFRESH_ENABLED": True,
        "RETRY_ENABLED": cfg.retries > 0,
        "RETRY_TIMES": cfg.retries,
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "WEBTEXT_RETRY_BACKOFF": cfg.retry_backoff,
        "WEBTEXT_MAX_RETRY_AFTER": cfg.max_retry_after,
        "COOKIES_ENABLED": False,
        "HTTPERROR_ALLOW_ALL": True,  # 404s and 500s get a log row with their status
        "DNS_TIMEOUT": min(cfg.download_timeout, 30),
        # Safety: http(s) only, no private address at request time nor at connection time.
        "DOWNLOAD_HANDLERS": {"file": None, "data": None, "s3": None, "ftp": None},
        "DNS_RESOLVER": "webtext.crawl.spider.resolver.SafeResolver",
        "WEBTEXT_ALLOW_NETWORKS": list(cfg.allow_network),
        "DOWNLOADER_MIDDLEWARES": {
            "webtext.crawl.spider.middlewares.AddressSafetyMiddleware": 50,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "webtext.crawl.spider.middlewares.PoliteRobotsTxtMiddleware": 100,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "webtext.crawl.spider.middlewares.BackoffRetryMiddleware": 550,
        },
        "ITEM_PIPELINES": {
            "webtext.crawl.spider.pipelines.WarcWriterPipeline": 300,
            "webtext.crawl.spider.pipelines.FetchLogPipeline": 400,
        },
        "WEBTEXT_WARC_PATH": str(warc_path),
        "WEBTEXT_WARC_GZIP_LEVEL": cfg.warc_gzip_level,
        "LOG_FORMATTER": "webtext.crawl.spider.logformatter.QuietLogFormatter",
        "WEBTEXT_LOG_CHUNKS": str(log_chunks),
        "WEBTEXT_LOG_CHUNK_ROWS": cfg.log_chunk_rows,
        "WEBTEXT_MAX_URLS_PER_HOST": cfg.max_urls_per_host,
        # Housekeeping.
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        "LOGSTATS_INTERVAL": 30.0,
    }
