"""The private names of libraries the crawl leans on still exist (pyproject pins an upper bound).

webtext/crawl/spider/ subclasses scrapy's robots.txt middleware, downloader and retry middleware
and reaches into their internals. pyproject.toml bounds scrapy above; when that bound is raised,
these tests say which private name a new release changed, instead of the crawl failing at run time.
(datasketch's LSH optimiser is vendored instead: webtext.dedup.minhash.lsh_params; tiktoken is used
only through its public ``Encoding``: the ``_engine`` field in webtext/tokenize/bpe.py is ours.)
"""

from __future__ import annotations

import inspect

import pytest

scrapy = pytest.importorskip("scrapy")


def _require(obj: object, name: str, user: str) -> None:
    assert hasattr(obj, name), (
        f"scrapy {scrapy.__version__} has no {getattr(obj, '__name__', type(obj).__name__)}.{name}, which {user} "
        f"relies on: adapt {user} to this release or keep scrapy below it in pyproject.toml"
    )


def test_robots_middleware_internals_exist():
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
    from scrapy.utils.test import get_crawler

    user = "webtext/crawl/spider/middlewares.py (RobotsMiddleware)"
    for name in ("robot_parser", "process_request_2", "_parse_robots", "_robots_error"):
        _require(RobotsTxtMiddleware, name, user)
    params = list(inspect.signature(RobotsTxtMiddleware._parse_robots).parameters)
    assert params[:4] == ["self", "response", "netloc", "request"], (
        f"scrapy {scrapy.__version__}: RobotsTxtMiddleware._parse_robots{tuple(params)} changed its arguments; "
        f"{user} overrides it with (response, netloc, request)")
    params = list(inspect.signature(RobotsTxtMiddleware._robots_error).parameters)
    assert params[:3] == ["self", "exc", "netloc"], (
        f"scrapy {scrapy.__version__}: RobotsTxtMiddleware._robots_error{tuple(params)} changed its arguments; "
        f"{user} overrides it with (exc, netloc)")
    middleware = RobotsTxtMiddleware(get_crawler(settings_dict={"ROBOTSTXT_OBEY": True}))
    for name in ("_parsers", "_parserimpl", "_robotstxt_useragent", "_default_useragent"):
        _require(middleware, name, user)
    assert isinstance(middleware._parsers, dict), f"{user} reads RobotsTxtMiddleware._parsers as a netloc -> dict"


def test_downloader_internals_exist():
    from scrapy.core.downloader import Downloader, Slot
    from scrapy.core.downloader.handlers import DownloadHandlers

    user = "webtext/crawl/spider/downloader.py (PoliteDownloader)"
    for name in ("_process_queue", "get_slot_key"):
        _require(Downloader, name, user)
    init = inspect.getsource(Downloader.__init__)
    for name in ("self.slots", "self.handlers"):
        assert name in init, f"scrapy {scrapy.__version__}: Downloader no longer sets {name}, which {user} uses"
    _require(DownloadHandlers, "download_request_async", user)
    slot = Slot(1, 0.5, 1)
    for name in ("lastseen", "jitter", "delay"):
        _require(slot, name, user)


def test_retry_middleware_internals_exist():
    from scrapy.downloadermiddlewares.retry import RetryMiddleware

    user = "webtext/crawl/spider/middlewares.py (BackoffRetryMiddleware)"
    _require(RetryMiddleware, "_retry", user)
    params = list(inspect.signature(RetryMiddleware._retry).parameters)
    assert params[:3] == ["self", "request", "reason"], (
        f"scrapy {scrapy.__version__}: RetryMiddleware._retry{tuple(params)} changed its arguments; {user} calls "
        "it as _retry(request, reason)")
