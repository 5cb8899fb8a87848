"""ShardRows: languages identified a batch at a time, rows released in record order, the same reasons as one text at
a time (``drop_reason``)."""

from __future__ import annotations

from collections import Counter

import pytest
from test_extract_cleaning import FRENCH, GERMAN, PROSE, THIRTY_WORDS

from webtext.extract import shard_rows
from webtext.extract.cleaning import QualityRules, drop_reason, language_of, text_rules
from webtext.extract.shard_rows import ShardRows

TEXTS = [PROSE, GERMAN, "too short", FRENCH, THIRTY_WORDS, PROSE + " Again.", GERMAN + " Noch einmal."]


def _doc(i: int, text: str) -> dict:
    return {"id": f"d{i}", "url": f"http://x.example/{i}", "text": text, "n_words": len(text.split()), "lang": None,
            "warc_file": "a.warc.gz", "warc_offset": i}


def _run(rules: QualityRules | None, texts: list[str]) -> tuple[ShardRows, Counter[str]]:
    """Every text through ShardRows as the stage sends it: rules 1-5 here, a dropped row at once, a candidate held."""
    counts: Counter[str] = Counter()
    rows = ShardRows(rules, counts)
    for i, text in enumerate(texts):
        reason, words = text_rules(text, rules) if rules is not None else (None, len(text.split()))
        if reason is not None:
            counts["dropped_" + reason] += 1
            rows.drop({"id": f"d{i}", "reason": reason, "warc_offset": i})
        else:
            rows.candidate(_doc(i, text), words)
    rows.finish()
    return rows, counts


@pytest.mark.parametrize("batch", [1, 2, 3, 256])
@pytest.mark.parametrize("languages", [("en",), ("de", "fr"), ()])
def test_rows_in_record_order_with_the_reasons_of_one_text_at_a_time(monkeypatch, batch, languages):
    monkeypatch.setattr(shard_rows, "LANGUAGE_BATCH", batch)
    rules = QualityRules(min_words=20, languages=languages)
    texts = TEXTS * 3
    rows, counts = _run(rules, texts)
    expected = [drop_reason(t, rules) for t in texts]
    assert [d["warc_offset"] for d in rows.docs] == [i for i, r in enumerate(expected) if r is None]
    assert [(d["warc_offset"], d["reason"]) for d in rows.dropped] == [
        (i, r) for i, r in enumerate(expected) if r is not None]
    assert counts == Counter("dropped_" + r for r in expected if r is not None)
    assert all(d["lang"] == language_of(d["text"])[0] for d in rows.docs)
    assert not rows._held  # finish() released everything


def test_a_non_english_row_keeps_the_documents_lineage():
    rows, counts = _run(QualityRules(languages=("en",)), [GERMAN])
    (row,) = rows.dropped
    assert row == {"id": "d0", "url": "http://x.example/0", "reason": "non_english", "detail": None,
                   "n_words": len(GERMAN.split()), "warc_file": "a.warc.gz", "warc_offset": 0}
    assert counts == Counter(dropped_non_english=1) and not rows.docs


def test_without_rules_every_candidate_is_kept_with_its_language(monkeypatch):
    monkeypatch.setattr(shard_rows, "LANGUAGE_BATCH", 2)
    rows, counts = _run(None, TEXTS)
    assert [d["warc_offset"] for d in rows.docs] == list(range(len(TEXTS)))
    assert [d["lang"] for d in rows.docs][:4] == ["en", "de", language_of("too short")[0], "fr"]
    assert not rows.dropped and not counts


def test_rows_wait_until_a_batch_is_full(monkeypatch):
    monkeypatch.setattr(shard_rows, "LANGUAGE_BATCH", 2)
    rows = ShardRows(QualityRules(), Counter())
    rows.drop({"id": "first"})  # nothing held yet: out at once
    rows.candidate(_doc(1, PROSE), 200)
    rows.drop({"id": "after"})  # behind a held candidate: held too, to keep the order
    assert [r["id"] for r in rows.dropped] == ["first"] and not rows.docs
    rows.candidate(_doc(2, PROSE), 200)  # the batch is full: identified and released
    assert [r["id"] for r in rows.dropped] == ["first", "after"]
    assert [d["id"] for d in rows.docs] == ["d1", "d2"]
