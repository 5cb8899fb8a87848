"""Logging set-up and progress for the CLI, kept out of stage code.

On a terminal: rich's handler and transient progress bars. Elsewhere (job logs, nohup, CI) rich
would wrap every line at 80 columns and split paths in two, and a bar shows nothing: there,
plain one-line records, and a stage's progress as a log line at most every
``WEBTEXT_PROGRESS_SECONDS`` (default 30) seconds: ``urls: 3/16 shards, 12,345 rows/s, ETA 4m10s``.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

PROGRESS_SECONDS_ENV = "WEBTEXT_PROGRESS_SECONDS"
PROGRESS_SECONDS = 30.0
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(message)s"

log = logging.getLogger("webtext.progress")


class StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each record (as rich's handler does), not as it was at set-up."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(verbosity: int = 0) -> None:
    """INFO by default, DEBUG with -v; warnings only with -q (verbosity < 0)."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:  # one record per line, never wrapped: job logs are read with grep
        handler = StderrHandler()
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("webtext").setLevel(level)


def progress_seconds() -> float:
    """Seconds between progress lines off a terminal (``WEBTEXT_PROGRESS_SECONDS``, default 30)."""
    raw = os.environ.get(PROGRESS_SECONDS_ENV)
    if not raw:
        return PROGRESS_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        from webtext.errors import ConfigError

        raise ConfigError(PROGRESS_SECONDS_ENV, f"expected seconds >= 0, got {raw!r}")
    return seconds


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


class Progress:
    """Progress over a known number of shards: a rich bar on a terminal, else a log line at most every
    ``interval`` seconds (``WEBTEXT_PROGRESS_SECONDS``)."""

    def __init__(self, total: int, description: str, interval: float | None = None) -> None:
        self.total = total
        self.description = description
        self.interval = progress_seconds() if interval is None else interval
        self.done = 0
        self.rows = 0
        self._bar = None
        self._task = None
        self._start = self._last = time.monotonic()

    def __enter__(self) -> Progress:
        if sys.stderr.isatty() and self.total > 1:
            from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        self._start = self._last = time.monotonic()
        return self

    def advance(self, n: int = 1, rows: int = 0) -> None:
        """``n`` more shards done, having read ``rows`` rows."""
        self.done += n
        self.rows += rows
        if self._bar is not None:
            self._bar.advance(self._task, n)
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            log.info("%s", self.line(now - self._start))

    def line(self, elapsed: float) -> str:
        """``stage: k/N shards, rows/s, ETA`` after ``elapsed`` seconds."""
        rate = f"{self.rows / elapsed:,.0f} rows/s" if elapsed > 0 else "- rows/s"
        left = self.total - self.done
        eta = _duration(elapsed / self.done * left) if self.done and elapsed > 0 else "unknown"
        return f"{self.description}: {self.done}/{self.total} shards, {rate}, ETA {eta if left else 'done'}"

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def progress(total: int, description: str) -> Iterator[Progress]:
    with Progress(total, description) as bar:
        yield bar
