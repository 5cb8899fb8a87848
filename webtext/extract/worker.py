"""trafilatura in a watchdog process: a per-document deadline and bounded memory.

trafilatura's own timeout exists only in its CLI, and a hostile page can keep lxml busy for
minutes or grow the heap; so extraction runs in a child process that the stage can kill. A
document that misses its deadline is dropped as ``timeout`` and the child is replaced; the child
is also replaced every ``docs_per_worker`` documents and when its RSS passes ``max_rss_mb``, so
a worker's memory stays bounded over millions of pages.

A child that dies under a page (a segfault in lxml, the OOM killer) is a transient failure: the
page is sent once more to a fresh child, and only if that one dies too is it answered ``crash``
(the stage drops it as ``extract_crash`` and a rerun tries it again). The child dies with its
parent (``webtext.lifeline``): a killed stage leaves no extraction process behind.

``Extractor.map`` keeps the child busy: while the child extracts one page, the caller reads and
decodes the next record and cleans the previous result, so on a machine with a spare core the
stage's own work costs no wall time.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from webtext import faults, lifeline

log = logging.getLogger(__name__)

K = TypeVar("K")


@dataclass(frozen=True)
class ExtractSettings:
    favor: str = "balanced"  # balanced | precision | recall
    include_tables: bool = True
    include_comments: bool = False
    dates: bool = True  # publication date by htmldate (~1 ms a page); off: the date column stays empty


class _Rss:
    """This process's resident memory in MiB, read from ``/proc/self/statm`` through a descriptor opened once (a
    ``pread`` per page instead of an open, read and close); 0.0 where there is no ``/proc``."""

    def __init__(self) -> None:
        self.page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        try:
            self.fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self.fd = None

    def __call__(self) -> float:
        if self.fd is None:
            return 0.0
        try:
            return int(os.pread(self.fd, 128, 0).split()[1]) * self.page_mb
        except (OSError, ValueError, IndexError):
            return 0.0


def _title_and_url(tree: Any) -> tuple[str | None, str | None]:
    """The title as trafilatura's ``extract_metadata`` finds it (meta tags, then JSON-LD, then h1/<title>), and the
    page's own URL from its meta tags if any.

    trafilatura's full metadata pass (author, sitename, categories, tags...) cost ~8 ms a page, a third of the
    extraction itself, for fields the docs schema does not have; these three look-ups cost ~1 ms."""
    from trafilatura.metadata import examine_meta, extract_meta_json, extract_title

    meta = examine_meta(tree)
    # JSON-LD only fills a title the meta tags did not give (and never the URL): read only then. 82% of news pages
    # have a meta title, and the JSON-LD pass (~1.6 ms a page) was half the cost of the title.
    if not meta.title:
        try:
            meta = extract_meta_json(tree, meta)
        except Exception as exc:  # trafilatura guards this call the same way: its JSON-LD parser has bugs
            log.debug("JSON-LD metadata failed: %s", exc)
    return meta.title or extract_title(tree), meta.url


#: htmldate's settings for the publication date: as trafilatura calls it, minus the extensive search (that loads
#: dateparser's ~200 locales, 1-4 s per process, for a fallback that rarely changes the answer on article pages).
DATE_PARAMS: dict[str, Any] = {"extensive_search": False, "original_date": True}


@functools.lru_cache(maxsize=8)
def _options(settings: ExtractSettings) -> Any:
    """trafilatura's extraction options (``trafilatura.settings.Extractor``) for these settings, built once.

    ``bare_extraction`` without ``options`` builds them for every page: 8 reads from a ConfigParser and today's date
    formatted for htmldate (used only with metadata, which the stage reads itself), 0.9 ms a page."""
    from trafilatura.settings import Extractor

    return Extractor(output_format="python", precision=settings.favor == "precision",
                     recall=settings.favor == "recall", comments=settings.include_comments,
                     tables=settings.include_tables, dedup=False, with_metadata=False, date_params=dict(DATE_PARAMS))


def page_options(settings: ExtractSettings, url: str | None) -> Any:
    """``_options`` for one page: a copy with the page's URL set, as trafilatura's own CLI sets it per file (the
    copy: trafilatura may change an options object while it extracts)."""
    options = copy.copy(_options(settings))
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")  # as Extractor.__init__ sets it
    return options


def extract_text(html: str, url: str | None, settings: ExtractSettings) -> dict[str, Any] | None:
    """trafilatura on one decoded page: {text, title, date} or None when it finds no main text."""
    import trafilatura
    from trafilatura.utils import load_html

    # Parsed once here: bare_extraction works on a copy of the tree (it prunes in place), and title and date are read
    # from the untouched original afterwards, only for pages that have a main text.
    tree = load_html(html)
    if tree is None:
        return None
    doc = trafilatura.bare_extraction(tree, options=page_options(settings, url))
    if doc is None or not getattr(doc, "text", None):
        return None
    title = date = None
    try:  # a metadata bug must not cost the page its text
        title, page_url = _title_and_url(tree)
        if settings.dates:
            from htmldate import find_date

            date = find_date(tree, **DATE_PARAMS, url=page_url or url)
    except Exception as exc:
        log.debug("metadata of %s failed: %s", url, exc)
    return {"text": doc.text, "title": title, "date": date}


def native_class_lookup() -> Any:
    """lxml.html's element classes (``FormElement`` for ``<form>``... ``HtmlElement`` otherwise, ``HtmlComment``...)
    chosen by lxml's C-level namespace lookup instead of ``HtmlElementClassLookup``, a Python method.

    lxml calls the element class lookup for every element proxy it creates: ~3 million calls for 774 news pages in
    trafilatura, 3-5% of the extraction's time. This lookup maps the same (lower-case, as lxml's HTML parser writes
    them) tag names to the same classes without calling into Python; the extracted text is the same
    (tests/test_extract_worker.py). An lxml without the tag -> class table gets its own lookup back."""
    from lxml import etree
    from lxml.html import HtmlComment, HtmlElement, HtmlElementClassLookup, HtmlEntity, HtmlProcessingInstruction

    classes = getattr(HtmlElementClassLookup, "_default_element_classes", None)
    if not isinstance(classes, dict):
        return HtmlElementClassLookup()
    fallback = etree.ElementDefaultClassLookup(element=HtmlElement, comment=HtmlComment, pi=HtmlProcessingInstruction,
                                               entity=HtmlEntity)
    lookup = etree.ElementNamespaceClassLookup(fallback)
    lookup.get_namespace(None).update(classes)
    return lookup


#: The characters trafilatura's ``load_html`` deletes from every page before it parses it: the pattern of
#: ``trafilatura.utils.INVALID_XML_CHARS``, and the same characters one by one.
XML_INVALID_PATTERN = r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]"
XML_INVALID_CHARS = tuple(map(chr, (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)))


def xml_clean(html: str) -> bool:
    """Whether ``html`` holds none of the characters trafilatura's ``load_html`` deletes (``XML_INVALID_CHARS``).

    31 substring tests (C loops over the string) take a third of the time of trafilatura's regex scan of the page."""
    return not any(c in html for c in XML_INVALID_CHARS)


