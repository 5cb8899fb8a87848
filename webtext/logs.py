"""Logging set-up and progress bars for the CLI (rich), kept out of stage code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager


def setup_logging(verbosity: int = 0) -> None:
    """INFO by default, DEBUG with -v; warnings only with -q (verbosity < 0)."""
    from rich.logging import RichHandler

    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    handler = RichHandler(show_path=False, rich_tracebacks=False, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("webtext").setLevel(level)


class Progress:
    """A rich progress bar over a known number of steps; silent when stderr is not a terminal."""

    def __init__(self, total: int, description: str) -> None:
        self.total = total
        self.description = description
        self._bar = None
        self._task = None

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
        return self

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


@contextmanager
def progress(total: int, description: str) -> Iterator[Progress]:
    with Progress(total, description) as bar:
        yield bar
