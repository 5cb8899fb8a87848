"""A loopback website for the demo and the crawler tests, and a Pushshift dump that links to it.

``DemoSite`` builds, deterministically from a seed, a few news-like sites on ``127.0.0.10``,
``127.0.0.11``, ... (all of 127.0.0.0/8 is loopback on Linux), every one on the same port. Article
text is real English prose that ships with Python itself (``pydoc_data.topics`` and standard-library
docstrings), so nothing is downloaded or copied into the repository; the exact text depends on the
Python version, never on the run. Each article is wrapped in the boilerplate a content extractor
must remove (cookie banner, navigation, share bar, related links, comments, footer, script).

Planted for the later stages to find: exact duplicates (the same article on another host), near
duplicates (a sentence changed or a paragraph dropped), non-HTML resources (PDF, images, one of
each without a telling extension), dead links (404 and a host where nothing listens) and a
``/private/`` section that the first host's robots.txt disallows. ``DemoSite.pages`` lists all of
them with their kind; ``write_site_dump`` writes a dump whose submissions point at them, and
``DemoServer`` serves the site on every host address with ``http.server``.
"""

from __future__ import annotations

import contextlib
import functools
import html
import importlib
import inspect
import random
import re
import socket
import struct
import sys
import textwrap
import threading
import warnings
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from webtext.demo.sample_dump import _open_compressed, _record, iter_submissions

HTML_TYPE = "text/html; charset=utf-8"
LISTED_KINDS = ("article", "exact_dup", "near_dup")  # articles that Reddit links to more than once
ARTICLE_KINDS = (*LISTED_KINDS, "private")
KINDS = (*ARTICLE_KINDS, "pdf", "image", "dead")
END_UTC = 1_514_764_800  # 2018-01-01: every submission is older, as in the WebText recipe

# Standard-library modules with plenty of prose in their docstrings that import in a few ms.
_MODULES = (
    "doctest", "pdb", "logging", "inspect", "threading", "codecs", "os", "shutil", "json", "typing",
    "urllib.parse", "statistics", "socket", "ast", "tarfile", "traceback", "tempfile", "configparser",
    "pathlib", "pkgutil", "base64", "mimetypes", "timeit", "socketserver", "http.server", "subprocess",
    "zipfile", "random", "weakref", "io", "calendar", "cmd", "graphlib", "queue", "gzip", "locale", "re",
    "collections", "sched", "itertools", "textwrap", "dataclasses", "argparse",
)
_MODULE_TITLES = (
    "A guide to Python's {} module", "What the {} module does", "Inside {}: notes from the documentation",
    "Getting started with {}", "{}: a closer look", "Understanding the {} module",
)
_SITES = (
    ("The Interpreter Gazette", "News from the standard library", ("News", "Tutorials", "Opinion", "Podcast")),
    ("Standard Library Weekly", "Every module, every week", ("Latest", "Guides", "Reviews", "Newsletter")),
    ("Daily Bytecode", "Compiled fresh every morning", ("Home", "Features", "Explainers", "Jobs")),
    ("Module Review", "Independent reviews since 2009", ("Reviews", "Columns", "Letters", "Archive")),
    ("The Syntax Tribune", "All the grammar that's fit to print", ("World", "Language", "Ideas", "Events")),
    ("Loopback Ledger", "Local news for local hosts", ("Local", "Business", "Science", "Culture")),
)
_COMMENTS = (
    "Great read, thanks for sharing.", "I never knew this, very helpful!", "Bookmarked for later.",
    "Does anyone know if this changed in the latest version?", "This is exactly what I was looking for.",
    "Not sure I agree with all of this, but good write-up.", "Came here from Reddit. Excellent article.",
    "Could you do a follow-up on the edge cases?", "First!", "Thanks, this cleared up a lot of confusion.",
    "The examples would help more with some diagrams.", "Shared this with my team.",
)
_USERS = ("jdoe42", "pythonista", "anon_reader", "kate.m", "old_timer", "curious_cat", "dev_dave", "maria_k")


