"""URL normalisation and the URL-level filters of the WebText recipe.

``normalise_url`` is documented, deterministic and idempotent (``normalise(normalise(u)) ==
normalise(u)``; property-tested):

1. surrounding whitespace stripped; HTML-escaped ampersands (``&amp;``, as Reddit stored many
   URLs) unescaped;
2. scheme lower-cased; only ``http``/``https`` are kept;
3. URLs carrying credentials (``user:pass@host``, ``user@host``) are refused; an empty userinfo
   (``http://@host/``) is dropped;
4. host lower-cased, IDNA-encoded (UTS #46), trailing dot removed; default ports (80/443) removed;
5. percent-encoding normalised in path and query: escapes of unreserved characters decoded,
   other escapes upper-cased, characters that are not allowed (spaces, non-ASCII) encoded as
   UTF-8; dot segments (``/a/./b/../c``) removed; an empty path becomes ``/``;
6. tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ...) removed, the remaining query
   parameters sorted by name (values of a repeated name keep their order), empty query dropped;
7. fragment removed.

Blocklists (Wikipedia, media/file/social hosts, non-HTML extensions) are versioned text files
shipped in ``webtext/crawl/blocklists/``; a user may point the config at their own files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = _UNRESERVED | frozenset(b"!$&'()*+,;=:@/")
_QUERY_SAFE = _PATH_SAFE | frozenset(b"?")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_PATH_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_QUERY_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*")
_HOST_ASCII = re.compile(r"[a-z0-9_\-.]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: Query parameters that only track the click; removing them never changes the page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
        "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id",
        "wickedid", "twclid", "ttclid", "li_fat_id", "s_cid", "ncid", "ocid", "cmpid",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
DEFAULT_PORTS = {"http": 80, "https": 443}


class UrlRejected(ValueError):
    """A URL that cannot be kept; ``reason`` is its drop-reason name (``url_scheme``...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _normalise_escapes(text: str, safe: frozenset[int], plain: re.Pattern[str]) -> str:
    if "%" not in text and plain.fullmatch(text):
        return text
    data = text.encode("utf-8", "surrogatepass")
    out: list[str] = []
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c == 0x25 and i + 2 < n and data[i + 1] in _HEX and data[i + 2] in _HEX:
            value = int(data[i + 1 : i + 3], 16)
            out.append(chr(value) if value in _UNRESERVED else f"%{value:02X}")
            i += 3
            continue
        out.append(chr(c) if c in safe else f"%{c:02X}")
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    if "." not in path:
        return path
    segments = path.split("/")
    if "." not in segments and ".." not in segments:
        return path
    out: list[str] = []
    for seg in segments[1:]:
        if seg == ".":
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    # A trailing "." or ".." leaves a directory: keep its trailing slash.
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)


def _normalise_host(host: str) -> str:
    host = host.rstrip(".")
    if not host:
        raise UrlRejected("url_malformed")
    if ":" in host:  # IPv6 literal (urlsplit removed the brackets)
        if not re.fullmatch(r"[0-9a-f:.]+", host):
            raise UrlRejected("url_malformed")
        return f"[{host}]"
    if not host.isascii():
        import idna

        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise UrlRejected("url_malformed") from exc
    # ASCII hosts, punycode ("xn--") included, are taken as urlsplit lower-cased them.
    if not _HOST_ASCII.fullmatch(host) or ".." in host or len(host) > 253:
        raise UrlRejected("url_malformed")
    return host


def normalise_url(raw: str, max_length: int = 2048) -> str:
    """The normalised form of ``raw``; raises ``UrlRejected`` with the drop reason."""
    url = raw.strip()
    if not url:
        raise UrlRejected("url_malformed")
    if len(url) > max_length:
        raise UrlRejected("url_too_long")
    if _CONTROL.search(url):
        raise UrlRejected("url_malformed")
    while "&amp;" in url:
        url = url.replace("&amp;", "&")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UrlRejected("url_malformed") from exc
    scheme = parts.scheme.lower()
    if not scheme or "://" not in url[: len(scheme) + 3]:
        raise UrlRejected("url_malformed" if not scheme else "url_scheme")
    if scheme not in DEFAULT_PORTS:
        raise UrlRejected("url_scheme")
    netloc = parts.netloc
    if "@" in netloc:
        if netloc.rpartition("@")[0]:
            raise UrlRejected("url_credentials")
        parts = parts._replace(netloc=netloc.rpartition("@")[2])  # "http://@host/": empty userinfo
    try:
        port = parts.port
        hostname = parts.hostname or ""
    except ValueError as exc:
        raise UrlRejected("url_malformed") from exc
    host = _normalise_host(hostname)
    port_text = "" if port is None or port == DEFAULT_PORTS[scheme] else f":{port}"
    path = _remove_dot_segments(_normalise_escapes(parts.path, _PATH_SAFE, _PATH_PLAIN)) or "/"
    if not path.startswith("/"):
        path = "/" + path
    query = _normalise_query(parts.query)
    return f"{scheme}://{host}{port_text}{path}{'?' + query if query else ''}"


