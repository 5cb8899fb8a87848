"""One shard's docs and dropped rows, in record order, with languages identified a batch at a time.

Every document the cleaning rules 1-5 keep needs its language (rule 6, and the ``lang`` column). py3langid walks a
39 MB automaton and gathers rows of a 28 MB table for each text: between two pages, after zlib, warcio and the pipe to
the extraction child have been through the caches, one text cost 1.06 ms on the extract benchmark's 774 real pages;
texts identified back to back cost ~0.45 ms. The stage process's own time per page is what bounds the speed-up of
several workers on as many cores (README, extract), so candidates wait here until ``LANGUAGE_BATCH`` of them are
ready. Rows are held, not reordered: the docs and the dropped rows come out in the same order as one text at a time,
with the same languages and reasons.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from webtext.extract.cleaning import QualityRules, language_of, tests_language

__all__ = ["LANGUAGE_BATCH", "ShardRows", "dropped_row"]

LANGUAGE_BATCH = 256
"""Candidates identified together (the shard keeps its docs in memory until it is written anyway)."""


def dropped_row(doc_id: str, url: str, reason: str, detail: str | None, n_words: int | None, warc_file: str,
                warc_offset: int) -> dict[str, Any]:
    """A row of the ``__dropped`` side files (``extract_stage.dropped_schema``)."""
    return {"id": doc_id, "url": url, "reason": reason, "detail": detail, "n_words": n_words, "warc_file": warc_file,
            "warc_offset": warc_offset}


class ShardRows:
    """``docs`` and ``dropped`` of one shard, counted in ``counts`` (``dropped_<reason>``), in record order.

    ``rules`` is ``None`` when the cleaning rules are off: candidates are then only given their ``lang``.
    Call ``finish()`` after the last record: it identifies the candidates still held.
    """

    def __init__(self, rules: QualityRules | None, counts: Counter[str]) -> None:
        self.rules = rules
        self.counts = counts
        self.docs: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []
        # (row, words) in record order since the first candidate not yet identified; words None: a dropped row
        self._held: list[tuple[dict[str, Any], int | None]] = []
        self._candidates = 0

    def drop(self, row: dict[str, Any]) -> None:
        """A dropped row (its reason already counted by the caller)."""
        if self._held:
            self._held.append((row, None))
        else:
            self.dropped.append(row)

    def candidate(self, row: dict[str, Any], words: int) -> None:
        """A docs row whose ``text`` passed rules 1-5 (``words``: their word count); kept or dropped once identified."""
        self._held.append((row, words))
        self._candidates += 1
        if self._candidates >= LANGUAGE_BATCH:
            self.finish()

    def finish(self) -> None:
        """Identify every candidate held and release the rows in order."""
        held, self._held, self._candidates = self._held, [], 0
        languages = [language_of(row["text"])[0] if words is not None else "" for row, words in held]  # back to back
        for (row, words), lang in zip(held, languages, strict=True):
            if words is None:
                self.dropped.append(row)
            elif self.rules is not None and tests_language(words, self.rules) and lang not in self.rules.languages:
                self.counts["dropped_non_english"] += 1
                self.dropped.append(dropped_row(row["id"], row["url"], "non_english", None, row["n_words"],
                                                row["warc_file"], row["warc_offset"]))
            else:
                row["lang"] = lang
                self.docs.append(row)
