"""The item that flows from the spider through the pipelines: one per input URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FetchItem:
    """What happened to one input URL. Raw HTTP data is dropped once the WARC writer has it."""

    url: str
    final_url: str | None = None
    status: int | None = None
    content_type: str | None = None
    bytes: int | None = None
    fetched_at: str | None = None
    error: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    lineage: dict[str, Any] = field(default_factory=dict)  # the input row's other columns (karma, ...)
    # Raw exchange for the WARC writer (None when nothing is to be stored).
    http_version: str | None = None
    response_headers: list[tuple[str, str]] | None = None
    request_headers: list[tuple[str, str]] | None = None
    body: bytes | None = None
    # The writer thread's result for this page's records: (warc_file, warc_offset, warc_length).
    warc_pending: Any = None

    LOG_FIELDS = ("url", "final_url", "status", "content_type", "bytes", "fetched_at", "error", "warc_file",
                  "warc_offset", "warc_length")

    def log_row(self) -> dict[str, Any]:
        row = {k: getattr(self, k) for k in self.LOG_FIELDS}
        row.update(self.lineage)
        return row
