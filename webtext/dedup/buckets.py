"""Pass 2 of ``dedup``, per band-hash partition: group the band records of every shard into
candidate pairs, verify them against the full signatures, write the pairs.

Documents sharing a (band, key) are LSH candidates; documents sharing the exact-text digest are
exact candidates. Within a group, each document is compared with the group's leaders (earlier
members that matched no leader) and paired with the first one it matches; a document that
matches none becomes a leader. This links every document to a similar one without comparing all
pairs of a large group. With ``verify`` off every member is paired with the group's first.

Output: ``part-PPPPP.parquet`` with ``left``, ``right`` (gids, left > right), ``similarity``
(estimated Jaccard) and ``exact`` (paired through the exact-text digest).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np

from webtext.arrays import sorted_unique
from webtext.data import read_parquet, write_parquet
from webtext.dedup.config import DedupConfig
from webtext.dedup.signatures import SignatureStore
from webtext.dedup.tasks import PartitionInput
from webtext.paths import part_name
from webtext.runner import ShardOutput, ShardTask


def pairs_schema():
    import pyarrow as pa

    return pa.schema([("left", pa.int64()), ("right", pa.int64()), ("similarity", pa.float32()),
                      ("exact", pa.bool_())])


def required_matches(threshold: float, num_perm: int) -> int:
    """Equal signature positions needed for an estimated Jaccard >= threshold."""
    return math.ceil(threshold * num_perm - 1e-9)


def group_bounds(band: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Start offsets of runs of equal (band, key) in sorted records, plus the end."""
    change = np.flatnonzero((band[1:] != band[:-1]) | (key[1:] != key[:-1])) + 1
    return np.concatenate([[0], change, [len(band)]]).astype(np.int64)


def candidate_pairs(band, key, gid, exact_band: int, store: SignatureStore | None, need: int,
                    counts: Counter[str]):
    """(left, right, equal positions, exact) arrays for the records of one partition."""
    order = np.lexsort((gid, key, band))
    band, key, gid = band[order], key[order], gid[order]
    bounds = group_bounds(band, key)
    sizes = np.diff(bounds)
    multi = np.flatnonzero(sizes > 1)
    counts["groups"] += len(sizes)
    counts["candidate_groups"] += len(multi)
    if not len(multi):
        return (np.empty(0, np.int64),) * 3 + (np.empty(0, bool),)
    members = np.concatenate([gid[bounds[g]:bounds[g + 1]] for g in multi])
    uniq = sorted_unique(members)
    sigs = store.gather(uniq) if store is not None else None
    lefts, rights, equal, exact = [], [], [], []

    def sig_rows(ids: np.ndarray) -> np.ndarray:
        assert sigs is not None
        return sigs[np.searchsorted(uniq, ids)]

    pairs_of_two = multi[sizes[multi] == 2]
    if len(pairs_of_two):  # most groups: two documents, compared in one vectorised step
        a, b = gid[bounds[pairs_of_two] + 1], gid[bounds[pairs_of_two]]
        same = (np.count_nonzero(sig_rows(a) == sig_rows(b), axis=1) if sigs is not None
                else np.full(len(a), -1))
        keep = same >= need if sigs is not None else np.ones(len(a), bool)
        lefts.append(a[keep])
        rights.append(b[keep])
        equal.append(same[keep])
        exact.append(band[bounds[pairs_of_two]][keep] == exact_band)
        counts["candidates"] += len(a)
    for g in multi[sizes[multi] > 2]:
        ids = gid[bounds[g]:bounds[g + 1]]
        is_exact = bool(band[bounds[g]] == exact_band)
        counts["candidates"] += len(ids) - 1
        if sigs is None:
            lefts.append(ids[1:])
            rights.append(np.full(len(ids) - 1, ids[0]))
            equal.append(np.full(len(ids) - 1, -1))
            exact.append(np.full(len(ids) - 1, is_exact))
            continue
        rows = sig_rows(ids)
        leaders = [0]
        for i in range(1, len(ids)):
            same = np.count_nonzero(rows[leaders] == rows[i], axis=1)
            hit = np.flatnonzero(same >= need)
            if len(hit):
                lefts.append(ids[i:i + 1])
                rights.append(ids[leaders[hit[0]]:leaders[hit[0]] + 1])
                equal.append(same[hit[:1]])
                exact.append(np.array([is_exact]))
            else:
                leaders.append(i)
    return (np.concatenate(lefts).astype(np.int64), np.concatenate(rights).astype(np.int64),
            np.concatenate(equal).astype(np.int64), np.concatenate(exact).astype(bool))


def bucket_shard(cfg: DedupConfig, bands: int, dataset: Path, task: ShardTask[PartitionInput]) -> ShardOutput:
    """Verified candidate pairs of one partition."""
    import pyarrow as pa

    counts: Counter[str] = Counter()
    files = task.payload.files
    tables = [read_parquet(Path(f)) for f in files]
    records = pa.concat_tables(tables) if tables else None
    out = Path(dataset) / part_name(task.index)
    if records is None or records.num_rows == 0:
        write_parquet(out, pairs_schema().empty_table())
        return ShardOutput(files=[out], counts={"records": 0, "pairs": 0, "total": 0, "kept": 0}, rows={str(out): 0})
    counts["records"] = records.num_rows
    store = SignatureStore(list(task.payload.spans))
    # Exact groups always need identical signatures: a 64-bit digest prefix is not proof alone.
    need_near = required_matches(cfg.threshold, cfg.num_perm) if cfg.verify else 0
    band = records["band"].to_numpy()
    key = records["key"].to_numpy()
    gid = records["gid"].to_numpy()
    is_exact = band == bands
    parts = []
    for sel, need, use_store in ((~is_exact, need_near, cfg.verify), (is_exact, cfg.num_perm, True)):
        left, right, equal, exact = candidate_pairs(
            band[sel], key[sel], gid[sel], bands, store if use_store else None, need, counts)
        parts.append((left, right, equal, exact))
    left, right, equal, exact = (np.concatenate(x) for x in zip(*parts, strict=True))
    # The same pair can come from several bands of this partition: keep it once (exact wins).
    order = np.lexsort((~exact, right, left))
    left, right, equal, exact = left[order], right[order], equal[order], exact[order]
    first = np.ones(len(left), bool)
    first[1:] = (left[1:] != left[:-1]) | (right[1:] != right[:-1])
    left, right, equal, exact = left[first], right[first], equal[first], exact[first]
    similarity = np.where(equal >= 0, equal / cfg.num_perm, np.nan).astype(np.float32)
    counts["pairs"] = len(left)
    counts["exact_pairs"] = int(exact.sum())
    counts["total"] = counts["kept"] = records.num_rows  # every band record is grouped; ``pairs`` is what they yield
    write_parquet(out, pa.table({"left": left, "right": right, "similarity": similarity, "exact": exact},
                                schema=pairs_schema()))
    return ShardOutput(files=[out], counts=dict(counts), rows={str(out): len(left)})