class Response(NamedTuple):
    status: int
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Page:
    """One URL of the site and what a crawler should find there.

    ``status`` is the HTTP status served, or ``None`` where nothing listens (a dead host);
    ``original`` is the URL a duplicate copies. Article kinds carry their title and paragraphs.
    """

    url: str
    kind: str
    host: str
    path: str
    status: int | None = 200
    content_type: str = HTML_TYPE
    title: str = ""
    paragraphs: tuple[str, ...] = ()
    byline: str = ""
    original: str | None = None

    @property
    def text(self) -> str:
        """The article as plain text: title, then one paragraph per block."""
        return "\n\n".join((self.title, *self.paragraphs)) if self.title else ""


# --- prose from Python itself ---------------------------------------------------------------------


def _prose(text: str, seen: set[str]) -> list[str]:
    """Paragraphs of ``text`` that read as prose: code, grammar and headings are skipped."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = textwrap.dedent(block).strip()
        if ">>>" in block or "::=" in block or re.search(r"^[*=~^-]{3,}$", block, re.M):
            continue
        para = " ".join(line.strip() for line in block.splitlines()).removeprefix("* ")
        # Mostly letters and spaces: code and tables are full of symbols.
        if (len(para.split()) < 12 or not para.endswith(".") or para in seen
                or sum(c.isalpha() or c == " " for c in para) < 0.85 * len(para)):
            continue
        seen.add(para)
        out.append(para)
    return out


@functools.cache
def _documents() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(title, paragraphs) of every usable topic text and module docstring collection."""
    from pydoc_data.topics import topics

    seen: set[str] = set()
    docs = [(text.split("\n", 1)[0].strip(), _prose(text, seen)) for text in topics.values()]
    for i, name in enumerate(_MODULES):
        try:
            mod = importlib.import_module(name)
        except ImportError:  # a stripped-down Python may lack a module; the others suffice
            continue
        texts = [inspect.getdoc(mod) or ""]
        with warnings.catch_warnings():  # reading deprecated names (typing.io, ...) warns
            warnings.simplefilter("ignore", DeprecationWarning)
            for obj in vars(mod).values():
                if getattr(obj, "__module__", None) == name and (inspect.isfunction(obj) or inspect.isclass(obj)):
                    texts.append(inspect.getdoc(obj) or "")
                    if inspect.isclass(obj):
                        texts += [inspect.getdoc(m) or "" for m in vars(obj).values() if inspect.isfunction(m)]
        title = _MODULE_TITLES[i % len(_MODULE_TITLES)].format(name)
        docs.append((title, [p for t in texts for p in _prose(t, seen)]))
    return tuple((title, tuple(paras)) for title, paras in docs if paras)


def _articles(rng: random.Random) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(title, paragraphs) articles of 300 words or more, each from one document, documents shuffled.

    A long document becomes several articles ("part 2", ...); one under 300 words is skipped.
    """
    docs = list(_documents())
    rng.shuffle(docs)
    for title, paras in docs:
        total = sum(len(p.split()) for p in paras)
        if total < 300:
            continue
        share = total / max(1, total // rng.randint(300, 340))  # words per article, at least 300
        chunks: list[list[str]] = [[]]
        words = 0
        for para in paras:
            if words >= share:
                chunks.append([])
                words = 0
            chunks[-1].append(para)
            words += len(para.split())
        if len(chunks) > 1 and words < 300:  # a short tail joins the article before it
            tail = chunks.pop()
            chunks[-1] += tail
        for n, chunk in enumerate(chunks, 1):
            yield (title if n == 1 else f"{title} (part {n})"), tuple(chunk)


def _near_copy(paragraphs: tuple[str, ...], rng: random.Random, variant: int, donor: str) -> tuple[str, ...]:
    """A near duplicate: one sentence swapped for ``donor``'s first, or the shortest paragraph dropped."""
    paras = list(paragraphs)
    if variant % 2 and len(paras) >= 4:
        paras.remove(min(paras[1:], key=len))
        return tuple(paras)
    i = rng.randrange(len(paras))
    sentences = re.split(r"(?<=[.!?])\s+", paras[i])
    sentences[rng.randrange(len(sentences))] = re.split(r"(?<=[.!?])\s+", donor)[0]
    paras[i] = " ".join(sentences)
    return tuple(paras)


# --- binary resources ---------------------------------------------------------------------------


