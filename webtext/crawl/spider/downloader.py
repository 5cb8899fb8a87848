"""scrapy's downloader, with the per-host delay counted from the *end* of the previous request.

scrapy spaces request *starts*; a slow or aborted response then leaves no pause at all before
the next request to the same server, and a server that has not yet noticed an aborted
connection sees two at once. Here the pause starts when a response has arrived, and after an
aborted download (timeout, size cap) the host also gets ``WEBTEXT_ABORT_COOLDOWN`` seconds. A
robots.txt ``Crawl-delay`` is a floor for its host that neither AutoThrottle nor jitter lowers.
The download handlers are wrapped so the slot's timestamp moves before scrapy looks at the
host's queue again (tests/test_crawl.py measures the spacing at the server).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from scrapy.core.downloader import Downloader


class PoliteDownloader(Downloader):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.abort_cooldown = crawler.settings.getfloat("WEBTEXT_ABORT_COOLDOWN", 2.0)
        self._floors: dict[int, tuple[Any, float]] = {}
        fetch = self.handlers.download_request_async

        async def download_then_mark(request: Any) -> Any:
            try:
                response = await fetch(request)
            except Exception:
                self._mark(request, self.abort_cooldown)
                raise
            self._mark(request, 0.0)
            return response

        self.handlers.download_request_async = download_then_mark  # type: ignore[method-assign]

    def _process_queue(self, slot: Any) -> None:
        # A robots.txt Crawl-delay is a floor: AutoThrottle may not go below it, nor may jitter.
        floor = self._floors.get(id(slot))
        if floor is not None:
            slot.jitter = 0.0
            slot.delay = max(slot.delay, floor[1])
        super()._process_queue(slot)

    def set_min_delay(self, slot: Any, delay: float) -> None:
        """A host's robots.txt asked for ``delay`` seconds between requests."""
        # Keyed by id(); the entry holds the slot so that id is not reused while it matters.
        self._floors[id(slot)] = (slot, delay)

    def _mark(self, request: Any, extra: float) -> None:
        slot = self.slots.get(self.get_slot_key(request))
        if slot is not None:
            slot.lastseen = max(slot.lastseen, monotonic() + extra)
