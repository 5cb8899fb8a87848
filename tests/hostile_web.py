"""A hostile little web on loopback, for the crawl tests.

``HostileWeb`` serves the same routes on several 127.0.0.x addresses (one port; each address is a
different "host" to the crawler) with a thread-per-request ``ThreadingHTTPServer`` each, and
records every request it receives (host, path, start, end) and the most requests one host was
serving at once. Only loopback addresses are ever bound.

Routes (any host; anything not listed is an ordinary HTML page, ``page(host, path)``):

- ``/robots.txt``: per host, from the ``robots`` mapping (``host -> (status, body)``); 404 if absent.
- ``/redirect/chain/N``: 302 to ``/redirect/chain/N-1``; ``/redirect/chain/0`` is a page.
- ``/redirect/loop/a`` <-> ``/redirect/loop/b``: 302 to each other forever.
- ``/redirect/metadata``: 302 to ``http://169.254.169.254/latest/meta-data/`` (cloud metadata).
- ``/redirect/private``: 302 to ``http://10.11.12.13/internal.html``.
- ``/redirect/to/<path>``: 302 to ``/<path>`` on the same host.
- ``/meta-refresh``: a 200 page whose ``<meta http-equiv=refresh>`` points at 169.254.169.254.
- ``/redirect/ftp``, ``/redirect/file``: 302 to ``ftp://<this host>:<port>/x.txt`` / ``file:///etc/passwd``.
- ``/bomb/gzip``, ``/bomb/br``, ``/bomb/zstd``: ~200 MiB of zeros, compressed (Content-Encoding);
  ``br``/``zstd`` need the ``brotli``/``zstandard`` modules.
- ``/large``: ``LARGE_SIZE`` bytes of HTML with a Content-Length; ``/large/unsized``: the same,
  without one (the body ends when the connection closes).
- ``/trickle``: a Content-Length of 1000, then one byte a second until the client gives up.
- ``/hang``: reads the request, never answers, ends when the client closes the connection.
- ``/missing``: 404. ``/error500``: always 500. ``/retry429``: 429 with ``Retry-After: 1`` the first
  time it is asked for on a host, a page afterwards. ``/retry-long``: always 429 with ``Retry-After: 1000``.
- ``/image.png`` (image/png), ``/doc.pdf`` (application/pdf), ``/big.png`` (image/png, ``LARGE_SIZE`` bytes).
- ``/charset/unknown``: ``charset=no-such-charset`` with Latin-1 bytes; ``/charset/bad-utf8``:
  declared UTF-8, invalid UTF-8 bytes. ``body_of(path)`` gives the served bytes.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import select
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOMB_SIZE = 200 * 1024 * 1024
LARGE_SIZE = 2 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + b"1 0 obj << >> endobj\n" * 200 + b"%%EOF\n"
UNKNOWN_CHARSET = ("<html><head><title>Caf\xe9</title></head><body><p>Cr\xe8me br\xfbl\xe9e, "
                   "na\xefve fa\xe7ade \xa9 \xbd \xff</p></body></html>").encode("latin-1")
META_REFRESH = (b'<html><head><meta http-equiv="refresh" content="0; url=http://169.254.169.254/latest/meta-data/">'
                b"</head><body>moved</body></html>")
BAD_UTF8 = b"<html><body><p>valid \xc3\xa9 then broken \xc3\x28 \xff\xfe \xed\xa0\x80 end</p></body></html>"


def page(host: str, path: str) -> bytes:
    """The ordinary page served at ``path`` on ``host`` (deterministic; the crawl tests compare bytes)."""
    return (f"<html><head><title>{host}{path}</title></head><body><article><h1>Page {path}</h1>"
            + "".join(f"<p>Paragraph {i} of {path} on {host}, with enough words to be prose.</p>" for i in range(8))
            + "</article></body></html>").encode()


def large_body() -> bytes:
    chunk = b"<p>" + b"x" * 1017 + b"</p>\n"  # 1 KiB
    return b"<html><body>" + chunk * (LARGE_SIZE // len(chunk)) + b"</body></html>"


@functools.cache
def bomb(encoding: str) -> bytes | None:
    """~200 MiB of zeros in ``encoding`` (gzip, br, zstd); None if the module is missing."""
    zeros = bytes(BOMB_SIZE)
    if encoding == "gzip":
        return gzip.compress(zeros, compresslevel=9)
    if encoding == "br":
        try:
            import brotli
        except ImportError:
            return None
        return brotli.compress(zeros, quality=5)
    if encoding == "zstd":
        try:
            import zstandard
        except ImportError:
            return None
        return zstandard.ZstdCompressor(level=3).compress(zeros)
    raise ValueError(encoding)


def body_of(host: str, path: str) -> bytes:
    """The bytes a 200 HTML route serves (what the WARC must hold)."""
    if path == "/charset/unknown":
        return UNKNOWN_CHARSET
    if path == "/charset/bad-utf8":
        return BAD_UTF8
    if path.startswith("/redirect/chain/"):
        return page(host, "/redirect/chain/0")
    return page(host, path)


@dataclass(frozen=True)
class Hit:
    host: str
    path: str
    start: float  # time.monotonic() when the request line had been read
    end: float  # when the handler finished (or saw the client go away)
    user_agent: str


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    web: HostileWeb


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15  # an idle keep-alive connection ends after this
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.server.web._connect(self.server.server_address[0], +1)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.web._connect(self.server.server_address[0], -1)

    def do_GET(self) -> None:
        web = self.server.web
        host = self.server.server_address[0]
        start = time.monotonic()
        web._enter(host)
        try:
            self._route(web, host, self.path)
        except OSError:  # the client went away mid-answer
            self.close_connection = True
        finally:
            web._leave(Hit(host, self.path, start, time.monotonic(), self.headers.get("User-Agent", "")))

    # -- helpers

    def _send(self, code: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8",
              headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._send(302, b"", headers=(("Location", location),))

    def _client_gone(self, wait: float) -> bool:
        """Wait up to ``wait`` s; True if the client closed (or reset) the connection meanwhile."""
        try:
            readable, _, _ = select.select([self.connection], [], [], wait)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # -- routes

    def _route(self, web: HostileWeb, host: str, path: str) -> None:
        if path == "/robots.txt":
            status, body = web.robots.get(host, (404, b"no robots here"))
            return self._send(status, body, "text/plain")
        if path.startswith("/redirect/chain/"):
            n = int(path.rsplit("/", 1)[1])
            if n > 0:
                return self._redirect(f"/redirect/chain/{n - 1}")
            return self._send(200, body_of(host, path))
        if path == "/redirect/loop/a":
            return self._redirect("/redirect/loop/b")
        if path == "/redirect/loop/b":
            return self._redirect(f"http://{host}:{web.port}/redirect/loop/a")
        if path.startswith("/redirect/to/"):
            return self._redirect(path[len("/redirect/to") :])
        if path == "/meta-refresh":
            return self._send(200, META_REFRESH)
        if path == "/redirect/metadata":
            return self._redirect("http://169.254.169.254/latest/meta-data/")
        if path == "/redirect/private":
            return self._redirect("http://10.11.12.13/internal.html")
        if path == "/redirect/ftp":
            return self._redirect(f"ftp://{host}:{web.port}/x.txt")
        if path == "/redirect/file":
            return self._redirect("file:///etc/passwd")
        if path.startswith("/bomb/"):
            encoding = path.split("/")[2]
            body = bomb(encoding)
            if body is None:
                return self._send(404, b"no such bomb")
            return self._send(200, body, headers=(("Content-Encoding", encoding),))
        if path == "/large":
            return self._send(200, large_body())
        if path == "/large/unsized":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            body = large_body()
            for i in range(0, len(body), 64 * 1024):
                self.wfile.write(body[i : i + 64 * 1024])
            return None
        if path == "/trickle":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            for _ in range(1000):
                self.wfile.write(b"x")
                self.wfile.flush()
                if web.stopping.is_set() or self._client_gone(1.0):
                    return None
            return None
        if path == "/hang":
            self.close_connection = True
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not web.stopping.is_set():
                if self._client_gone(0.05):
                    return None
            return None
        if path == "/missing":
            return self._send(404, b"<html><body>not found</body></html>")
        if path == "/error500":
            return self._send(500, b"<html><body>internal error</body></html>")
        if path == "/retry429":
            if web.count(host, path) == 0:  # this request is not counted until it ends
                return self._send(429, b"slow down", "text/plain", headers=(("Retry-After", "1"),))
            return self._send(200, page(host, path))
        if path == "/retry-long":
            return self._send(429, b"come back much later", "text/plain", headers=(("Retry-After", "1000"),))
        if path == "/image.png":
            return self._send(200, PNG, "image/png")
        if path == "/big.png":
            return self._send(200, PNG[:8] + bytes(LARGE_SIZE), "image/png")
        if path == "/doc.pdf":
            return self._send(200, PDF, "application/pdf")
        if path == "/charset/unknown":
            return self._send(200, UNKNOWN_CHARSET, "text/html; charset=no-such-charset")
        if path == "/charset/bad-utf8":
            return self._send(200, BAD_UTF8, "text/html; charset=utf-8")
        return self._send(200, page(host, path))


class HostileWeb:
    """The routes above on every address of ``hosts`` (all 127.x), on one free port."""

    def __init__(self, hosts: tuple[str, ...], robots: dict[str, tuple[int, bytes]] | None = None) -> None:
        for h in hosts:
            if not h.startswith("127."):
                raise ValueError(f"refusing to listen on non-loopback address {h}")
        self.hosts = tuple(hosts)
        self.robots = dict(robots or {})
        self.port = 0
        self.hits: list[Hit] = []
        self.max_active: Counter[str] = Counter()  # host -> most requests it was answering at once
        self.connections: Counter[str] = Counter()  # host -> TCP connections accepted
        self.max_connections: Counter[str] = Counter()  # host -> most connections open at once
        self._open: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._active: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    # -- recording

    def _enter(self, host: str) -> None:
        with self._lock:
            self._active[host] += 1
            self.max_active[host] = max(self.max_active[host], self._active[host])

    def _connect(self, host: str, delta: int) -> None:
        with self._lock:
            if delta > 0:
                self.connections[host] += 1
            self._open[host] += delta
            self.max_connections[host] = max(self.max_connections[host], self._open[host])

    def _leave(self, hit: Hit) -> None:
        with self._lock:
            self._active[hit.host] -= 1
            self.hits.append(hit)

    def count(self, host: str, path: str) -> int:
        """Finished requests for ``path`` on ``host``."""
        with self._lock:
            return sum(1 for h in self.hits if h.host == host and h.path == path)

    def hits_for(self, host: str, path: str | None = None) -> list[Hit]:
        with self._lock:
            return sorted((h for h in self.hits if h.host == host and (path is None or h.path == path)),
                          key=lambda h: h.start)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    # -- lifecycle

    def start(self) -> HostileWeb:
        for _attempt in range(20):
            probe = socket.socket()
            probe.bind((self.hosts[0], 0))
            port = probe.getsockname()[1]
            probe.close()
            servers: list[_Server] = []
            try:
                for h in self.hosts:
                    servers.append(_Server((h, port), _Handler))
            except OSError:  # the port was taken on one of the addresses meanwhile: try another
                for s in servers:
                    s.server_close()
                continue
            self.port, self._servers = port, servers
            break
        else:
            raise RuntimeError("no port free on every test address")
        for s in self._servers:
            s.web = self
            t = threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True,
                                 name=f"hostile-web-{s.server_address[0]}")
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self.stopping.set()
        for s in self._servers:
            s.shutdown()
        for s in self._servers:
            with contextlib.suppress(OSError):
                s.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> HostileWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on (connecting to it is refused)."""
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port