def _pdf(text: str) -> bytes:
    """A minimal valid one-page PDF showing ``text``."""
    content = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def _png() -> bytes:
    """A valid 1x1 grey PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixel = zlib.compress(b"\x00\x80")  # filter byte 0, one grey pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")


# A JPEG's signature and JFIF header only: enough for content sniffing, not a decodable picture.
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xfe\x00\x08demo\xff\xd9"


# --- the site -----------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port free on loopback now (the same number is then bound on every 127.0.0.x host)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60].rstrip("-") or "page"


@dataclass
class _Host:
    addr: str
    name: str
    tagline: str
    menu: tuple[str, ...]
    robots: str | None
    pages: list[Page] = field(default_factory=list)


class DemoSite:
    """The site model: hosts, pages and the bytes served for every (host, path).

    Deterministic for (``seed``, ``hosts``, ``port``) on one Python version. ``port=None`` picks
    a free one. Building takes ~10 ms (plus ~0.1 s once per process to gather the prose).
    """

    def __init__(self, seed: int = 0, hosts: int = 6, port: int | None = None,
                 pages_per_host: tuple[int, int] = (20, 30)) -> None:
        if not 2 <= hosts <= 240:
            raise ValueError("hosts must be between 2 and 240")
        self.seed = seed
        self.port = free_port() if port is None else port
        rng = random.Random(seed)
        self._hosts = [
            _Host(
                f"127.0.0.{10 + i}",
                _SITES[i % len(_SITES)][0] + (f" {i // len(_SITES) + 1}" if i >= len(_SITES) else ""),
                _SITES[i % len(_SITES)][1],
                _SITES[i % len(_SITES)][2],
                # The first host hides /private/; others allow everything or have no robots.txt at all.
                "User-agent: *\nDisallow: /private/\n" if i == 0 else ("User-agent: *\nDisallow:\n" if i % 2 else None),
            )
            for i in range(hosts)
        ]
        self.hosts = [h.addr for h in self._hosts]
        #: The host that serves /private/ and disallows it in robots.txt.
        self.robots_host = self.hosts[0]
        self.pages: list[Page] = []
        self._files: dict[tuple[str, str], bytes] = {}  # non-HTML bodies
        self._build(rng, pages_per_host)
        self._by_url = {p.url: p for p in self.pages}
        self._responses = self._render(rng)

    def base_url(self, host: str) -> str:
        return f"http://{host}:{self.port}"

    def urls(self, *kinds: str) -> list[str]:
        """Page URLs of the given kinds (all kinds when none is given), in site order."""
        return [p.url for p in self.pages if not kinds or p.kind in kinds]

    def page(self, url: str) -> Page:
        return self._by_url[url]

    def response(self, host: str, target: str) -> Response:
        """What ``host`` serves for a request target (path and query); unknown query strings are
        ignored, as most real sites do, so a tracking parameter still finds the page."""
        hit = self._responses.get((host, target)) or self._responses.get((host, target.split("?", 1)[0]))
        return hit or self._responses[(host, "404")]

    # Building --------------------------------------------------------------------------------------

    def _add(self, host: _Host, kind: str, path: str, **kw: Any) -> Page:
        page = Page(f"{self.base_url(host.addr)}{path}", kind, host.addr, path, **kw)
        host.pages.append(page)
        self.pages.append(page)
        return page

    def _article_path(self, host: _Host, i: int, slug: str, rng: random.Random) -> str:
        # Each host has its own URL scheme, as real sites do.
        style = self._hosts.index(host) % 4
        if style == 0:
            return f"/{rng.randint(2014, 2017)}/{rng.randint(1, 12):02d}/{slug}.html"
        if style == 1:
            return f"/articles/{slug}"
        if style == 2:
            return f"/blog/{slug}/"
        return f"/story.php?id={1000 + i}"

    def _build(self, rng: random.Random, pages_per_host: tuple[int, int]) -> None:
        articles = iter(_articles(rng))
        day0 = date(2015, 1, 1)

        def article(host: _Host, kind: str) -> None:
            try:
                title, paras = next(articles)
            except StopIteration:  # the prose ran out: fewer pages, never repeated text
                return
            byline = f"By {rng.choice(_USERS).replace('_', ' ').title()} · {day0 + timedelta(rng.randrange(1090))}"
            path = (f"/private/{_slug(title)}.html" if kind == "private"
                    else self._article_path(host, len(self.pages), _slug(title), rng))
            self._add(host, kind, path, title=title, paragraphs=paras, byline=byline)

        for _ in range(3):
            article(self._hosts[0], "private")
        for host in self._hosts:
            for _ in range(rng.randint(*pages_per_host)):
                article(host, "article")
        originals = [p for p in self.pages if p.kind == "article"]
        picked = rng.sample(originals, min(2 * len(self._hosts), len(originals)))
        for n, orig in enumerate(picked):
            other = rng.choice([h for h in self._hosts if h.addr != orig.host])
            near = n % 2 == 1
            donor = rng.choice([p for p in originals if p is not orig]).paragraphs[0]  # text from elsewhere
            paras = _near_copy(orig.paragraphs, rng, n // 2, donor) if near else orig.paragraphs
            path = self._article_path(other, len(self.pages), _slug(orig.title), rng)
            self._add(other, "near_dup" if near else "exact_dup", path, title=orig.title, paragraphs=paras,
                      byline=orig.byline, original=orig.url)
        h = self._hosts
        pdf, png = _pdf("Annual report 2017"), _png()
        for host, path, kind, ctype, data in (
            (h[1], "/files/report.pdf", "pdf", "application/pdf", pdf),
            (h[-1], "/download/annual-report", "pdf", "application/pdf", pdf),  # no telling extension
            (h[0], "/img/photo.jpg", "image", "image/jpeg", _JPEG),
            (h[-2], "/media/chart", "image", "image/png", png),
            (h[1], "/2016/01/removed-story.html", "dead", HTML_TYPE, None),
            (h[-1], "/articles/this-page-moved-away", "dead", HTML_TYPE, None),
        ):
            self._add(host, kind, path, status=404 if data is None else 200, content_type=ctype)
            if data is not None:
                self._files[(host.addr, path)] = data
        # A host where nothing listens: the connection is refused at once.
        dead = f"127.0.0.{10 + len(self._hosts)}"
        page = Page(f"http://{dead}:{self.port}/news/gone.html", "dead", dead, "/news/gone.html", status=None)
        self.pages.append(page)

    # Rendering -------------------------------------------------------------------------------------

    def _render(self, rng: random.Random) -> dict[tuple[str, str], Response]:
        responses: dict[tuple[str, str], Response] = {}
        linkable = [p for p in self.pages if p.kind in (*LISTED_KINDS, "dead")]
        for host in self._hosts:
            for page in host.pages:
                key = (host.addr, page.path)
                if page.kind in ARTICLE_KINDS:
                    related = rng.sample(linkable, 4)
                    body = self._html(host, page, related, rng)
                    responses[key] = Response(200, HTML_TYPE, body)
                elif page.status == 200:
                    responses[key] = Response(200, page.content_type, self._files[key])
            if host.robots is not None:
                responses[(host.addr, "/robots.txt")] = Response(200, "text/plain; charset=utf-8",
                                                                  host.robots.encode())
            index = "".join(f'<li><a href="{html.escape(p.path)}">{html.escape(p.title)}</a></li>'
                            for p in host.pages if p.kind in LISTED_KINDS)
            responses[(host.addr, "/")] = Response(200, HTML_TYPE, self._frame(
                host, host.name, f"<h1>Latest stories</h1><ul>{index}</ul>", rng))
            responses[(host.addr, "404")] = Response(404, HTML_TYPE, self._frame(
                host, "Page not found", "<h1>Page not found</h1><p>Sorry, that page does not exist.</p>", rng))
        return responses

    def _html(self, host: _Host, page: Page, related: list[Page], rng: random.Random) -> bytes:
        e = html.escape
        # The <article> depends on the page's text only, so exact duplicates share it byte for byte.
        article = (
            f"<article>\n<h1>{e(page.title)}</h1>\n<p class=\"byline\">{e(page.byline)}</p>\n"
            + "".join(f"<p>{e(p)}</p>\n" for p in page.paragraphs)
            + "</article>"
        )
        links = "".join(f'<li><a href="{e(r.url)}">{e(r.title or "Read more")}</a></li>' for r in related)
        comments = "".join(
            f'<div class="comment"><p class="comment-author">{e(rng.choice(_USERS))}</p>'
            f"<p>{e(rng.choice(_COMMENTS))}</p></div>"
            for _ in range(rng.randint(2, 5))
        )
        main = (
            f"{article}\n"
            '<aside class="share">Share this story: <a href="#">Twitter</a> <a href="#">Facebook</a> '
            '<a href="#">Email</a></aside>\n'
            f'<section class="related"><h2>Related articles</h2><ul>{links}</ul></section>\n'
            f'<section class="comments" id="comments"><h2>Comments</h2>{comments}'
            '<form><textarea name="comment" placeholder="Join the discussion"></textarea>'
            "<button>Post comment</button></form></section>"
        )
        return self._frame(host, page.title, main, rng, description=page.paragraphs[0][:150])

    def _frame(self, host: _Host, title: str, main: str, rng: random.Random, description: str = "") -> bytes:
        """The boilerplate every page of ``host`` shares around its main content."""
        e = html.escape
        menu = "".join(f'<li><a href="/{m.lower()}/">{e(m)}</a></li>' for m in host.menu)
        page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} | {e(host.name)}</title>
<meta name="description" content="{e(description)}">
<style>body{{font-family:Georgia,serif;max-width:46em;margin:auto}}.cookie-banner{{position:fixed;bottom:0}}</style>
<script>window.dataLayer=window.dataLayer||[];
function gtag(){{dataLayer.push(arguments)}}gtag('js',new Date());</script>
</head>
<body>
<div class="cookie-banner" id="cookie-consent" role="dialog"><p>We use cookies to improve your experience and
to show you relevant ads. By continuing to browse you agree to our <a href="/privacy">Cookie Policy</a>.</p>
<button>Accept all</button> <button>Manage preferences</button></div>
<header class="site-header"><a class="logo" href="/">{e(host.name)}</a><p class="tagline">{e(host.tagline)}</p>
</header>
<nav class="main-nav"><ul><li><a href="/">Home</a></li>{menu}<li><a href="/subscribe">Subscribe</a></li></ul></nav>
<main>
{main}
</main>
<footer class="site-footer"><p>&copy; {rng.randint(2015, 2017)} {e(host.name)}. All rights reserved.</p>
<ul><li><a href="/about">About us</a></li><li><a href="/privacy">Privacy policy</a></li>
<li><a href="/terms">Terms of use</a></li><li><a href="/contact">Contact</a></li></ul>
<p>Sign up for our newsletter and get the best stories in your inbox every week.</p></footer>
</body>
</html>
"""
        return page.encode()


