"""Downloader middlewares: address safety, robots.txt as RFC 9309 reads it, retry back-off.

Order (``DOWNLOADER_MIDDLEWARES``): the safety check runs first, so neither a page nor its
robots.txt is ever requested from a forbidden address, on the first hop or after a redirect.
"""

from __future__ import annotations

import email.utils
import logging
import time
from typing import Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import reactor, task, threads
from twisted.internet.defer import Deferred

from webtext.crawl.safety import BLOCKED_ERROR, AddressPolicy, BlockedAddressError, resolve

log = logging.getLogger(__name__)


async def _sleep(seconds: float) -> None:
    await maybe_deferred_to_future(task.deferLater(reactor, seconds, lambda: None))


class AddressSafetyMiddleware:
    """Refuse non-http(s) URLs and hosts that resolve to any forbidden address."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self._verdicts: dict[tuple[str, int], str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> AddressSafetyMiddleware:
        return cls(AddressPolicy.from_cidrs(crawler.settings.getlist("WEBTEXT_ALLOW_NETWORKS")))

    async def process_request(self, request: Any, spider: Any = None) -> None:
        parsed = urlparse_cached(request)
        if parsed.scheme not in ("http", "https"):
            raise IgnoreRequest(f"blocked:scheme {parsed.scheme}")
        host = parsed.hostname or ""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        key = (host, port)
        if key not in self._verdicts:
            try:
                addresses = await maybe_deferred_to_future(threads.deferToThread(resolve, host, port))
                self.policy.check(addresses)
                self._verdicts[key] = None
            except BlockedAddressError as exc:
                self._verdicts[key] = f"{BLOCKED_ERROR} ({exc})"
            except OSError as exc:
                raise IgnoreRequest(f"dns: cannot resolve {host} ({exc})") from exc
        verdict = self._verdicts[key]
        if verdict is not None:
            raise IgnoreRequest(verdict)

    def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        """A redirect scrapy did not follow because it leaves http(s) is an error, not a page."""
        location = response.headers.get(b"Location")
        if 300 <= response.status < 400 and location:
            from urllib.parse import urljoin, urlsplit

            target = urljoin(request.url, location.decode("latin-1"))
            scheme = urlsplit(target).scheme.lower()
            if scheme not in ("http", "https"):
                raise IgnoreRequest(f"blocked:scheme {scheme} (redirect to {target[:200]})")
        return response


class PoliteRobotsTxtMiddleware(RobotsTxtMiddleware):
    """scrapy's robots.txt handling, with RFC 9309's reading of failures and a size cap.

    - 2xx: parsed (at most ``WEBTEXT_ROBOTS_MAX_BYTES``); ``Crawl-delay`` raises the host's delay,
      up to ``WEBTEXT_MAX_CRAWL_DELAY``; a host asking for more is skipped.
    - 4xx: no rules, everything allowed.
    - 5xx or no answer: "unreachable", the whole host is disallowed for now.
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.max_bytes = crawler.settings.getint("WEBTEXT_ROBOTS_MAX_BYTES", 500 * 1024)
        self.max_crawl_delay = crawler.settings.getfloat("WEBTEXT_MAX_CRAWL_DELAY", 30.0)
        self.base_delay = crawler.settings.getfloat("DOWNLOAD_DELAY", 0.0)
        self._why: dict[str, str] = {}  # netloc -> reason every URL of it is refused
        self._delays: dict[str, float] = {}  # hostname -> crawl delay asked for

    async def process_request(self, request: Any, spider: Any = None) -> None:
        if request.meta.get("dont_obey_robotstxt"):
            return
        rp = await self.robot_parser(request)
        # Requests that waited for the same robots.txt can be handed None by the shared Deferred's
        # callback chain; the parsed rules are in self._parsers once it has fired.
        stored = self._parsers.get(urlparse_cached(request).netloc)
        if stored is not None and not isinstance(stored, Deferred):
            rp = stored
        self.process_request_2(rp, request)

    def _parser(self, text: bytes) -> Any:
        from scrapy.utils.misc import build_from_crawler

        return build_from_crawler(self._parserimpl, self.crawler, text)

    async def _parse_robots(self, response: Any, netloc: str, request: Any) -> None:
        status = response.status
        if status >= 500:
            self._why[netloc] = f"robots:unavailable (robots.txt answered {status})"
            body = b"User-agent: *\nDisallow: /\n"
        elif status >= 400:
            body = b""
        else:
            body = response.body[: self.max_bytes]
        rp = self._parser(body)
        if status < 400:
            delay = self._crawl_delay(body)
            if delay is not None:
                host = urlparse_cached(request).hostname or ""
                if delay > self.max_crawl_delay:
                    self._why[netloc] = f"robots:crawl_delay_too_long ({delay:g}s > {self.max_crawl_delay:g}s)"
                else:
                    self._delays[host] = delay
        rp_dfd = self._parsers[netloc]
        self._parsers[netloc] = rp
        rp_dfd.callback(rp)  # type: ignore[union-attr]

    def _crawl_delay(self, body: bytes) -> float | None:
        from protego import Protego

        try:
            rules = Protego.parse(body.decode("utf-8", "replace"))
            agent = str(self._robotstxt_useragent or self._default_useragent)
            delay = rules.crawl_delay(agent)
        except Exception:  # a robots.txt protego cannot read has no usable delay
            return None
        return float(delay) if delay is not None else None

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        self._why[netloc] = f"robots:unavailable ({type(exc).__name__})"
        rp_dfd = self._parsers[netloc]
        self._parsers[netloc] = self._parser(b"User-agent: *\nDisallow: /\n")
        rp_dfd.callback(self._parsers[netloc])  # type: ignore[union-attr]

    def process_request_2(self, rp: Any, request: Any) -> None:
        parsed = urlparse_cached(request)
        why = self._why.get(parsed.netloc)
        if why is not None:
            raise IgnoreRequest(why)
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:
            raise IgnoreRequest("robots:disallowed") from exc
        delay = self._delays.get(parsed.hostname or "")
        if delay is not None:
            downloader = self.crawler.engine.downloader
            slot = downloader.slots.get(parsed.hostname or "")
            if slot is not None and hasattr(downloader, "set_min_delay"):
                downloader.set_min_delay(slot, delay)  # kept whatever AutoThrottle does


