"""The crawl process's item pipelines without scrapy: WARC records written by the writer thread,
fetch-log rows filled in with their offsets only once the records are on file."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from webtext.crawl.spider.items import FetchItem
from webtext.crawl.spider.pipelines import FetchLogPipeline, WarcWriterPipeline


def _page(i: int) -> FetchItem:
    body = (f"<html><body><p>page {i}</p>" + "x" * (97 * i) + "</body></html>").encode()
    return FetchItem(url=f"http://example.com/{i}", final_url=f"http://example.com/{i}", status=200,
                     content_type="text/html", bytes=len(body), fetched_at="2026-12-05T00:00:00Z",
                     http_version="HTTP/1.1", response_headers=[("Content-Type", "text/html")],
                     request_headers=[("User-Agent", "test")], body=body, lineage={"karma": i})


def _crawl(tmp_path: Path, items: list[FetchItem], chunk_rows: int) -> tuple[Path, list[dict]]:
    warc = WarcWriterPipeline(tmp_path / "part-00000.warc.gz")
    fetch_log = FetchLogPipeline(tmp_path / "chunks", chunk_rows, 1e9, warc)
    warc.open_spider()
    fetch_log.open_spider()
    for item in items:
        fetch_log.process_item(warc.process_item(item))
    warc.close_spider()
    fetch_log.close_spider()
    chunks = sorted((tmp_path / "chunks").glob("chunk-*.parquet"))
    return warc.path, [row for c in chunks for row in pq.read_table(c).to_pylist()]


def _record_at(path: Path, row: dict):
    with open(path, "rb") as f:
        f.seek(row["warc_offset"])
        data = f.read(row["warc_length"])
    records = [(r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read())
               for r in ArchiveIterator(io.BytesIO(data)) if r.rec_type == "response"]
    assert len(records) == 1, row
    return records[0]


def test_every_row_points_at_its_own_record(tmp_path):
    items = [_page(i) for i in range(25)]
    bodies = {it.url: it.body for it in items}
    path, rows = _crawl(tmp_path, items, chunk_rows=4)
    assert [r["url"] for r in rows] == [it.url for it in items]
    ends = 0
    for row in rows:
        assert row["warc_file"] == path.name and row["karma"] == int(row["url"].rsplit("/", 1)[1])
        assert _record_at(path, row) == (row["url"], bodies[row["url"]])
        ends = max(ends, row["warc_offset"] + row["warc_length"])
    assert ends == path.stat().st_size  # nothing written that no row points at


def test_a_page_whose_write_fails_gets_no_row_and_the_rest_stay_right(tmp_path, monkeypatch, caplog):
    """A failed WARC write (here a full disk on page 7) drops that page's row, as scrapy drops an item
    whose pipeline raised: a rerun fetches it again. The rows after it still point at their records."""
    monkeypatch.setenv("WEBTEXT_FAULT", "enospc:crawl-page:http://example.com/7")
    monkeypatch.delenv("WEBTEXT_FAULT_ONCE", raising=False)
    items = [_page(i) for i in range(12)]
    bodies = {it.url: it.body for it in items}
    with caplog.at_level(logging.ERROR, logger="webtext.crawl.spider.pipelines"):
        path, rows = _crawl(tmp_path, items, chunk_rows=5)
    assert [r["url"] for r in rows] == [it.url for it in items if it.url != "http://example.com/7"]
    assert "cannot write http://example.com/7 to the WARC" in caplog.text
    for row in rows:
        assert _record_at(path, row) == (row["url"], bodies[row["url"]])


@pytest.mark.parametrize("stored", [False, True])
def test_items_without_a_body_are_logged_in_order(tmp_path, stored):
    items = [_page(0), FetchItem(url="http://example.com/skipped", error="skipped:host_cap"), _page(2)]
    if not stored:
        items = items[1:2]
    _, rows = _crawl(tmp_path, items, chunk_rows=2)
    assert [r["url"] for r in rows] == [it.url for it in items]
    skipped = next(r for r in rows if r["url"].endswith("skipped"))
    assert skipped["warc_file"] is None and skipped["warc_offset"] is None and skipped["error"] == "skipped:host_cap"
