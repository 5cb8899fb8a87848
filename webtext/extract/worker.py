"""trafilatura in a watchdog process: a per-document deadline and bounded memory.

trafilatura's own timeout exists only in its CLI, and a hostile page can keep lxml busy for
minutes or grow the heap; so extraction runs in a child process that the stage can kill. A
document that misses its deadline is dropped as ``timeout`` and the child is replaced; the child
is also replaced every ``docs_per_worker`` documents and when its RSS passes ``max_rss_mb``, so
a worker's memory stays bounded over millions of pages.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExtractSettings:
    favor: str = "balanced"  # balanced | precision | recall
    include_tables: bool = True
    include_comments: bool = False


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def extract_text(html: str, url: str | None, settings: ExtractSettings) -> dict[str, Any] | None:
    """trafilatura on one decoded page: {text, title, date} or None when it finds no main text."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=settings.include_comments,
        include_tables=settings.include_tables, favor_precision=settings.favor == "precision",
        favor_recall=settings.favor == "recall", deduplicate=False,
        # htmldate's extensive search loads dateparser's ~200 locales (1-4 s per process) for a
        # fallback that rarely changes the answer on article pages.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if doc is None or not getattr(doc, "text", None):
        return None
    return {"text": doc.text, "title": doc.title, "date": doc.date}


def _serve(conn: Any, settings: ExtractSettings) -> None:
    import trafilatura  # noqa: F401 - imported once, before the first deadline starts

    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        html, url = msg
        try:
            conn.send(("ok", extract_text(html, url, settings), _rss_mb()))
        except Exception as exc:  # a page trafilatura cannot handle is that page's problem only
            conn.send(("error", f"{type(exc).__name__}: {exc}"[:300], _rss_mb()))


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
        atexit.register(_SHARED[key].close)
    return _SHARED[key]


class Extractor:
    """Extract documents one at a time in a child process that is killed on a missed deadline."""

    def __init__(self, settings: ExtractSettings, deadline: float = 20.0, docs_per_worker: int = 5000,
                 max_rss_mb: float = 1500.0) -> None:
        self.settings = settings
        self.deadline = deadline
        self.docs_per_worker = docs_per_worker
        self.max_rss_mb = max_rss_mb
        self._ctx = multiprocessing.get_context("spawn")  # fork is unsafe under Ray's threads
        self._proc: Any = None
        self._conn: Any = None
        self._served = 0
        self.restarts = 0

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, self.settings), daemon=True)
        self._proc.start()
        child.close()
        self._conn = parent
        try:
            if not self._conn.poll(120):
                raise RuntimeError("the extraction worker did not start within 120 s")
            self._conn.recv()
        except (EOFError, OSError) as exc:
            raise RuntimeError(f"the extraction worker died while starting ({exc!r})") from exc
        self._served = 0

    def _stop(self, kill: bool) -> None:
        if self._proc is None:
            return
        if kill:
            self._proc.kill()
        else:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._conn.send(None)
        self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        self._proc = self._conn = None

    def extract(self, html: str, url: str | None = None) -> tuple[str, dict[str, Any] | None]:
        """(disposition, result): ``ok`` with {text,title,date} or None, ``timeout``, ``error: ...``."""
        if self._proc is None:
            self._start()
        try:
            self._conn.send((html, url))
            if not self._conn.poll(self.deadline):
                self._stop(kill=True)
                self.restarts += 1
                return "timeout", None
            status, result, rss = self._conn.recv()
        except (EOFError, BrokenPipeError, OSError) as exc:  # the child died (out of memory, crash)
            self._stop(kill=True)
            self.restarts += 1
            return f"error: worker died ({type(exc).__name__})", None
        self._served += 1
        if self._served >= self.docs_per_worker or rss > self.max_rss_mb:
            self._stop(kill=False)
        if status == "ok":
            return "ok", result
        return f"error: {result}", None

    def close(self) -> None:
        self._stop(kill=False)

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