@dataclass(frozen=True)
class Outgoing:
    """A page as it goes to the child: a header (``url``, ``clean``), then ``data``, its UTF-8 bytes, which the child
    decodes back to the same text. Bytes, not a pickled str: pickling encodes the text to UTF-8 each time (~0.2 ms a
    page here), and most pages were decoded from exactly those bytes (the stage passes them on)."""

    url: str | None
    clean: bool
    data: bytes


def outgoing(html: str, url: str | None, utf8: bytes | None = None) -> Outgoing:
    """``html`` ready to send; ``utf8``: its UTF-8 encoding if the caller has it (``html.encode()`` otherwise)."""
    data = utf8 if utf8 is not None else html.encode("utf-8", "surrogatepass")
    return Outgoing(url, xml_clean(html), data)


class CheckedPage:
    """Stands in for ``trafilatura.utils.INVALID_XML_CHARS`` in the extraction child.

    trafilatura's ``load_html`` calls ``INVALID_XML_CHARS.sub("", page)`` on every page: a regex scan of ~1 ms a
    page (2% of extraction) that almost never finds anything. The stage's process checks the page with ``xml_clean``
    while the child extracts the previous one, and the child marks a clean page with ``check``; ``sub`` returns that
    page (the same string object reaches it) unchanged without the scan. Any other string, and a page not found clean,
    goes to trafilatura's own pattern."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern
        self.page: str | None = None

    def check(self, page: str | None) -> None:
        """``page`` is known to be clean (None: no page is)."""
        self.page = page

    def sub(self, repl: Any, string: Any, count: int = 0) -> Any:
        if string is self.page:
            return string
        return self.pattern.sub(repl, string, count)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pattern, name)


def checked_page_chars() -> CheckedPage | None:
    """Install a ``CheckedPage`` as trafilatura's ``INVALID_XML_CHARS`` (the extraction child's own module); None,
    and nothing changed, where trafilatura deletes other characters than ``XML_INVALID_CHARS``."""
    import trafilatura.utils

    pattern = getattr(trafilatura.utils, "INVALID_XML_CHARS", None)
    if isinstance(pattern, CheckedPage):
        return pattern
    if getattr(pattern, "pattern", None) != XML_INVALID_PATTERN:
        return None
    stand_in = CheckedPage(pattern)
    trafilatura.utils.INVALID_XML_CHARS = stand_in  # type: ignore[assignment]
    return stand_in


def trafilatura_parsers() -> tuple[Any, ...]:
    """The lxml parsers trafilatura parses with: its own for every page (copies of a tree keep it) and lxml.html's
    default one (readability's fragments)."""
    import lxml.html
    from trafilatura.utils import HTML_PARSER

    return HTML_PARSER, lxml.html.html_parser


def _serve(conn: Any, settings: ExtractSettings) -> None:
    import gc

    # trafilatura imports py3langid (and with it numpy, 0.16 s of the child's start-up) only to filter by a target
    # language, which the stage never sets (it identifies languages itself, in its own process)
    sys.modules.setdefault("py3langid", None)  # type: ignore[arg-type]
    import htmldate  # noqa: F401 - imported once, before the first deadline starts
    import trafilatura.metadata  # noqa: F401 - trafilatura, with its title look-ups (their XPaths rewritten below)

    from webtext.extract.regex_xpaths import fast_regex_xpaths

    # module-level objects, changed only here, in the extraction child
    for parser in trafilatura_parsers():
        parser.set_element_class_lookup(native_class_lookup())
    chars = checked_page_chars()
    fast_regex_xpaths()

    # the ~47k objects of the imports live as long as the child: the collector need not walk them again and again
    gc.freeze()
    rss = _Rss()
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        url, clean = msg
        html = conn.recv_bytes().decode("utf-8", "surrogatepass")  # the page follows its header (Outgoing)
        faults.hit("extract-page", url or "")
        if chars is not None:
            chars.check(html if clean else None)
        try:
            conn.send(("ok", extract_text(html, url, settings), rss()))
        except Exception as exc:  # a page trafilatura cannot handle is that page's problem only
            conn.send(("error", f"{type(exc).__name__}: {exc}"[:300], rss()))
        finally:
            if chars is not None:
                chars.check(None)


# The child is a fresh interpreter that imports only this module (``python -c``), not multiprocessing's "spawn": that
# re-imports the parent's ``__main__`` in the child, which inside a Ray worker is Ray's worker script, so every
# extraction child imported Ray (+0.2 s start-up, +35 MB RSS) for nothing.
_CHILD = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
    "from webtext.extract.worker import _child_main; _child_main(int(sys.argv[2]), json.loads(sys.argv[3]))"
)


