"""Pass 3 of ``dedup``: connected components over the verified pairs, one representative each.

Union-find runs over a memory-mapped parent array (8 bytes per document, on disk), streaming
the pair files; the smaller gid becomes the root, so components do not depend on the order or
partitioning of pairs. Only documents in some pair ("involved") are then loaded, with their id,
karma and exact digest. The representative of a component is the document with the highest
karma, then the lowest id. Every other member is written as a removal: ``gid``, ``id``,
``duplicate_of_gid``, ``duplicate_of``, ``similarity`` (estimated Jaccard with the
representative), ``kind`` (``exact`` when its normalised text equals the representative's,
else ``near``) and ``cluster_size``.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from pathlib import Path

import numpy as np

from webtext.arrays import sorted_unique
from webtext.data import read_parquet, write_parquet
from webtext.dedup.config import DedupConfig
from webtext.dedup.minhash import estimated_jaccard
from webtext.dedup.signatures import SignatureStore
from webtext.dedup.tasks import ComponentsInput
from webtext.paths import TMP_MARK, part_name
from webtext.runner import ShardOutput, ShardTask

CHUNK = 1 << 20


def removals_schema():
    import pyarrow as pa

    return pa.schema([("gid", pa.int64()), ("id", pa.string()), ("duplicate_of_gid", pa.int64()),
                      ("duplicate_of", pa.string()), ("similarity", pa.float32()), ("kind", pa.string()),
                      ("cluster_size", pa.int64())])


def components(parent_file: Path, total: int, pair_files: list[str], counts: Counter[str]):
    """(member gids, their roots) of every non-trivial component, roots included."""
    from webtext.dedup.kernels import resolve_roots, union_pairs

    parent = np.lib.format.open_memmap(parent_file, mode="w+", dtype=np.int64, shape=(max(total, 1),))
    for start in range(0, total, CHUNK):
        parent[start:min(start + CHUNK, total)] = np.arange(start, min(start + CHUNK, total))
    for f in pair_files:
        pairs = read_parquet(Path(f), columns=["left", "right"])
        counts["pairs"] += pairs.num_rows
        if pairs.num_rows:
            union_pairs(parent, pairs["left"].to_numpy(), pairs["right"].to_numpy())
    members, roots = [], []
    buf = np.empty(CHUNK, dtype=np.int64)
    for start in range(0, total, CHUNK):
        end = min(start + CHUNK, total)
        resolve_roots(parent, start, end, buf)
        r = buf[:end - start]
        moved = np.flatnonzero(r != np.arange(start, end))
        members.append(moved + start)
        roots.append(r[moved].copy())
    del parent
    member = np.concatenate(members) if members else np.empty(0, np.int64)
    root = np.concatenate(roots) if roots else np.empty(0, np.int64)
    heads = sorted_unique(root)
    gids = np.concatenate([member, heads])
    return gids, np.concatenate([root, heads])


def involved_meta(meta_files: list[str], gids: np.ndarray):
    """Rows of the signatures pass's metadata for ``gids`` only."""
    import pyarrow as pa

    wanted = np.sort(gids)
    parts = []
    for f in meta_files:
        table = read_parquet(Path(f))
        g = table["gid"].to_numpy()
        pos = np.searchsorted(wanted, g)
        hit = (pos < len(wanted)) & (wanted[np.minimum(pos, len(wanted) - 1)] == g)
        if hit.any():
            parts.append(table.filter(pa.array(hit)))
    return pa.concat_tables(parts) if parts else None


def cluster_shard(cfg: DedupConfig, dataset: Path, task: ShardTask[ComponentsInput]) -> ShardOutput:
    import pyarrow as pa
    import pyarrow.compute as pc

    counts: Counter[str] = Counter()
    total = task.payload.total
    out = Path(dataset) / part_name(0)
    parent_file = Path(dataset) / f"{TMP_MARK}parent.npy"  # a temporary: removed here, and by reruns
    try:
        gids, roots = components(parent_file, total, task.payload.pairs, counts)
    finally:
        with contextlib.suppress(FileNotFoundError):
            parent_file.unlink()
    meta = involved_meta(task.payload.meta, gids) if len(gids) else None
    if meta is None:
        write_parquet(out, removals_schema().empty_table())
        return ShardOutput(files=[out], counts={**counts, "clusters": 0, "removed": 0, "total": total, "kept": total},
                           rows={str(out): 0})
    order = np.argsort(gids)
    root_of = roots[order][np.searchsorted(gids[order], meta["gid"].to_numpy())]
    table = meta.append_column("root", pa.array(root_of, pa.int64()))
    karma_key = pc.fill_null(table["karma"], np.iinfo(np.int64).min)
    table = table.append_column("karma_key", karma_key)
    table = table.sort_by([("root", "ascending"), ("karma_key", "descending"), ("id", "ascending"),
                           ("gid", "ascending")])
    root = table["root"].to_numpy()
    first = np.ones(len(root), bool)
    first[1:] = root[1:] != root[:-1]
    group = np.cumsum(first) - 1
    rep_index = np.flatnonzero(first)[group]
    sizes = np.diff(np.append(np.flatnonzero(first), len(root)))[group]
    removed = np.flatnonzero(~first)
    gid = table["gid"].to_numpy()
    store = SignatureStore(list(task.payload.spans))
    rep_gid = gid[rep_index[removed]]
    similarity = estimated_jaccard(store.gather(gid[removed]), store.gather(rep_gid)).astype(np.float32)
    exact_col = table["exact"].combine_chunks()
    same_text = pc.equal(exact_col.take(pa.array(removed)), exact_col.take(pa.array(rep_index[removed])))
    kind = pc.if_else(same_text, "exact", "near")
    ids = table["id"].combine_chunks()
    result = pa.table({
        "gid": gid[removed], "id": ids.take(pa.array(removed)), "duplicate_of_gid": rep_gid,
        "duplicate_of": ids.take(pa.array(rep_index[removed])), "similarity": similarity, "kind": kind,
        "cluster_size": sizes[removed],
    }, schema=removals_schema()).sort_by("gid")
    write_parquet(out, result)
    counts["clusters"] = int(first.sum())
    counts["removed"] = len(removed)
    counts["removed_exact"] = int(pc.sum(same_text.cast(pa.int64())).as_py() or 0)
    counts["removed_near"] = counts["removed"] - counts["removed_exact"]
    # The books count every document: kept, or decided here to go as an exact or a near duplicate.
    counts["total"], counts["kept"] = total, total - counts["removed"]
    counts["dropped_exact_duplicate"] = counts["removed_exact"]
    counts["dropped_near_duplicate"] = counts["removed_near"]
    return ShardOutput(files=[out], counts=dict(counts), rows={str(out): len(removed)})
