"""The demo's loopback website: what it serves, what it plants, the dump that points at it."""

from __future__ import annotations

import html
import http.client
import io
import re
import threading
import time
import urllib.robotparser
from urllib.parse import urlsplit

import orjson
import pytest
import zstandard

from webtext.demo.web import ARTICLE_KINDS, KINDS, DemoServer, DemoSite, write_site_dump


@pytest.fixture(scope="module")
def site() -> DemoSite:
    return DemoSite(seed=0)


@pytest.fixture(scope="module")
def server(site):
    with DemoServer(site) as srv:
        yield srv


def fetch(url: str, method: str = "GET") -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type", ""), resp.read()
    finally:
        conn.close()


def article_of(body: bytes) -> str:
    """The <article> element of a page."""
    match = re.search(rb"<article>.*?</article>", body, re.S)
    assert match, "no <article> in page"
    return match.group().decode()


def words(fragment: str) -> list[str]:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split()


def test_site_model(site):
    kinds = {p.kind for p in site.pages}
    assert kinds == set(KINDS)
    assert all(urlsplit(p.url).hostname.startswith("127.0.0.") for p in site.pages)
    assert {urlsplit(u).port for u in site.urls()} == {site.port}
    assert len(site.hosts) == 6 and len(set(site.hosts)) == 6
    assert len(site.urls()) == len(set(site.urls()))
    assert 100 <= len(site.urls("article")) <= 30 * 6  # ~20-30 a host; the prose (per Python version) bounds it
    # Deterministic for a seed and port; another seed gives another site.
    again = DemoSite(seed=0, port=site.port)
    assert [(p.url, p.text) for p in again.pages] == [(p.url, p.text) for p in site.pages]
    assert DemoSite(seed=1, port=site.port).urls("article") != site.urls("article")


def test_article_is_html_with_real_prose(site, server):
    url = site.urls("article")[0]
    status, ctype, body = fetch(url)
    assert status == 200 and ctype.startswith("text/html")
    assert b'<meta charset="utf-8">' in body
    for boilerplate in (b"<nav", b"cookie", b"<footer", b'class="comments"', b"Related articles"):
        assert boilerplate in body
    text = words(article_of(body))
    assert len(text) >= 300
    # Prose: mostly plain lower-case words, the way English reads.
    assert sum(w.isalpha() and w.islower() for w in text) > 0.6 * len(text)
    assert site.page(url).paragraphs[0] in html.unescape(article_of(body))
    # HEAD and a tracking parameter find the same page.
    assert fetch(url, "HEAD")[:2] == (200, ctype)
    assert fetch(url + ("&" if "?" in url else "?") + "utm_source=reddit")[2] == body


def test_every_article_page_is_long(site):
    for page in site.pages:
        if page.kind in ("article", "exact_dup", "private"):
            assert len(page.text.split()) >= 300, page.url


def test_robots_disallows_private_section(site, server):
    status, _, body = fetch(f"{site.base_url(site.robots_host)}/robots.txt")
    assert status == 200
    rp = urllib.robotparser.RobotFileParser()
    rp.parse(body.decode().splitlines())
    private = site.urls("private")
    assert private and all(urlsplit(u).hostname == site.robots_host for u in private)
    assert not any(rp.can_fetch("webtext", u) for u in private)
    assert rp.can_fetch("webtext", site.urls("article")[0])
    assert fetch(private[0])[0] == 200  # served all the same: only robots.txt keeps a crawler out
    # Other hosts allow everything or have no robots.txt at all.
    others = {fetch(f"{site.base_url(h)}/robots.txt")[0] for h in site.hosts if h != site.robots_host}
    assert others == {200, 404}


def test_non_html_resources_have_their_types(site, server):
    seen = set()
    for url in site.urls("pdf", "image"):
        status, ctype, body = fetch(url)
        page = site.page(url)
        assert status == 200 and ctype == page.content_type
        seen.add(ctype)
        if ctype == "application/pdf":
            assert body.startswith(b"%PDF-") and body.rstrip().endswith(b"%%EOF")
        elif ctype == "image/png":
            assert body.startswith(b"\x89PNG")
        else:
            assert body.startswith(b"\xff\xd8\xff")
    assert seen == {"application/pdf", "image/jpeg", "image/png"}
    assert any(url.endswith(".pdf") for url in site.urls("pdf"))
    assert any("." not in urlsplit(url).path for url in site.urls("pdf", "image"))  # no telling extension


