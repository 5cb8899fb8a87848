"""Samples vs the corpus (GPT-2 Figure 5): the n-gram overlap of unconditional samples with the
training corpus, beside the overlap of held-out (val) documents with the same training corpus.

N-grams are contamination's: GPT-2's normalisation (lower-cased ``[a-z0-9]+`` words) and its
64-bit n-gram hash (``webtext.contamination.ngrams``). A text's overlap is the share of its
n-gram occurrences found in the reference. References:
- samples: the contamination report's ``corpus.bloom`` (the documents the report scanned), or
  with ``--exact`` the exact n-gram set of the train documents;
- val documents: always the exact n-gram set of the *train* documents (the docs the tokens were
  made from, less the val split's ids): ``corpus.bloom`` holds the val documents themselves, so
  measuring them against it would find ~100%. The train documents are scanned once, hashing each
  batch and keeping the hashes that occur among the texts' n-grams (a small sorted table).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from webtext.contamination.ngrams import hash_texts

log = logging.getLogger(__name__)


def sample(model, eot: int, count: int, length: int, top_k: int, seed: int, batch: int, device: str) -> list[list[int]]:
    """``count`` top-k samples started from ``<|endoftext|>``, each cut at its first EOT."""
    import torch

    from webtext.memorization.decode import sample_top_k

    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    out: list[list[int]] = []
    for i in range(0, count, batch):
        b = min(batch, count - i)
        start = torch.full((b, 1), eot, dtype=torch.long, device=device)
        for row in sample_top_k(model, start, length, top_k, gen).cpu().tolist():
            out.append(row[: row.index(eot)] if eot in row else row)
    return out


def found_in_bloom(bloom, hashes: np.ndarray) -> np.ndarray:
    return bloom.contains(hashes) if len(hashes) else np.zeros(0, dtype=bool)


def train_scan(docs_files: list[Path], val_ids: set[str], targets: np.ndarray, ngram: int,
               batch_rows: int = 2048) -> tuple[np.ndarray, dict[str, int]]:
    """Which of ``targets`` (unique n-gram hashes) occur in the train documents: the docs rows whose
    id is not a val id. Returns (found flags aligned with ``targets``, counts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from webtext.contamination.scan import doc_batches

    found = np.zeros(len(targets), dtype=bool)
    counts = {"train_documents": 0, "train_ngrams": 0, "skipped_val_documents": 0}
    if not len(targets):
        return found, counts
    val = pa.array(sorted(val_ids), pa.string())
    for f in docs_files:
        for batch in doc_batches(f, batch_rows, extra=()):
            is_val = pc.is_in(batch.column("id").cast(pa.string()), value_set=val)
            keep = pc.invert(is_val)
            counts["skipped_val_documents"] += len(batch) - pc.sum(keep).as_py() if len(batch) else 0
            text = batch.column("text").filter(keep)
            if pa.types.is_binary(text.type) or pa.types.is_large_binary(text.type):
                texts = [b.decode("utf-8", "replace") if b is not None else None for b in text.to_pylist()]
            else:
                texts = text.cast(pa.string()).to_pylist()
            grams = hash_texts(texts, ngram, compact=False)
            counts["train_documents"] += len(texts)
            counts["train_ngrams"] += len(grams.hashes)
            pos = np.searchsorted(targets, grams.hashes)
            pos[pos == len(targets)] = 0
            hit = targets[pos] == grams.hashes
            found[pos[hit]] = True
    return found, counts


def per_text(counts: np.ndarray, hit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found n-gram occurrences, overlap percent; NaN without n-grams) per text."""
    text_of = np.repeat(np.arange(len(counts)), counts)
    n_found = np.bincount(text_of, weights=hit.astype(np.float64), minlength=len(counts)).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(counts > 0, 100.0 * n_found / np.maximum(counts, 1), np.nan)
    return n_found, pct


def summary(pct: np.ndarray, reference: str) -> dict[str, Any]:
    vals = pct[~np.isnan(pct)]
    return {"n": len(vals), "without_ngrams": int(np.isnan(pct).sum()),
            "median_percent": float(np.median(vals)) if len(vals) else None,
            "mean_percent": float(np.mean(vals)) if len(vals) else None, "reference": reference}


def table(kind: str, ids: list[str], texts: list[str], n_ngrams: np.ndarray, n_found: np.ndarray, pct: np.ndarray):
    import pyarrow as pa

    return pa.table({"kind": [kind] * len(ids), "id": ids, "n_ngrams": n_ngrams.astype(np.int64),
                     "n_found": n_found.astype(np.int64), "overlap_percent": pct.astype(np.float64), "text": texts},
                    schema=pa.schema([("kind", pa.string()), ("id", pa.string()), ("n_ngrams", pa.int64()),
                                      ("n_found", pa.int64()), ("overlap_percent", pa.float64()),
                                      ("text", pa.string())]))


def measure(texts: list[str], ngram: int):
    """(hashes of every n-gram occurrence text after text, counts per text)."""
    grams = hash_texts(texts, ngram)
    return grams.hashes, grams.counts