def _normalise_query(query: str) -> str:
    if not query:
        return ""
    plain = "%" not in query and _QUERY_PLAIN.fullmatch(query) is not None
    params = []
    for p in query.split("&"):
        if not p:
            continue
        if not plain:
            p = _normalise_escapes(p, _QUERY_SAFE, _QUERY_PLAIN)
        key = p.split("=", 1)[0].lstrip("?").lower()
        if key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES):
            continue
        params.append(p)
    params.sort(key=lambda p: p.split("=", 1)[0])
    return "&".join(params)


def url_host(url: str) -> str:
    """Host of a normalised URL (no port, no brackets stripped)."""
    rest = url.split("://", 1)[1]
    host = rest.split("/", 1)[0]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def domain_of(host: str) -> str:
    """The ``domain`` column: the host without a leading ``www.``."""
    return host[4:] if host.startswith("www.") else host


def host_suffixes(host: str) -> list[str]:
    """``a.b.example.com`` -> [``a.b.example.com``, ``b.example.com``, ``example.com``, ``com``]."""
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def is_wikipedia(host: str) -> bool:
    return host == "wikipedia.org" or host.endswith(".wikipedia.org")


# ---------------------------------------------------------------------------------------------
# Blocklists


@dataclass(frozen=True)
class Blocklist:
    """A set of entries read from a versioned text file (``# version: ...`` header)."""

    name: str
    entries: frozenset[str]
    version: str
    sha256: str

    @classmethod
    def load(cls, path: Path | None, default: str) -> Blocklist:
        """Read ``path``, or the list shipped as ``blocklists/<default>`` when path is None."""
        if path is None:
            data = resources.files("webtext.crawl").joinpath("blocklists", default).read_bytes()
            name = f"webtext:{default}"
        else:
            data = Path(path).read_bytes()
            name = str(path)
        version = "unversioned"
        entries = set()
        for line in data.decode("utf-8").splitlines():
            line = line.strip()
            if line.startswith("#"):
                m = re.match(r"#\s*version:\s*(\S+)", line)
                if m:
                    version = m.group(1)
                continue
            if line:
                entries.add(line.lower().lstrip("."))
        return cls(name, frozenset(entries), version, hashlib.sha256(data).hexdigest())

    def describe(self) -> dict[str, str | int]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "entries": len(self)}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, item: object) -> bool:
        return item in self.entries


def path_extension(url: str) -> str:
    """Lower-cased extension of the last path segment of a normalised URL (``pdf``), or ''."""
    rest = url.split("://", 1)[1]
    slash = rest.find("/")
    path = rest[slash:] if slash >= 0 else "/"
    path = path.split("?", 1)[0]
    last = path.rsplit("/", 1)[-1]
    if "." not in last:
        return ""
    return last.rsplit(".", 1)[1].lower()


_HOST_CACHE_MAX = 200_000


@dataclass(frozen=True)
class UrlFilter:
    """Normalise a raw URL and apply the URL-level filters; returns (url, domain) or raises.

    The reference, one URL at a time. Its one fast path is ``webtext.crawl.url_columns``, which
    does the same for a whole Arrow column (and sends what it cannot take back here).
    """

    max_length: int
    domains: Blocklist | None
    extensions: Blocklist | None
    drop_wikipedia: bool
    _hosts: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, raw: str) -> tuple[str, str]:
        url = normalise_url(raw, self.max_length)
        host = url_host(url)
        self._check_host(host)
        self._check_extension(path_extension(url))
        return url, domain_of(host)

    def host_reason(self, host: str) -> str | None:
        """Why a (lower-cased) host is dropped (``wikipedia``, ``domain_blocklist``), or None."""
        reason = self._hosts.get(host, "")
        if reason == "":
            reason = None
            if self.drop_wikipedia and is_wikipedia(host):
                reason = "wikipedia"
            elif self.domains is not None and any(s in self.domains for s in host_suffixes(host)):
                reason = "domain_blocklist"
            if len(self._hosts) >= _HOST_CACHE_MAX:
                self._hosts.clear()
            self._hosts[host] = reason
        return reason

    def _check_host(self, host: str) -> None:
        reason = self.host_reason(host)
        if reason is not None:
            raise UrlRejected(reason)

    def _check_extension(self, ext: str) -> None:
        if ext and self.extensions is not None and ext in self.extensions:
            raise UrlRejected("extension_blocklist")
