"""The one spider: fetch every URL of a partition once and turn each outcome into a FetchItem."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest, StopDownload
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError

from webtext.crawl.spider.items import FetchItem
from webtext.textforms import HTML_TYPES

log = logging.getLogger(__name__)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _content_type(response: Response) -> str:
    value = response.headers.get(b"Content-Type") or b""
    return value.decode("latin-1").split(";", 1)[0].strip().lower()


def _headers(headers: Any) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, vs in headers.items() for v in vs]


def describe_failure(failure: Any) -> str:
    """The ``error`` column for a failed request: a short reason, then details."""
    from scrapy.exceptions import (
        CannotResolveHostError,
        DownloadCancelledError,
        DownloadConnectionRefusedError,
        DownloadTimeoutError,
    )

    exc = failure.value
    text = str(exc)
    if "blocked:" in text:  # our own refusals, whichever layer raised them
        return text[text.index("blocked:") :][:300]
    if isinstance(exc, IgnoreRequest):
        if "DOWNLOAD_MAXSIZE" in text or "max size" in text:
            return f"too_large: {text[:200]}"
        return text[:300]
    if isinstance(exc, (TimeoutError, TCPTimedOutError, DownloadTimeoutError)):
        return f"timeout: {text[:200]}"
    if isinstance(exc, (DNSLookupError, CannotResolveHostError)):
        return f"dns: {text[:200]}"
    if isinstance(exc, (ConnectionRefusedError, DownloadConnectionRefusedError)):
        return "connection_refused"
    if isinstance(exc, DownloadCancelledError) or "max size" in text or "maxsize" in text.lower():
        return f"too_large: {text[:200] or 'the body exceeded the size cap'}"
    if isinstance(exc, HttpError):
        return f"http_error: {exc.response.status}"
    return f"{type(exc).__name__}: {text[:200]}"


class UrlListSpider(scrapy.Spider):
    """Reads its partition (a Parquet file of URLs + lineage columns), skipping URLs already logged."""

    name = "webtext"

    def __init__(self, partition: str, done: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.partition = Path(partition)
        self.done_path = Path(done) if done else None

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> UrlListSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.on_headers, signal=scrapy.signals.headers_received)
        return spider

    def on_headers(self, headers: Any, body_length: int, request: Any, spider: Any) -> None:
        """Do not download bodies we will not keep: non-HTML types stop at the headers."""
        if "webtext_url" not in request.meta:  # robots.txt and other internal requests: read them whole
            return
        ctype = (headers.get(b"Content-Type") or b"").decode("latin-1").split(";", 1)[0].strip().lower()
        if ctype and ctype not in HTML_TYPES:
            raise StopDownload(fail=False)

    async def start(self) -> AsyncIterator[Any]:
        import pyarrow.parquet as pq

        done: set[str] = set()
        seen: set[str] = set()
        if self.done_path is not None and self.done_path.exists():
            done = set(pq.read_table(self.done_path, columns=["url"])["url"].to_pylist())
        table = pq.read_table(self.partition)
        lineage_cols = [c for c in table.column_names if c not in ("url", "skip_reason", "host")]
        cap = self.settings.getint("WEBTEXT_MAX_URLS_PER_HOST", 0)
        per_host: dict[str, int] = {}
        for row in table.to_pylist():
            url = row["url"]
            first_time = url not in seen
            seen.add(url)
            if row.get("host"):  # the cap counts distinct URLs, logged ones included
                per_host[row["host"]] = per_host.get(row["host"], 0) + first_time
            if url in done or not first_time:  # logged before a resume, or listed twice: once only
                continue
            lineage = {c: row[c] for c in lineage_cols}
            skip = row.get("skip_reason")
            if not skip and cap and row.get("host") and per_host[row["host"]] > cap:
                skip = "skipped:host_cap"
            if skip:
                yield FetchItem(url=url, fetched_at=_now(), error=skip, lineage=lineage)
                continue
            yield scrapy.Request(
                url, callback=self.parse, errback=self.failed, dont_filter=True,
                meta={"webtext_url": url, "webtext_lineage": lineage},
            )

    def parse(self, response: Response) -> Any:
        ctype = _content_type(response)
        item = FetchItem(
            url=response.meta["webtext_url"],
            final_url=response.url,
            status=response.status,
            content_type=ctype or None,
            bytes=len(response.body),
            fetched_at=_now(),
            lineage=response.meta["webtext_lineage"],
            error=response.meta.get("webtext_error"),
        )
        if ctype not in HTML_TYPES:
            item.error = item.error or f"not_html: {ctype or 'no content type'}"
            item.bytes = None if "download_stopped" in response.flags else item.bytes
            return item
        item.http_version = response.protocol or "HTTP/1.1"
        item.response_headers = _headers(response.headers)
        item.request_headers = _headers(response.request.headers) if response.request is not None else []
        item.body = response.body
        return item

    def failed(self, failure: Any) -> FetchItem:
        request = failure.request
        return FetchItem(
            url=request.meta["webtext_url"],
            final_url=request.url,
            status=getattr(getattr(failure.value, "response", None), "status", None),
            fetched_at=_now(),
            error=describe_failure(failure),
            lineage=request.meta["webtext_lineage"],
        )
