"""The crawl stage end to end against a hostile loopback web (``tests/hostile_web.py``).

Starting a crawl is the expensive part (one scrapy process per partition), so the cases share a
few crawls, each a module-scoped fixture:

- ``hostile``: one crawl of a Parquet folder (with lineage columns) over ~340 URLs on eleven
  127.0.0.x "hosts": pages, robots.txt variants, redirects, compression bombs, oversized,
  trickling and hanging bodies, 404/500/429, non-HTML, odd charsets, and 300 pages on one host
  for the politeness measurements. Every other test reads its fetch log, its WARC and what the
  server saw.
- ``no_network``: URLs in numeric disguises of loopback, crawled *without* ``--allow-network``.
- ``text_input``: a text file of URLs (comments, blanks, duplicates, junk), two partitions,
  a host cap, robots.txt off, a refused connection.
- ``resumed``: ``webtext-build crawl`` killed with SIGKILL mid-way, a torn WARC tail added, rerun.

Only 127.0.0.0/8 is ever connected to; 10.x and 169.254.169.254 appear only as URLs the crawler
must refuse.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import os
import signal
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hostile_web import BAD_UTF8, LARGE_SIZE, UNKNOWN_CHARSET, HostileWeb, body_of, bomb, closed_port, page
from installed_cli import cli
from warcio.archiveiterator import ArchiveIterator

from webtext.crawl.config import CrawlConfig
from webtext.crawl.crawl_stage import run_crawl
from webtext.data import verify_dataset
from webtext.paths import side_dir
from webtext.runner import LocalRunner

pytestmark = pytest.mark.slow

DELAY = 0.05
TIMEOUT = 2.0
MAX_BYTES = 1024 * 1024
RETRIES = 1
MAX_REDIRECTS = 5
COOLDOWN = 0.3
POLITE_URLS = 300
CRAWL_DELAY = 0.5  # the Crawl-delay one host asks for (honoured: below max_crawl_delay)

HOSTS = {
    "misc": "127.0.0.2",  # robots.txt 404: everything allowed
    "robots": "127.0.0.3",  # robots.txt disallows /private/
    "r503": "127.0.0.4",  # robots.txt answers 503: host unavailable
    "bigrobots": "127.0.0.5",  # ~520 KiB robots.txt; one rule before 500 KiB, one after
    "slowbot": "127.0.0.6",  # Crawl-delay: 1000 -> host skipped
    "redirect": "127.0.0.7",
    "bomb": "127.0.0.8",
    "slow": "127.0.0.9",  # trickle and hang
    "retry": "127.0.0.10",
    "polite": "127.0.0.11",
    "crawldelay": "127.0.0.12",  # Crawl-delay: 0.5
}
_PAD = b"# " + b"p" * 97 + b"\n"
BIG_ROBOTS = b"User-agent: *\nDisallow: /early/\n" + _PAD * (520 * 1024 // len(_PAD)) + b"Disallow: /beyond/\n"
ROBOTS = {
    HOSTS["robots"]: (200, b"User-agent: *\nDisallow: /private/\n"),
    HOSTS["r503"]: (503, b"busy"),
    HOSTS["bigrobots"]: (200, BIG_ROBOTS),
    HOSTS["slowbot"]: (200, b"User-agent: *\nCrawl-delay: 1000\n"),
    HOSTS["crawldelay"]: (200, f"User-agent: *\nCrawl-delay: {CRAWL_DELAY}\n".encode()),
}
#: name -> (host key, path) of the single hostile cases.
CASES = {
    "page": ("misc", "/a.html"),
    "page2": ("misc", "/b/c.html?q=1&r=2"),
    "missing": ("misc", "/missing"),
    "error500": ("misc", "/error500"),
    "png": ("misc", "/image.png"),
    "pdf": ("misc", "/doc.pdf"),
    "big_png": ("misc", "/big.png"),
    "charset_unknown": ("misc", "/charset/unknown"),
    "charset_bad_utf8": ("misc", "/charset/bad-utf8"),
    "robots_private": ("robots", "/private/1.html"),
    "robots_private2": ("robots", "/private/deeper/2.html"),
    "robots_public": ("robots", "/public/1.html"),
    "robots_via_redirect": ("robots", "/redirect/to/private/9.html"),
    "robots_503a": ("r503", "/x/1.html"),
    "robots_503b": ("r503", "/x/2.html"),
    "robots_early": ("bigrobots", "/early/1.html"),
    "robots_beyond": ("bigrobots", "/beyond/1.html"),
    "slowbot1": ("slowbot", "/d/1.html"),
    "slowbot2": ("slowbot", "/d/2.html"),
    "chain": ("redirect", "/redirect/chain/3"),
    "loop": ("redirect", "/redirect/loop/a"),
    "to_metadata": ("redirect", "/redirect/metadata"),
    "to_private": ("redirect", "/redirect/private"),
    "meta_refresh": ("redirect", "/meta-refresh"),
    "to_ftp": ("redirect", "/redirect/ftp"),
    "to_file": ("redirect", "/redirect/file"),
    "bomb_gzip": ("bomb", "/bomb/gzip"),
    "bomb_br": ("bomb", "/bomb/br"),
    "bomb_zstd": ("bomb", "/bomb/zstd"),
    "large": ("bomb", "/large"),
    "large_unsized": ("bomb", "/large/unsized"),
    "trickle": ("slow", "/trickle"),
    "hang": ("slow", "/hang"),
    "after_abort": ("slow", "/after.html"),
    "retry429": ("retry", "/retry429"),
    "retry_long": ("retry", "/retry-long"),
}
DIRECT_REFUSALS = ["http://10.11.12.13/internal.html", "http://169.254.169.254/latest/meta-data/"]
INVALID = ["javascript:alert(1)", "ftp://127.0.0.2/file.txt"]


# ---------------------------------------------------------------------------------------------
# Helpers


def read_log(out: Path) -> dict[str, dict]:
    """The fetch log (``out/part-*.parquet``) by URL; fails on a URL logged twice."""
    rows = [r for f in sorted(out.glob("part-*.parquet")) for r in pq.read_table(f).to_pylist()]
    by_url = {r["url"]: r for r in rows}
    dupes = [u for u, n in Counter(r["url"] for r in rows).items() if n > 1]
    assert not dupes, f"URLs logged more than once: {dupes[:5]}"
    return by_url


def payload_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()


@dataclass
class Record:
    offset: int
    type: str
    headers: dict[str, str]
    status: str | None
    payload: bytes


def _records(stream) -> list[Record]:
    out = []
    it = ArchiveIterator(stream)
    for rec in it:
        payload = rec.content_stream().read()  # before get_record_offset(), which would cut it short
        statusline = rec.http_headers.get_statuscode() if rec.rec_type == "response" else None
        out.append(Record(it.get_record_offset(), rec.rec_type, dict(rec.rec_headers.headers), statusline, payload))
    return out


def warc_records(path: Path) -> list[Record]:
    """Every record of a WARC file, start to end (raises if any part of it is unreadable)."""
    with open(path, "rb") as f:
        return _records(f)


def record_at(out: Path, row: dict) -> Record:
    """The one record that ``warc_file``/``warc_offset``/``warc_length`` of a log row point to."""
    with open(side_dir(out, "warc") / row["warc_file"], "rb") as f:
        f.seek(row["warc_offset"])
        blob = f.read(row["warc_length"])
    assert len(blob) == row["warc_length"], f"{row['url']}: WARC shorter than the row says"
    records = _records(io.BytesIO(blob))
    assert len(records) == 1, f"{row['url']}: {len(records)} records at offset {row['warc_offset']}"
    return records[0]


def requests_by_response(records: list[Record]) -> dict[str, Record]:
    """Request records by the WARC-Record-ID of the response they are concurrent to."""
    return {r.headers.get("WARC-Concurrent-To", ""): r for r in records if r.type == "request"}


def assert_stored(out: Path, row: dict, body: bytes, status: int = 200, requests: dict | None = None) -> None:
    """The row says stored, and its WARC response record holds exactly ``body`` with full headers."""
    where = row["url"]
    assert row["error"] is None, f"{where}: {row['error']}"
    assert row["status"] == status, where
    assert row["bytes"] == len(body), where
    assert row["warc_file"] and row["warc_offset"] is not None and row["warc_length"], where
    assert row["fetched_at"] is not None, where
    rec = record_at(out, row)
    assert rec.type == "response", where
    assert rec.status == str(status), where
    assert rec.payload == body, f"{where}: WARC payload is not the served bytes"
    assert rec.headers["WARC-Target-URI"] == row["final_url"], where
    assert rec.headers.get("WARC-Date"), where
    assert rec.headers.get("WARC-Payload-Digest") == payload_digest(body), where
    if requests is not None:
        req = requests.get(rec.headers["WARC-Record-ID"])
        assert req is not None, f"{where}: no WARC request record concurrent to its response"
        assert req.headers["WARC-Target-URI"] == row["final_url"], where
        assert req.headers.get("WARC-Date"), where


def assert_not_stored(row: dict) -> None:
    assert row["warc_file"] is None and row["warc_offset"] is None and row["warc_length"] is None, row["url"]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# ---------------------------------------------------------------------------------------------
# The hostile crawl


@dataclass
class Crawl:
    web: HostileWeb
    out: Path
    urls: list[str]
    log: dict[str, dict]
    records: list[Record]
    seconds: float

    def url(self, name: str) -> str:
        host, path = CASES[name]
        return self.web.url(HOSTS[host], path)

    def row(self, name: str) -> dict:
        return self.log[self.url(name)]

    def hits(self, name: str):
        host, path = CASES[name]
        return self.web.hits_for(HOSTS[host], path)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Crawl:
    work = tmp_path_factory.mktemp("hostile")
    for encoding in ("gzip", "br", "zstd"):
        bomb(encoding)  # compressed before the crawl: built on first hit, it outlasted the 2 s timeout on a busy CI box
    with HostileWeb(tuple(HOSTS.values()), ROBOTS) as web:
        urls = [web.url(HOSTS[h], p) for h, p in CASES.values()]
        urls += [web.url(HOSTS["crawldelay"], f"/cd/{i}.html") for i in range(8)]
        urls += [web.url(HOSTS["polite"], f"/p/{i}.html") for i in range(POLITE_URLS)]
        urls += DIRECT_REFUSALS + INVALID
        (work / "urls").mkdir()
        pq.write_table(pa.table({"url": urls, "karma": list(range(len(urls))),
                                 "subreddit": [f"r{i % 7}" for i in range(len(urls))]}),
                       work / "urls" / "part-00000.parquet")
        cfg = CrawlConfig(
            inputs=[str(work / "urls")], partitions=1, concurrency=32, delay=DELAY, download_timeout=TIMEOUT,
            max_bytes=MAX_BYTES, retries=RETRIES, retry_backoff=0.2, abort_cooldown=COOLDOWN,
            max_redirects=MAX_REDIRECTS, allow_network=["127.0.0.0/8"], log_chunk_rows=50,
        )
        start = time.monotonic()
        run_crawl(cfg, work / "crawl", LocalRunner())
        seconds = time.monotonic() - start
    out = work / "crawl"
    records = [r for w in sorted(side_dir(out, "warc").glob("*.warc.gz")) for r in warc_records(w)]
    return Crawl(web, out, urls, read_log(out), records, seconds)


def test_every_input_url_has_exactly_one_row_with_its_lineage(hostile):
    assert len(hostile.log) == len(hostile.urls)
    assert set(hostile.log) == set(hostile.urls)
    for i, url in enumerate(hostile.urls):  # lineage kept on every row, fetched or not
        row = hostile.log[url]
        assert row["karma"] == i and row["subreddit"] == f"r{i % 7}", url
        assert row["fetched_at"] is not None, url
    problems = verify_dataset(hostile.out)[1]
    assert not problems


def test_ordinary_pages_stored_byte_exact_with_warc_headers(hostile):
    requests = requests_by_response(hostile.records)
    for name in ("page", "page2", "robots_public"):
        host, path = CASES[name]
        assert_stored(hostile.out, hostile.row(name), page(HOSTS[host], path), requests=requests)
        assert hostile.row(name)["content_type"] == "text/html"
    polite = [u for u in hostile.urls if "/p/" in u]
    for url in polite:
        assert_stored(hostile.out, hostile.log[url], page(HOSTS["polite"], path_of(url)), requests=requests)


def test_warc_iterates_cleanly_one_response_per_stored_row(hostile):
    stored = [r for r in hostile.log.values() if r["warc_file"]]
    responses = [r for r in hostile.records if r.type == "response"]
    assert len(responses) == len(stored)
    assert Counter(r.type for r in hostile.records) == {"response": len(stored), "request": len(stored)}
    offsets = {(r["warc_file"], r["warc_offset"]) for r in stored}
    assert len(offsets) == len(stored)
    assert {r.offset for r in responses} == {off for _, off in offsets}
    requests = requests_by_response(hostile.records)
    for row in stored:  # one request record per response, pointing back at it
        assert_stored(hostile.out, row, record_at(hostile.out, row).payload, status=row["status"], requests=requests)


def test_requests_carry_the_crawler_user_agent(hostile):
    agents = {h.user_agent for h in hostile.web.hits}
    assert len(agents) == 1 and agents.pop().startswith("webtext/")


def test_politeness_measured_at_the_server(hostile):
    """One host, 300 URLs, --delay 0.05: one request at a time, and the pause (counted from the
    end of the previous response, randomised 0.5-1.5x) is kept between any two of its requests."""
    polite = hostile.web.hits_for(HOSTS["polite"])
    assert len(polite) == POLITE_URLS + 1  # + robots.txt
    for host in HOSTS.values():
        assert hostile.web.max_active[host] <= 1, f"{host} answered {hostile.web.max_active[host]} requests at once"
        hits = hostile.web.hits_for(host)
        for a, b in itertools.pairwise(hits):
            assert b.start >= a.end, f"{host}: {b.path} started before {a.path} ended"
            # >= the smallest randomised delay, less 10 ms for the server's own timing under load
            assert b.start - a.end >= 0.5 * DELAY - 0.01, f"{host}: {b.path} {b.start - a.end:.3f}s after {a.path}"
    gaps = [b.start - a.end for a, b in itertools.pairwise(polite)]
    assert statistics.median(gaps) >= 0.75 * DELAY, f"median pause {statistics.median(gaps):.3f}s"


def test_aborted_download_gets_a_cooldown(hostile):
    """After a timed-out download the host pauses ``abort_cooldown`` before its next request."""
    hits = hostile.web.hits_for(HOSTS["slow"])
    followed = [(a, b) for a, b in itertools.pairwise(hits) if a.path in ("/trickle", "/hang")]
    assert followed
    for a, b in followed:
        assert b.start - a.end >= 0.8 * COOLDOWN, f"{b.path} {b.start - a.end:.3f}s after aborted {a.path}"


def test_crawl_delay_from_robots_is_kept(hostile):
    hits = hostile.web.hits_for(HOSTS["crawldelay"])
    pages = [h for h in hits if h.path.startswith("/cd/")]
    assert len(pages) == 8
    assert all(hostile.log[hostile.web.url(HOSTS["crawldelay"], h.path)]["status"] == 200 for h in pages)
    gaps = [b.start - a.end for a, b in itertools.pairwise(pages)]
    # The crawler randomises delays 0.5-1.5x; even so no two pages may be closer than half the delay.
    assert min(gaps) >= 0.5 * CRAWL_DELAY * 0.9, f"pauses {[round(g, 3) for g in gaps]} with Crawl-delay {CRAWL_DELAY}"


def test_robots_disallow_keeps_urls_unrequested(hostile):
    for name in ("robots_private", "robots_private2"):
        row = hostile.row(name)
        assert row["error"] == "robots:disallowed"
        assert row["status"] is None
        assert_not_stored(row)
        assert hostile.hits(name) == []
    row = hostile.row("robots_via_redirect")  # a redirect into a disallowed path is checked again
    assert row["error"] == "robots:disallowed", row["error"]
    assert row["final_url"].endswith("/private/9.html")
    assert_not_stored(row)
    assert hostile.web.hits_for(HOSTS["robots"], "/private/9.html") == []
    assert len(hostile.web.hits_for(HOSTS["robots"], "/robots.txt")) == 1
    assert len(hostile.web.hits_for(HOSTS["misc"], "/robots.txt")) == 1  # 404: fetched once, then allowed
    assert hostile.row("page")["status"] == 200


def test_robots_503_makes_host_unavailable(hostile):
    for name in ("robots_503a", "robots_503b"):
        row = hostile.row(name)
        assert row["error"].startswith("robots:unavailable"), row["error"]
        assert "503" in row["error"]
        assert_not_stored(row)
    assert {h.path for h in hostile.web.hits_for(HOSTS["r503"])} == {"/robots.txt"}


def test_huge_robots_parsed_up_to_500_kib(hostile):
    assert len(BIG_ROBOTS) > 512 * 1024 and BIG_ROBOTS.index(b"/beyond/") > 500 * 1024
    early, beyond = hostile.row("robots_early"), hostile.row("robots_beyond")
    assert early["error"] == "robots:disallowed"
    assert hostile.hits("robots_early") == []
    assert_stored(hostile.out, beyond, page(HOSTS["bigrobots"], CASES["robots_beyond"][1]))  # rule past the cap


def test_crawl_delay_too_long_skips_host(hostile):
    for name in ("slowbot1", "slowbot2"):
        row = hostile.row(name)
        assert row["error"].startswith("robots:crawl_delay_too_long"), row["error"]
        assert_not_stored(row)
    assert {h.path for h in hostile.web.hits_for(HOSTS["slowbot"])} == {"/robots.txt"}


def test_redirect_chain_followed(hostile):
    row = hostile.row("chain")
    assert row["final_url"] == hostile.web.url(HOSTS["redirect"], "/redirect/chain/0")
    assert_stored(hostile.out, row, page(HOSTS["redirect"], "/redirect/chain/0"),
                  requests=requests_by_response(hostile.records))
    for n in range(4):
        assert len(hostile.web.hits_for(HOSTS["redirect"], f"/redirect/chain/{n}")) == 1
    assert body_of(HOSTS["redirect"], "/redirect/chain/3") == page(HOSTS["redirect"], "/redirect/chain/0")


def test_redirect_loop_ends_with_error(hostile):
    row = hostile.row("loop")
    assert row["error"] and "redirect" in row["error"], row["error"]
    assert_not_stored(row)
    n = len(hostile.web.hits_for(HOSTS["redirect"], "/redirect/loop/a")) + len(
        hostile.web.hits_for(HOSTS["redirect"], "/redirect/loop/b"))
    assert n == MAX_REDIRECTS + 1


def test_redirects_and_urls_to_private_addresses_refused(hostile):
    for name, target in (("to_metadata", "169.254.169.254"), ("to_private", "10.11.12.13"),
                         ("meta_refresh", "169.254.169.254")):
        row = hostile.row(name)
        assert row["error"].startswith("blocked:private_address"), row["error"]
        assert target in row["error"] and target in row["final_url"]
        assert row["status"] is None
        assert_not_stored(row)
        assert len(hostile.hits(name)) == 1
    for url in DIRECT_REFUSALS:
        row = hostile.log[url]
        assert row["error"].startswith("blocked:private_address"), row["error"]
        assert_not_stored(row)


def test_redirect_to_other_scheme_not_followed(hostile):
    for name in ("to_ftp", "to_file"):
        row = hostile.row(name)
        assert row["final_url"] == row["url"]  # never left the http URL
        assert len(hostile.hits(name)) == 1
        assert row["bytes"] in (None, 0)
        if row["warc_file"]:
            assert b"root:" not in record_at(hostile.out, row).payload
    assert not any("x.txt" in h.path for h in hostile.web.hits)


def test_redirect_to_other_scheme_logged_as_error(hostile):
    for name in ("to_ftp", "to_file"):
        row = hostile.row(name)
        assert row["error"] and row["error"].startswith("blocked:scheme"), (row["status"], row["error"])
        assert_not_stored(row)


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_compression_bomb_aborted(hostile, encoding):
    pytest.importorskip({"gzip": "gzip", "br": "brotli", "zstd": "zstandard"}[encoding])
    row = hostile.row(f"bomb_{encoding}")
    assert row["error"].startswith("too_large"), row["error"]
    assert row["bytes"] is None
    assert_not_stored(row)
    assert len(hostile.hits(f"bomb_{encoding}")) == 1  # not retried


def test_body_over_cap_aborted(hostile):
    for name in ("large", "large_unsized"):
        row = hostile.row(name)
        assert row["error"], name
        assert row["bytes"] is None
        assert_not_stored(row)
    assert hostile.row("large")["error"].startswith("too_large"), hostile.row("large")["error"]
    assert LARGE_SIZE > MAX_BYTES


def test_body_over_cap_without_length_says_too_large(hostile):
    row = hostile.row("large_unsized")
    assert row["error"].startswith("too_large"), row["error"]


def test_trickle_and_hang_time_out(hostile):
    for name in ("trickle", "hang"):
        row = hostile.row(name)
        assert row["error"].startswith(("timeout", "DownloadTimeoutError")), row["error"]
        assert row["status"] is None
        assert_not_stored(row)
        hits = hostile.hits(name)
        assert len(hits) == RETRIES + 1  # timeouts are retried
        for h in hits:
            assert TIMEOUT * 0.9 <= h.end - h.start <= TIMEOUT + 1.5, f"{name} held {h.end - h.start:.2f}s"
    assert hostile.row("after_abort")["status"] == 200  # the host is still crawled afterwards


def test_http_errors_logged_with_status_and_stored(hostile):
    assert_stored(hostile.out, hostile.row("missing"), b"<html><body>not found</body></html>", status=404)
    assert_stored(hostile.out, hostile.row("error500"), b"<html><body>internal error</body></html>", status=500)
    assert len(hostile.hits("missing")) == 1
    hits = hostile.hits("error500")
    assert len(hits) == RETRIES + 1
    assert hits[1].start - hits[0].end >= 0.2 * 0.9  # --retry-backoff 0.2


def test_429_retry_after_honoured(hostile):
    hits = hostile.hits("retry429")
    assert len(hits) == 2
    assert hits[1].start - hits[0].end >= 0.95, f"retried {hits[1].start - hits[0].end:.2f}s after a Retry-After: 1"
    assert_stored(hostile.out, hostile.row("retry429"), page(HOSTS["retry"], "/retry429"))


def test_retry_after_too_long_ends_the_url(hostile):
    row = hostile.row("retry_long")
    assert row["status"] == 429
    assert row["error"].startswith("retry_after_too_long"), row["error"]
    assert_not_stored(row)
    assert len(hostile.hits("retry_long")) == 1


@pytest.mark.parametrize(("name", "ctype"), [("png", "image/png"), ("pdf", "application/pdf"),
                                              ("big_png", "image/png")])
def test_non_html_logged_not_stored(hostile, name, ctype):
    row = hostile.row(name)
    assert row["status"] == 200
    assert row["content_type"] == ctype
    assert row["error"] == f"not_html: {ctype}"  # a body over the cap too: it stops at the headers
    assert row["bytes"] is None
    assert_not_stored(row)
    assert len(hostile.hits(name)) == 1


@pytest.mark.parametrize(("name", "body"), [("charset_unknown", UNKNOWN_CHARSET), ("charset_bad_utf8", BAD_UTF8)],
                         ids=["unknown-charset", "bad-utf8"])
def test_undecodable_html_stored_byte_exact(hostile, name, body):
    row = hostile.row(name)
    assert row["content_type"] == "text/html"
    assert_stored(hostile.out, row, body, requests=requests_by_response(hostile.records))


def test_invalid_urls_logged_without_request(hostile):
    for url in INVALID:
        row = hostile.log[url]
        assert row["error"].startswith("invalid_url"), row["error"]
        assert row["status"] is None
        assert_not_stored(row)
    assert not any(h.path == "/file.txt" for h in hostile.web.hits)


# ---------------------------------------------------------------------------------------------
# Loopback in disguise, without --allow-network


NUMERIC_TRICKS = ["http://2130706433:{port}/a", "http://0x7f000001:{port}/b", "http://127.1:{port}/c",
                  "http://[::ffff:127.0.0.1]:{port}/d", "http://0177.0.0.1:{port}/e", "http://0:{port}/f",
                  "http://[::ffff:7f00:1]:{port}/g", "http://localhost:{port}/h", "http://127.0.0.1:{port}/i",
                  "http://127.0.0.2:{port}/j", "http://user:pw@127.0.0.1:{port}/k", "http://[::1]:{port}/l",
                  "http://0.0.0.0:{port}/m"]


@pytest.fixture(scope="module")
def no_network(tmp_path_factory):
    work = tmp_path_factory.mktemp("nonet")
    with HostileWeb(("127.0.0.1", "127.0.0.2")) as web:
        urls = [u.format(port=web.port) for u in NUMERIC_TRICKS] + DIRECT_REFUSALS
        (work / "urls.txt").write_text("\n".join(urls) + "\n")
        cfg = CrawlConfig(inputs=[str(work / "urls.txt")], partitions=1, delay=DELAY, download_timeout=TIMEOUT)
        assert cfg.allow_network == []
        run_crawl(cfg, work / "crawl", LocalRunner())
    return web, urls, read_log(work / "crawl")


def test_loopback_in_disguise_refused_without_allow_network(no_network):
    web, urls, log = no_network
    assert set(log) == set(urls) and len(log) == len(urls)
    for url in urls:
        row = log[url]
        assert (row["error"] or "").startswith("blocked:private_address"), f"{url}: {row['error']!r}"
        assert row["status"] is None
        assert_not_stored(row)
    assert web.hits == []
    assert sum(web.connections.values()) == 0, f"connections reached the server: {dict(web.connections)}"


# ---------------------------------------------------------------------------------------------
# A text file of URLs


@pytest.fixture(scope="module")
def text_input(tmp_path_factory):
    work = tmp_path_factory.mktemp("text")
    hosts = ("127.0.0.2", "127.0.0.3")
    with HostileWeb(hosts) as web:
        pages = [web.url(hosts[0], f"/t/{i}.html") for i in range(3)]
        capped = [web.url(hosts[1], f"/cap/{i}.html") for i in range(5)]
        refused = f"http://127.0.0.1:{closed_port()}/refused"
        lines = ["# a comment", "", f"  {pages[0]}  ", pages[1], "\t", *capped, pages[2], pages[1], "not a url",
                 refused, "# http://127.0.0.2/commented-out"]
        (work / "urls.txt").write_text("\n".join(lines) + "\n")
        cfg = CrawlConfig(inputs=[str(work / "urls.txt")], partitions=2, delay=DELAY, download_timeout=TIMEOUT,
                          obey_robots=False, max_urls_per_host=3, retries=0, abort_cooldown=0.1,
                          allow_network=["127.0.0.0/8"])
        run_crawl(cfg, work / "crawl", LocalRunner())
    return web, work / "crawl", pages, capped, refused, read_log(work / "crawl")


def test_text_file_input(text_input):
    web, out, pages, capped, refused, log = text_input
    assert set(log) == {*pages, *capped, refused, "not a url"}  # one row each; comments and blanks dropped
    for url in pages + capped[:3]:
        host = urlsplit(url).hostname
        assert_stored(out, log[url], page(host, path_of(url)))
    for url in capped[3:]:  # the input's first three URLs of a host are fetched, the rest capped
        assert log[url]["error"] == "skipped:host_cap"
        assert_not_stored(log[url])
    assert log["not a url"]["error"].startswith("invalid_url")
    assert log[refused]["error"].startswith(("connection_refused", "DownloadConnectionRefusedError")), \
        log[refused]["error"]
    paths = Counter((h.host, h.path) for h in web.hits)
    assert all(n == 1 for n in paths.values()), paths  # the duplicate line is fetched once
    assert not any(h.path == "/robots.txt" for h in web.hits)  # --no-obey-robots
    assert {path_of(u) for u in capped[3:]}.isdisjoint(p for _, p in paths)
    for host in ("127.0.0.2", "127.0.0.3"):  # a host lives in exactly one partition
        files = {r["warc_file"] for u, r in log.items() if r["warc_file"] and urlsplit(u).hostname == host}
        assert len(files) == 1


def test_duplicate_urls_count_once_towards_host_cap(tmp_path):
    with HostileWeb(("127.0.0.2",)) as web:
        a, b, c = (web.url("127.0.0.2", f"/{x}.html") for x in "abc")
        (tmp_path / "urls.txt").write_text("\n".join([a, a, b, c]) + "\n")
        cfg = CrawlConfig(inputs=[str(tmp_path / "urls.txt")], partitions=1, delay=DELAY, download_timeout=TIMEOUT,
                          max_urls_per_host=3, allow_network=["127.0.0.0/8"])
        run_crawl(cfg, tmp_path / "crawl", LocalRunner())
    log = read_log(tmp_path / "crawl")
    assert set(log) == {a, b, c}
    assert [log[u]["status"] for u in (a, b, c)] == [200, 200, 200], [log[u]["error"] for u in (a, b, c)]
    assert Counter(h.path for h in web.hits if h.path != "/robots.txt") == {"/a.html": 1, "/b.html": 1, "/c.html": 1}


def test_text_and_parquet_inputs_together(tmp_path):
    with HostileWeb(("127.0.0.2",)) as web:
        a, b = web.url("127.0.0.2", "/mix/a.html"), web.url("127.0.0.2", "/mix/b.html")
        (tmp_path / "urls.txt").write_text(a + "\n")
        (tmp_path / "pq").mkdir()
        pq.write_table(pa.table({"url": [b], "karma": [7]}), tmp_path / "pq" / "part-00000.parquet")
        cfg = CrawlConfig(inputs=[str(tmp_path / "urls.txt"), str(tmp_path / "pq")], partitions=1, delay=DELAY,
                          download_timeout=TIMEOUT, allow_network=["127.0.0.0/8"])
        run_crawl(cfg, tmp_path / "crawl", LocalRunner())
    log = read_log(tmp_path / "crawl")
    assert set(log) == {a, b}
    assert log[a]["karma"] is None and log[b]["karma"] == 7
    assert log[a]["status"] == log[b]["status"] == 200


# ---------------------------------------------------------------------------------------------
# Error classification (scrapy >= 2.18 raises its own download exceptions, not Twisted's)


def _cannot_resolve(message: str) -> Exception:
    from scrapy.exceptions import CannotResolveHostError
    from twisted.internet.error import DNSLookupError

    return CannotResolveHostError(str(DNSLookupError(message)))  # what scrapy's handler wraps it into


def _exc(kind: str) -> Exception:
    from scrapy import exceptions as sx
    from twisted.internet import error as tx

    return {
        "twisted-timeout": lambda: tx.TimeoutError("Getting u took longer than 2.0 seconds."),
        "twisted-refused": lambda: tx.ConnectionRefusedError(),
        "scrapy-timeout": lambda: sx.DownloadTimeoutError("Getting http://h/ took longer than 2.0 seconds."),
        "scrapy-refused": lambda: sx.DownloadConnectionRefusedError("Connection was refused by other side: 111"),
        "scrapy-dns": lambda: _cannot_resolve("no results for hostname lookup: nowhere.invalid"),
        "scrapy-dns-rebinding": lambda: _cannot_resolve("blocked:private_address: evil.example -> 127.0.0.1"),
    }[kind]()


@pytest.mark.parametrize(("kind", "expected"), [
    pytest.param("twisted-timeout", "timeout", id="twisted-timeout"),
    pytest.param("twisted-refused", "connection_refused", id="twisted-refused"),
    pytest.param("scrapy-timeout", "timeout", id="scrapy-timeout"),
    pytest.param("scrapy-refused", "connection_refused", id="scrapy-refused"),
    pytest.param("scrapy-dns", "dns: ", id="scrapy-dns"),
    pytest.param("scrapy-dns-rebinding", "blocked:private_address", id="scrapy-dns-rebinding"),
])
def test_describe_failure_classifies_download_errors(kind, expected):
    from twisted.python.failure import Failure

    from webtext.crawl.spider.spider import describe_failure

    assert describe_failure(Failure(_exc(kind))).startswith(expected)


# ---------------------------------------------------------------------------------------------
# Resume after SIGKILL, with a torn WARC tail


RESUME_URLS = 100


@dataclass
class Resumed:
    web: HostileWeb
    out: Path
    urls: list[str]
    logged_before: list[str]
    hits_before: Counter
    log: dict[str, dict]


@pytest.fixture(scope="module")
def resumed(tmp_path_factory) -> Resumed:
    work = tmp_path_factory.mktemp("resume")
    host = "127.0.0.30"
    with HostileWeb((host,)) as web:
        urls = [web.url(host, f"/r/{i}.html") for i in range(RESUME_URLS)]
        (work / "urls.txt").write_text("\n".join(urls) + "\n")
        out = work / "crawl"
        cmd = [*cli(), "crawl", str(work / "urls.txt"), "--out", str(out), "--allow-network", "127.0.0.0/8",
               "--partitions", "1", "--delay", "0.1", "--download-timeout", "3", "--log-chunk-rows", "10",
               "--runner", "local"]
        chunks = side_dir(out, "log-chunks") / "00000"
        with open(work / "first.log", "wb") as first:
            proc = subprocess.Popen(cmd, stdout=first, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                deadline = time.monotonic() + 60
                while len(list(chunks.glob("chunk-*.parquet"))) < 2:
                    assert proc.poll() is None, "the first crawl ended before it could be killed"
                    assert time.monotonic() < deadline, "no fetch-log chunk after 60 s"
                    time.sleep(0.05)
                time.sleep(0.3)  # a few more pages reach the WARC, not yet the log
                assert proc.poll() is None, "the first crawl ended before it could be killed"
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert not (out / "_manifest.json").exists()
        logged_before = [u for f in sorted(chunks.glob("chunk-*.parquet")) for u in pq.read_table(f)["url"].to_pylist()]
        hits_before = Counter(h.path for h in web.hits)
        warc = side_dir(out, "warc") / "part-00000.warc.gz"
        with open(warc, "ab") as f:  # a record torn by the crash
            f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03torn record")
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return Resumed(web, out, urls, logged_before, hits_before, read_log(out))


def test_resume_one_row_per_url(resumed):
    assert resumed.logged_before and len(resumed.logged_before) < RESUME_URLS
    assert set(resumed.log) == set(resumed.urls) and len(resumed.log) == RESUME_URLS
    assert all(r["status"] == 200 and r["error"] is None for r in resumed.log.values())


def test_resume_does_not_refetch_logged_urls(resumed):
    hits = Counter(h.path for h in resumed.web.hits if h.path != "/robots.txt")
    assert set(hits) == {path_of(u) for u in resumed.urls}
    assert max(hits.values()) <= 2
    for url in resumed.logged_before:
        assert hits[path_of(url)] == 1, f"{url} was logged before the kill and fetched again"
    refetched = {p for p, n in hits.items() if n == 2}
    assert refetched <= {p for p, n in resumed.hits_before.items() if n}  # only pages cut off by the kill


def test_resume_leaves_a_clean_warc_with_exact_offsets(resumed):
    warc = side_dir(resumed.out, "warc") / "part-00000.warc.gz"
    records = warc_records(warc)  # iterates end to end: the torn tail is gone
    responses = [r for r in records if r.type == "response"]
    assert len(responses) == RESUME_URLS
    assert len({r.headers["WARC-Target-URI"] for r in responses}) == RESUME_URLS
    host = "127.0.0.30"
    for url, row in resumed.log.items():
        assert_stored(resumed.out, row, page(host, path_of(url)))
    assert sorted(r["warc_offset"] for r in resumed.log.values()) == sorted(r.offset for r in responses)


def test_resume_keeps_every_request_record(resumed):
    records = warc_records(side_dir(resumed.out, "warc") / "part-00000.warc.gz")
    requests = requests_by_response(records)
    missing = [r.headers["WARC-Target-URI"] for r in records
               if r.type == "response" and r.headers["WARC-Record-ID"] not in requests]
    assert not missing, f"responses without their request record: {missing}"