class BackoffRetryMiddleware(RetryMiddleware):
    """Retry 429/5xx after ``Retry-After`` (capped) or an exponential back-off; timeouts too."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("WEBTEXT_RETRY_BACKOFF", 1.0)
        self.max_retry_after = settings.getfloat("WEBTEXT_MAX_RETRY_AFTER", 120.0)

    @staticmethod
    def retry_after(value: bytes | None) -> float | None:
        """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
        if not value:
            return None
        text = value.decode("latin-1").strip()
        if text.isdigit():
            return float(text)
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())

    async def process_response(self, request: Any, response: Any, spider: Any = None) -> Any:
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        attempt = request.meta.get("retry_times", 0)
        if attempt >= request.meta.get("max_retry_times", self.max_retry_times):
            return response
        wait = self.retry_after(response.headers.get(b"Retry-After"))
        if wait is None:
            wait = self.backoff * (2**attempt)
        elif wait > self.max_retry_after:
            request.meta["webtext_error"] = f"retry_after_too_long ({wait:.0f}s)"
            return response
        await _sleep(wait)
        return self._retry(request, f"{response.status} (waited {wait:.1f}s)") or response

    async def process_exception(self, request: Any, exception: Exception, spider: Any = None) -> Any:
        """Timeouts and connection errors: retried after the same exponential back-off."""
        if request.meta.get("dont_retry", False) or not isinstance(exception, self.exceptions_to_retry):
            return None
        attempt = request.meta.get("retry_times", 0)
        if attempt >= request.meta.get("max_retry_times", self.max_retry_times):
            return None
        await _sleep(self.backoff * (2**attempt))
        return self._retry(request, exception)
