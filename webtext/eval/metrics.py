"""How a task's metrics follow from its per-example rows: one definition for `eval` and `memorization`.

An eval task writes one row per example (``examples/<NAME>.parquet``: ``loglikelihood`` in nats,
``n_tokens``, ``n_words``, ``n_bytes`` and, for choice tasks, ``correct``); any subset of those rows
(all, clean, dirty, ...) gives the task's metrics through :func:`aggregate`:

| kind     | tasks                               | metrics                                                      |
|----------|-------------------------------------|--------------------------------------------------------------|
| rolling  | wikitext2, wikitext103, ptb, 1bw    | word_perplexity, byte_perplexity, bits_per_byte, token_perplexity |
| lambada  | lambada                             | perplexity = exp(-mean ll), accuracy (+ accuracy_stopword_filter) |
| cbt      | cbt-cn, cbt-ne                      | accuracy                                                     |
| bytes    | enwik8                              | bits_per_byte                                                |
| chars    | text8                               | bits_per_character (text8 is ASCII: a byte is a character)  |

Rolling metrics are weighted the way lm-evaluation-harness weights them: exp(-sum ll / sum units),
not a mean of per-example perplexities. An empty subset has no metrics (``None``), never a crash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Known task name -> its kind (the method that scores it and the metrics it has).
TASK_KINDS: dict[str, str] = {
    "wikitext2": "rolling", "wikitext103": "rolling", "ptb": "rolling", "1bw": "rolling",
    "lambada": "lambada", "cbt-cn": "cbt", "cbt-ne": "cbt", "enwik8": "bytes", "text8": "chars",
}

METRICS: dict[str, tuple[str, ...]] = {
    "rolling": ("word_perplexity", "byte_perplexity", "bits_per_byte", "token_perplexity"),
    "lambada": ("perplexity", "accuracy", "accuracy_stopword_filter"),
    "cbt": ("accuracy",),
    "bytes": ("bits_per_byte",),
    "chars": ("bits_per_character",),
}

#: Lower is better for these (the rest are accuracies).
LOWER_IS_BETTER = frozenset({"word_perplexity", "byte_perplexity", "bits_per_byte", "token_perplexity",
                             "perplexity", "bits_per_character"})

LN2 = math.log(2)


def task_kind(name: str) -> str | None:
    """The kind of a task name (``cbt-cn``, ``CBT_NE`` and ``wikitext-2`` spellings included), or None."""
    key = name.lower().replace("_", "-")
    if key in TASK_KINDS:
        return TASK_KINDS[key]
    return TASK_KINDS.get(key.replace("-", ""))


def _exp(x: float) -> float:
    return math.exp(x) if x < 709 else math.inf


def aggregate(kind: str, rows: Mapping[str, Sequence[Any]]) -> dict[str, float | None]:
    """The metrics of ``kind`` over the given per-example columns (lists or numpy arrays)."""
    if kind not in METRICS:
        raise ValueError(f"unknown task kind {kind!r}; known: {', '.join(METRICS)}")
    ll = [float(x) for x in rows.get("loglikelihood", [])]
    n = len(ll)
    out: dict[str, float | None] = dict.fromkeys(METRICS[kind])
    if n == 0:
        return out
    total = sum(ll)

    def col(name: str) -> list[float]:
        return [float(x) for x in rows[name]]

    if kind == "rolling":
        words, nbytes, tokens = sum(col("n_words")), sum(col("n_bytes")), sum(col("n_tokens"))
        out["word_perplexity"] = _exp(-total / words) if words else None
        out["byte_perplexity"] = _exp(-total / nbytes) if nbytes else None
        out["bits_per_byte"] = -total / (nbytes * LN2) if nbytes else None
        out["token_perplexity"] = _exp(-total / tokens) if tokens else None
    elif kind == "lambada":
        out["perplexity"] = _exp(-total / n)
        out["accuracy"] = sum(bool(x) for x in rows["correct"]) / n
        if "correct_stopword_filter" in rows:
            out["accuracy_stopword_filter"] = sum(bool(x) for x in rows["correct_stopword_filter"]) / n
        else:
            out.pop("accuracy_stopword_filter")
    elif kind == "cbt":
        out["accuracy"] = sum(bool(x) for x in rows["correct"]) / n
    elif kind == "bytes":
        nbytes = sum(col("n_bytes"))
        out["bits_per_byte"] = -total / (nbytes * LN2) if nbytes else None
    else:  # chars
        nchars = sum(col("n_bytes"))
        out["bits_per_character"] = -total / (nchars * LN2) if nchars else None
    return out
