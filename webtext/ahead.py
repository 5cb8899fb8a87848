"""An iterator run ahead of its consumer in a thread: decompression beside parsing.

A stage that reads a compressed stream and parses it does both in one thread, although the decompressor (zstd, zlib,
lzma) releases the GIL while it works. ``ahead(items)`` takes the items from a daemon thread, at most ``depth``
ahead of the consumer, so the two overlap on a machine with a spare core and memory stays bounded. An exception in
the producer is raised in the consumer, in order (after the items before it); a consumer that stops early (an error,
``break``) stops the producer and closes its iterator in the producer's thread, so a file it holds open is closed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()
_POLL_SECONDS = 0.1  # how often a producer blocked on a full queue checks whether the consumer has gone
_JOIN_SECONDS = 30.0  # how long a consumer that stops early waits for the producer to see it


def ahead(items: Iterable[T], depth: int = 2, name: str = "ahead") -> Iterator[T]:
    """The items of ``items`` in order, produced by a daemon thread named ``name`` up to ``depth`` ahead."""
    if depth < 1:
        raise ValueError("depth must be >= 1")
    slots: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source = iter(items)
        try:
            for item in source:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # raised in the consumer, where it belongs
            put((_END, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item, exc = slots.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(_JOIN_SECONDS)