def _child_main(fd: int, settings: dict[str, Any]) -> None:
    from multiprocessing.connection import Connection

    lifeline.hold()

    _serve(Connection(fd), ExtractSettings(**settings))


_SHARED: dict[tuple[ExtractSettings, float], Extractor] = {}


def shared_extractor(settings: ExtractSettings, deadline: float) -> Extractor:
    """One extraction process per worker process, reused by every shard it runs (its start-up —
    a spawn and trafilatura's imports — is paid once, not per WARC file)."""
    key = (settings, deadline)
    if key not in _SHARED:
        import atexit

        for other in _SHARED.values():
            other.close()
        _SHARED.clear()
        _SHARED[key] = Extractor(settings, deadline=deadline)
        # at exit no page is in the child (every map has answered) and it writes nothing: killed, not waited for
        atexit.register(_SHARED[key]._stop, True)
    return _SHARED[key]


class Extractor:
    """Extract documents in a child process that is killed when a document misses its deadline.

    ``extract`` handles one page; ``map`` streams many with one page always queued in the child, so the caller's
    work between pages overlaps with extraction. Either way the child holds one page at a time and every page gets
    the full deadline, counted from the moment it is sent.
    """

    def __init__(self, settings: ExtractSettings, deadline: float = 20.0, docs_per_worker: int = 5000,
                 max_rss_mb: float = 1500.0) -> None:
        self.settings = settings
        self.deadline = deadline
        self.docs_per_worker = docs_per_worker
        self.max_rss_mb = max_rss_mb
        self._proc: subprocess.Popen[bytes] | None = None
        self._line: lifeline.Lifeline | None = None
        self._conn: Any = None
        self._ready = False
        self._served = 0
        self.restarts = 0
        self.crash_retries = 0  # pages sent again to a fresh child after theirs died
        self.wait_seconds = 0.0  # time the caller spent blocked on answers: ~all of it means extraction is the
        # bottleneck, little means the caller's own work is

    def start(self) -> None:
        """Spawn the child without waiting for it: its start-up (an interpreter and trafilatura's imports, ~0.5 s)
        then overlaps with the caller's own set-up. No-op if it is running."""
        if self._proc is not None:
            return
        from multiprocessing.connection import Connection

        # exec'd, never forked (fork is unsafe under Ray's threads); a socket pair, as multiprocessing's Pipe uses
        parent, child = socket.socketpair()
        with child:
            self._proc, self._line = lifeline.popen(
                [sys.executable, "-c", _CHILD, json.dumps([str(p) for p in sys.path]), str(child.fileno()),
                 json.dumps(dataclasses.asdict(self.settings))],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
            )
        self._conn = Connection(parent.detach())
        self._ready = False
        self._served = 0

    def _wait_ready(self) -> None:
        self.start()
        if self._ready:
            return
        try:
            if not self._conn.poll(120):
                raise RuntimeError("the extraction worker did not start within 120 s")
            self._conn.recv()
        except (EOFError, OSError) as exc:
            self._stop(kill=True)
            raise RuntimeError(f"the extraction worker died while starting ({exc!r})") from exc
        self._ready = True

    def _stop(self, kill: bool) -> None:
        if self._proc is None:
            return
        if kill:
            self._proc.kill()
        else:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._line is not None:
            self._line.cut()
        self._conn.close()
        self._proc = self._conn = None
        self._ready = False

    def _send(self, page: Outgoing) -> float | str:
        """Hand one page to a ready child: the time it was sent (its deadline runs from then), or an error."""
        self._wait_ready()
        try:
            self._conn.send((page.url, page.clean))
            self._conn.send_bytes(page.data)
        except (BrokenPipeError, OSError) as exc:  # the child died after its last answer
            self._stop(kill=True)
            self.restarts += 1
            return f"crash: worker died ({type(exc).__name__})"
        return time.monotonic()

    def _result(self, sent: float | str) -> tuple[str, dict[str, Any] | None]:
        """The answer to the page sent at ``sent``: (disposition, result), killing the child if it is late."""
        if isinstance(sent, str):
            return sent, None
        waited = time.monotonic()
        try:
            ready = self._conn.poll(max(0.0, sent + self.deadline - waited))
            self.wait_seconds += time.monotonic() - waited
            if not ready:
                self._stop(kill=True)
                self.restarts += 1
                return "timeout", None
            status, result, rss = self._conn.recv()
        except (EOFError, BrokenPipeError, OSError) as exc:  # the child died (out of memory, crash)
            self._stop(kill=True)
            self.restarts += 1
            return f"crash: worker died ({type(exc).__name__})", None
        self._served += 1
        if self._served >= self.docs_per_worker or rss > self.max_rss_mb:
            self._stop(kill=False)  # nothing else is queued in it: a result is always collected before the next send
        if status == "ok":
            return "ok", result
        return f"error: {result}", None

    def _answer(self, sent: float | str, page: Outgoing) -> tuple[str, dict[str, Any] | None]:
        """``_result``, with a page whose child died sent once more to a fresh child."""
        disposition, result = self._result(sent)
        if disposition.startswith("crash"):
            self.crash_retries += 1
            log.warning("the extraction child died on %s; trying the page once more in a fresh child", page.url)
            disposition, result = self._result(self._send(page))
        return disposition, result

    def extract(self, html: str, url: str | None = None) -> tuple[str, dict[str, Any] | None]:
        """(disposition, result): ``ok`` with {text,title,date} or None, ``timeout``, ``crash: ...`` (the child
        died twice), ``error: ...``."""
        page = outgoing(html, url)
        return self._answer(self._send(page), page)

    def map(self, pages: Iterable[tuple[K, str, str | None] | tuple[K, str, str | None, bytes | None]],
            ) -> Iterator[tuple[K, str, dict[str, Any] | None]]:
        """(key, disposition, result) for every (key, html, url) or (key, html, url, utf8), in order (``utf8``:
        ``html``'s UTF-8 bytes when the caller has them, as ``outgoing`` takes them).

        The next page is taken from ``pages`` while the child works on the current one, and the next page is sent
        before the current result is yielded: the caller's reading, decoding and cleaning overlap with extraction.
        The child is never sent a page while it still owes an answer, so neither side can block the other on a full
        pipe, and a page's deadline starts when it is sent.
        """
        # (key, sent, page): the page is kept until answered, to resend it if its child dies
        pending: tuple[K, float | str, Outgoing] | None = None
        try:
            for item in pages:
                key, html, url = item[:3]
                page = outgoing(html, url, item[3] if len(item) > 3 else None)  # while the child works on pending
                if pending is None:
                    pending = (key, self._send(page), page)
                    continue
                disposition, result = self._answer(*pending[1:])
                done, pending = pending[0], None
                pending = (key, self._send(page), page)
                yield done, disposition, result
            if pending is not None:
                done, *sent = pending
                pending = None
                disposition, result = self._answer(*sent)
                yield done, disposition, result
        finally:
            if pending is not None and not isinstance(pending[1], str):
                # abandoned with a page in the child (the caller stopped early or ``pages`` raised): its answer would
                # be read as the next page's, so this child goes
                self._stop(kill=True)

    def close(self) -> None:
        # a child still starting holds no page: killed, rather than waited for until its imports are done
        self._stop(kill=not self._ready)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