# --- the server ---------------------------------------------------------------------------------


class Hit(NamedTuple):
    """One request the server answered, for tests that check what a crawler fetched."""

    host: str
    path: str
    status: int
    user_agent: str


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so every response carries Content-Length
    timeout = 30  # an idle keep-alive connection gives up eventually even if nobody stops the server
    server: _HostServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection)

    def finish(self) -> None:
        self.server.owner._untrack(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def _respond(self, with_body: bool) -> None:
        # The host is the address the request arrived on, not the (spoofable, optional) Host header.
        host = self.server.server_address[0]
        resp = self.server.owner.site.response(host, self.path)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if with_body:
            self.wfile.write(resp.body)
        self.server.owner.hits.append(Hit(host, self.path, resp.status, self.headers.get("User-Agent", "")))

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the crawler logs what matters
        pass


class _HostServer(ThreadingHTTPServer):
    owner: DemoServer
    daemon_threads = False  # socketserver joins only non-daemon request threads in server_close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response (a crawler dropping a PDF after its headers) is routine here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class DemoServer:
    """Serves a ``DemoSite`` on each of its 127.0.0.x addresses, one thread-per-request server each.

    Use as a context manager or ``start()``/``stop()``. ``stop()`` closes open keep-alive
    connections too and joins every thread it started, so nothing lingers.
    """

    def __init__(self, site: DemoSite) -> None:
        self.site = site
        self.hits: list[Hit] = []  # list.append is atomic, so handler threads may share it
        self._servers: list[_HostServer] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closing = False

    def start(self) -> DemoServer:
        if self._servers:
            return self
        self._closing = False
        try:
            for host in self.site.hosts:
                if not host.startswith("127."):  # never listen beyond loopback
                    raise ValueError(f"refusing to serve on non-loopback address {host}")
                server = _HostServer((host, self.site.port), _Handler)
                server.owner = self
                self._servers.append(server)
        except BaseException:
            self.stop()
            raise
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True,
                                      name=f"demo-web-{server.server_address[0]}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._lock:
            self._closing = True
            open_now = list(self._open)
        # shutdown() waits up to a poll interval for its serve_forever loop: wait for all at once.
        stoppers = [threading.Thread(target=s.shutdown) for s in self._servers[: len(self._threads)]]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        for conn in open_now:  # wake handlers waiting on a keep-alive connection
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for server in self._servers:
            server.server_close()  # joins the request threads
        for thread in self._threads:
            thread.join()
        self._servers, self._threads = [], []

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket) -> None:
        with self._lock:
            if self._closing:  # accepted just as stop() began: close it rather than let it wait
                conn.shutdown(socket.SHUT_RDWR)
            else:
                self._open.add(conn)

    def _untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)


