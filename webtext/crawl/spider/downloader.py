"""scrapy's downloader, with the per-host delay counted from the *end* of the previous request.

scrapy spaces request *starts*; a slow or aborted response then leaves no pause at all before
the next request to the same server, and a server that has not yet noticed an aborted
connection sees two at once. Here the pause starts when a response has arrived, and after an
aborted download (timeout, size cap) the host also gets ``WEBTEXT_ABORT_COOLDOWN`` seconds.
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

    def _mark(self, request: Any, extra: float) -> None:
        slot = self.slots.get(self.get_slot_key(request))
        if slot is not None:
            slot.lastseen = max(slot.lastseen, monotonic() + extra)
