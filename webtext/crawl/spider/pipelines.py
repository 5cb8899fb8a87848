"""Item pipelines: the WARC writer (raw exchange -> WARC/1.1 records) and the fetch log.

The WARC records are built, digested, gzipped and appended by one writer thread, in the order the
pages arrive, while scrapy's loop goes on with the next responses (SHA-1 and zlib release the
GIL: about a sixth of the crawl process's CPU moves off the loop). A page's offset and length are
known once the thread has written it; the fetch log fills them in when it writes a chunk.

The fetch log is written in small Parquet chunks, each only after the WARC records its rows
point to are written and flushed to the OS: a crawl killed at any moment leaves rows that are all
backed by complete records, and a rerun resumes from them (see ``webtext.crawl.crawl_stage``).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from webtext import faults
from webtext.crawl.spider.items import FetchItem

log = logging.getLogger(__name__)


class WarcWriterPipeline:
    """Append a WARC/1.1 ``request`` and ``response`` record for every stored page."""

    def __init__(self, path: Path, gzip_level: int = 1) -> None:
        self.path = Path(path)
        self.gzip_level = gzip_level
        self._file: Any = None
        self._writer: Any = None
        self._buffer = io.BytesIO()
        self._thread: Any = None  # the writer thread (a ThreadPoolExecutor), started with the file
        self._last: Future | None = None  # the newest page handed to the thread

    @classmethod
    def from_crawler(cls, crawler: Any) -> WarcWriterPipeline:
        settings = crawler.settings
        pipeline = cls(Path(settings["WEBTEXT_WARC_PATH"]), settings.getint("WEBTEXT_WARC_GZIP_LEVEL", 1))
        crawler.webtext_warc_writer = pipeline  # the fetch log flushes it before each chunk
        return pipeline

    def open_spider(self, spider: Any = None) -> None:
        from warcio.warcwriter import WARCWriter

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115 - closed in close_spider
        # warcio serialises each record into a buffer; we gzip it as one member ourselves, at a
        # chosen level (warcio's own gzip is level 9: a third of the crawl's CPU for ~15% less disk).
        self._writer = WARCWriter(self._buffer, gzip=False, warc_version="1.1")
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="warc-writer")

    def flush(self) -> None:
        """Wait until every page handed over is written, then flush the file.

        To the OS, not to the disk: a killed process loses nothing handed over; after a machine
        crash the resume drops log rows whose records did not reach the disk (crawl_stage)."""
        if self._last is not None:
            # One thread writes in order: the newest page done means every page done. Its own
            # error (if any) belongs to its item, which the fetch log reports.
            self._last.exception()
        if self._file is not None:
            self._file.flush()

    def close_spider(self, spider: Any = None) -> None:
        if self._file is not None:
            self.flush()
            self._thread.shutdown()  # opened with the file
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def process_item(self, item: FetchItem, spider: Any = None) -> FetchItem:
        if item.body is not None and item.response_headers is not None:
            # The thread gets its own copy: the raw exchange is dropped from the item below.
            self._last = item.warc_pending = self._thread.submit(self._write, dataclasses.replace(item))
        item.body = item.response_headers = item.request_headers = None
        return item

    def _write(self, item: FetchItem) -> tuple[str, int, int]:
        """Append the page's request and response records; returns (file name, offset, length)."""
        from warcio.statusandheaders import StatusAndHeaders

        target = item.final_url or item.url
        date = item.fetched_at
        body = item.body or b""
        # Bodies are stored decoded (scrapy undid Content-Encoding); the headers say so.
        headers = [(k, v) for k, v in item.response_headers or [] if k.lower() not in
                   ("content-encoding", "transfer-encoding", "content-length")]
        headers.append(("Content-Length", str(len(body))))
        http = StatusAndHeaders(f"{item.status} {_reason(item.status)}", headers,
                                protocol=item.http_version or "HTTP/1.1")
        warc_headers = {"WARC-Date": date} if date else {}
        response = self._writer.create_warc_record(
            target, "response", payload=io.BytesIO(body), length=len(body), http_headers=http,
            warc_headers_dict=warc_headers,
        )
        request_line = StatusAndHeaders(f"GET {_path_of(target)} HTTP/1.1", item.request_headers or [],
                                        is_http_request=True)
        request = self._writer.create_warc_record(
            target, "request", payload=io.BytesIO(b""), length=0, http_headers=request_line,
            warc_headers_dict=warc_headers,
        )
        request.rec_headers.replace_header("WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID"))
        # The request first: a resume cuts the file after the last logged response, keeping both.
        self._append(request)
        start = self._file.tell()
        self._append(response)
        written = self.path.name, start, self._file.tell() - start
        faults.hit("crawl-page", target)
        return written

    def _append(self, record: Any) -> None:
        """One record = one gzip member, so any record can be read from its offset alone."""
        import zlib

        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.write_record(record)
        gz = zlib.compressobj(self.gzip_level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self._file.write(gz.compress(self._buffer.getvalue()) + gz.flush())


def _path_of(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _reason(status: int | None) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status or 0).phrase
    except ValueError:
        return "Unknown"


class FetchLogPipeline:
    """Collect one log row per item; write them as Parquet chunks after a WARC flush."""

    def __init__(self, folder: Path, chunk_rows: int, chunk_seconds: float,
                 warc: WarcWriterPipeline | None = None) -> None:
        self.folder = Path(folder)
        self.chunk_rows = chunk_rows
        self.chunk_seconds = chunk_seconds
        self.rows: list[dict[str, Any]] = []
        self.pending: list[Future | None] = []  # per row: its WARC write, if the writer thread has it
        self._last = time.monotonic()
        self._warc = warc

    @classmethod
    def from_crawler(cls, crawler: Any) -> FetchLogPipeline:
        s = crawler.settings
        return cls(Path(s["WEBTEXT_LOG_CHUNKS"]), s.getint("WEBTEXT_LOG_CHUNK_ROWS", 200),
                   s.getfloat("WEBTEXT_LOG_CHUNK_SECONDS", 10.0), getattr(crawler, "webtext_warc_writer", None))

    def open_spider(self, spider: Any = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def process_item(self, item: FetchItem, spider: Any = None) -> FetchItem:
        self.rows.append(item.log_row())
        self.pending.append(item.warc_pending)
        item.warc_pending = None
        if len(self.rows) >= self.chunk_rows or time.monotonic() - self._last > self.chunk_seconds:
            self.write_chunk()
        return item

    def write_chunk(self) -> None:
        if not self.rows:
            return
        import pyarrow as pa

        from webtext.data import write_parquet

        if self._warc is not None:
            self._warc.flush()  # the rows may only point at records already on disk
        rows = []
        for row, written in zip(self.rows, self.pending, strict=True):
            if written is not None:
                error = written.exception()
                if error is not None:
                    # As scrapy does with an item whose pipeline raised: reported, not logged, so
                    # a rerun fetches the page again.
                    log.error("cannot write %s to the WARC: %s", row["url"], error, exc_info=error)
                    continue
                row["warc_file"], row["warc_offset"], row["warc_length"] = written.result()
            rows.append(row)
        self.rows, self.pending = [], []
        if rows:
            existing = len(list(self.folder.glob("chunk-*.parquet")))
            write_parquet(self.folder / f"chunk-{existing:06d}.parquet", pa.Table.from_pylist(rows))
        self._last = time.monotonic()

    def close_spider(self, spider: Any = None) -> None:
        self.write_chunk()