# --- the dump -----------------------------------------------------------------------------------


def _respell(url: str, rng: random.Random) -> str:
    """Another spelling of the same page, as reposts have: normalisation must merge them."""
    variants = (
        lambda u: u.replace("http://", "HTTP://", 1),
        lambda u: u + ("&" if "?" in u else "?") + "utm_source=reddit",
        lambda u: u + "#comments",
    )
    return rng.choice(variants)(url)


def write_site_dump(path: Path, site: DemoSite, seed: int = 0, extra_submissions: int = 0) -> Counter[str]:
    """Write a Pushshift-format submission dump whose links point at ``site``; returns records per kind.

    Every article-like page gets 1-3 submissions (reposts in other spellings), most with karma >= 3
    and some below; the pdf, image, dead and private URLs get one well-scored submission each, so
    it is the crawler, not the karma filter, that must drop them. A few self posts, one NSFW link
    and ``extra_submissions`` generated records (``sample_dump.iter_submissions``: hosts that do
    not resolve) are mixed in. Records are in time order, all before 2018. Compression follows
    the extension, as ``write_sample_dump`` does.
    """
    rng = random.Random(seed)
    rows: list[tuple[str, str, int, bool, bool, str]] = []  # kind, url, score, is_self, nsfw, title
    for page in site.pages:
        title = page.title or f"{page.path.rsplit('/', 1)[-1].replace('-', ' ')} ({page.kind})"
        for k in range(rng.randint(1, 3) if page.kind in LISTED_KINDS else 1):
            low = page.kind in LISTED_KINDS and rng.random() < 0.2
            score = rng.randint(0, 2) if low else int(rng.paretovariate(1.0)) + 2
            rows.append((page.kind, page.url if k == 0 else _respell(page.url, rng), score, False, False, title))
    articles = [p for p in site.pages if p.kind == "article"]
    for i in range(3):
        rows.append(("self", f"https://www.reddit.com/r/Python/comments/self{i}/", rng.randint(3, 300), True, False,
                     "What is your favourite standard-library module?"))
    nsfw = rng.choice(articles)
    rows.append(("nsfw", nsfw.url, rng.randint(3, 300), False, True, nsfw.title))
    rng.shuffle(rows)
    records = []
    for i, (kind, url, score, is_self, over_18, title) in enumerate(rows):
        rec = _record(rng, i, url, score, is_self, over_18)
        host = url.split("/")[2].split(":")[0]
        rec.update(title=title, domain=f"self.{rec['subreddit']}" if is_self else host,
                   selftext=title * 3 if is_self else "")
        records.append((kind, rec))
    records += [("extra", rec) for rec in iter_submissions(extra_submissions, seed)]
    # Spread over 2014-2017 in time order, with fresh ids (the generated records number from 0 too).
    times = sorted(rng.randrange(1_400_000_000, END_UTC) for _ in records)
    rng.shuffle(records)
    counts: Counter[str] = Counter()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_compressed(path, False) as f:
        for i, ((kind, rec), created) in enumerate(zip(records, times, strict=True)):
            sid = f"{i + 3_000_000:x}"
            rec.update(id=sid, created_utc=created, permalink=f"/r/{rec['subreddit']}/comments/{sid}/"
                       f"{_slug(rec['title'])[:40].replace('-', '_')}/")
            f.write(orjson.dumps(rec).replace(b"/", b"\\/") + b"\n")
            counts[kind] += 1
    return counts
