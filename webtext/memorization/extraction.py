"""Extractable memorization (Carlini et al. 2021/2022): prompt with a document's first ``k``
tokens, decode greedily, and count continuations equal to the document's next ``m`` tokens;
training documents against as many held-out ones, with the documents' lineage (URL, karma)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Picked:
    """Documents drawn from one split: ids, prompts (n, k) and targets (n, m) as token arrays."""

    split: str
    ids: list[str]
    n_tokens: np.ndarray
    prefix: np.ndarray
    suffix: np.ndarray
    eligible: int
    asked: int


def pick(dataset, split: str, want: int, prefix: int, suffix: int, seed: int) -> Picked:
    """``want`` documents (seeded, without replacement) of at least ``prefix + suffix`` tokens
    before their ``<|endoftext|>``; fewer if fewer are eligible."""
    need = prefix + suffix
    shards, rows = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]  # (shard, row) of eligible documents
    for s, shard in enumerate(dataset.shards):
        eligible = np.flatnonzero(np.diff(shard.offsets) - 1 >= need)  # lengths without the EOT
        shards.append(np.full(len(eligible), s, dtype=np.int64))
        rows.append(eligible.astype(np.int64))
    shard_of, row_of = np.concatenate(shards), np.concatenate(rows)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    take = np.sort(rng.choice(len(row_of), size=min(want, len(row_of)), replace=False)) if len(row_of) else []
    ids, lengths, pre, suf = [], [], [], []
    for j in take:
        shard, i = dataset.shards[int(shard_of[j])], int(row_of[j])
        doc = np.asarray(shard.document(i), dtype=np.int64)
        ids.append(shard.ids[i].as_py())
        lengths.append(len(doc) - 1)
        pre.append(doc[:prefix])
        suf.append(doc[prefix:need])
    empty = np.zeros((0, prefix), np.int64), np.zeros((0, suffix), np.int64)
    return Picked(split, ids, np.asarray(lengths, dtype=np.int64), np.stack(pre) if pre else empty[0],
                  np.stack(suf) if suf else empty[1], len(row_of), want)


def extract(model, picked: Picked, batch: int, device: str) -> np.ndarray:
    """Greedy continuations (n, m) of the picked prompts, ``batch`` documents decoded together."""
    import torch

    from webtext.memorization.decode import greedy

    m = picked.suffix.shape[1]
    out = np.zeros((len(picked.ids), m), dtype=np.int64)
    for i in range(0, len(picked.ids), batch):
        prompts = torch.from_numpy(picked.prefix[i:i + batch]).to(device)
        out[i:i + batch] = greedy(model, prompts, m).cpu().numpy()
    return out


def matched_prefix(generated: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Leading tokens of each continuation equal to the target's."""
    if not generated.size:
        return np.zeros(len(generated), dtype=np.int64)
    differ = generated != target
    first = np.where(differ.any(axis=1), differ.argmax(axis=1), target.shape[1])
    return first.astype(np.int64)


def summary(matched: np.ndarray, suffix: int, picked: Picked) -> dict[str, Any]:
    n = len(matched)
    return {"documents": n, "asked": picked.asked, "eligible": picked.eligible,
            "exact_match_rate": float(np.mean(matched == suffix)) if n else None,
            "mean_matched_tokens": float(np.mean(matched)) if n else None,
            "extracted": int(np.sum(matched == suffix))}


def lineage(docs_files: list[Path], ids: set[str]) -> dict[str, dict[str, Any]]:
    """id -> url, domain, karma (whichever the docs hold) of the given documents."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    found: dict[str, dict[str, Any]] = {}
    wanted = pa.array(sorted(ids), pa.string())
    for f in docs_files:
        names = pq.ParquetFile(f).schema_arrow.names
        cols = ["id", *[c for c in ("url", "domain", "karma") if c in names]]
        table = pq.read_table(f, columns=cols)
        table = table.filter(pc.is_in(table.column("id"), value_set=wanted))
        for row in table.to_pylist():
            found[row["id"]] = row
    return found


def table(picked: Picked, generated: np.ndarray, matched: np.ndarray, lineage_rows: dict[str, dict[str, Any]],
          decode) -> Any:
    """``extraction/part-*.parquet`` rows of one split."""
    import pyarrow as pa

    suffix = picked.suffix.shape[1]
    rows = {
        "split": [picked.split] * len(picked.ids), "id": picked.ids,
        "url": [lineage_rows.get(i, {}).get("url") for i in picked.ids],
        "domain": [lineage_rows.get(i, {}).get("domain") for i in picked.ids],
        "karma": [lineage_rows.get(i, {}).get("karma") for i in picked.ids],
        "n_tokens": picked.n_tokens, "matched_tokens": matched, "exact_match": matched == suffix,
        "prefix_tokens": [r.tolist() for r in picked.prefix], "suffix_tokens": [r.tolist() for r in picked.suffix],
        "generated_tokens": [r.tolist() for r in generated],
        "prefix_text": [decode(r) for r in picked.prefix], "suffix_text": [decode(r) for r in picked.suffix],
        "generated_text": [decode(r) for r in generated],
    }
    schema = pa.schema([("split", pa.string()), ("id", pa.string()), ("url", pa.string()), ("domain", pa.string()),
                        ("karma", pa.int64()), ("n_tokens", pa.int64()), ("matched_tokens", pa.int64()),
                        ("exact_match", pa.bool_()), ("prefix_tokens", pa.list_(pa.int32())),
                        ("suffix_tokens", pa.list_(pa.int32())), ("generated_tokens", pa.list_(pa.int32())),
                        ("prefix_text", pa.string()), ("suffix_text", pa.string()), ("generated_text", pa.string())])
    return pa.table(rows, schema=schema)