def test_dead_links(site, server):
    dead = site.urls("dead")
    statuses = {site.page(u).status for u in dead}
    assert statuses == {404, None}
    for url in dead:
        if site.page(url).status == 404:
            assert fetch(url)[0] == 404
        else:
            with pytest.raises(ConnectionRefusedError):
                fetch(url)


def test_exact_duplicates_share_the_article(site, server):
    dups = [site.page(u) for u in site.urls("exact_dup")]
    assert len(dups) >= 3
    for dup in dups:
        original = site.page(dup.original)
        assert original.host != dup.host and original.url != dup.url
        a, b = fetch(original.url)[2], fetch(dup.url)[2]
        assert article_of(a) == article_of(b)
        assert a != b  # a different site's boilerplate around it


def test_near_duplicates_differ_slightly(site, server):
    nears = [site.page(u) for u in site.urls("near_dup")]
    assert len(nears) >= 3
    for near in nears:
        original = site.page(near.original)
        a, b = words(article_of(fetch(original.url)[2])), words(article_of(fetch(near.url)[2]))
        assert a != b
        jaccard = len(set(a) & set(b)) / len(set(a) | set(b))
        assert 0.75 < jaccard < 1 or set(a) >= set(b), near.url


def test_unknown_path_is_404(site, server):
    status, ctype, body = fetch(f"{site.base_url(site.hosts[2])}/no/such/page")
    assert status == 404 and ctype.startswith("text/html") and b"Page not found" in body


def test_dump_points_at_the_site(site, tmp_path):
    path = tmp_path / "RS_2017-12.zst"
    counts = write_site_dump(path, site, seed=3, extra_submissions=20)
    with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as f:
        records = [orjson.loads(line) for line in io.TextIOWrapper(f, encoding="utf-8")]
    assert len(records) == sum(counts.values())
    assert counts["extra"] == 20 and counts["self"] == 3 and counts["nsfw"] == 1
    keys = {"id", "url", "score", "created_utc", "is_self", "over_18", "subreddit", "title", "domain",
            "permalink", "num_comments"}
    assert all(keys <= rec.keys() for rec in records)
    assert len({rec["id"] for rec in records}) == len(records)
    times = [rec["created_utc"] for rec in records]
    assert times == sorted(times) and max(times) < 1_514_764_800 and all(isinstance(t, int) for t in times)
    site_urls = set(site.urls())
    linked = {rec["url"] for rec in records if not rec["is_self"] and "127.0.0." in rec["url"]}
    # Every page is linked, by its own spelling at least once; the others are respellings of it.
    assert site_urls <= linked
    respelled = linked - site_urls
    assert respelled and all(re.sub(r"[?&]utm_source=reddit|#comments", "", u.replace("HTTP://", "http://"))
                             in site_urls for u in respelled)
    scores = [rec["score"] for rec in records if rec["url"] in set(site.urls(*ARTICLE_KINDS))]
    assert sum(s >= 3 for s in scores) > 0.6 * len(scores) and any(s < 3 for s in scores)
    for kind in ("pdf", "image", "dead", "private"):
        assert all(rec["score"] >= 3 for rec in records if rec["url"] in set(site.urls(kind)))
    assert any(rec["over_18"] for rec in records)
    # Plain JSON lines when the extension says so.
    plain = tmp_path / "dump.jsonl"
    write_site_dump(plain, site, seed=3)
    assert {orjson.loads(line)["url"] for line in plain.read_bytes().splitlines()} >= site_urls


def test_server_starts_fast_and_stops_cleanly():
    before = set(threading.enumerate())
    t0 = time.perf_counter()
    site = DemoSite(seed=5)
    srv = DemoServer(site).start()
    assert time.perf_counter() - t0 < 1.0
    url = site.urls("article")[0]
    parts = urlsplit(url)
    # A keep-alive connection left open must not hold stop() up.
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    for _ in range(2):
        conn.request("GET", url.split(str(parts.port), 1)[1])
        assert conn.getresponse().read()
    assert len(srv.hits) == 2 and srv.hits[0].status == 200
    t0 = time.perf_counter()
    srv.stop()
    assert time.perf_counter() - t0 < 1.0
    conn.close()
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError):
        fetch(url)
    # It can start again on the same port.
    with DemoServer(site):
        assert fetch(url)[0] == 200
    assert set(threading.enumerate()) <= before
