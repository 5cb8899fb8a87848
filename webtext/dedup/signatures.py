"""Pass 1 of ``dedup``, per docs shard: MinHash signatures, exact-text digests and LSH band
records hash-partitioned into bucket files.

Output (the ``__signatures/`` pass folder):
- ``part-NNNNN.parquet``: one row per document: ``gid`` (global row number), ``id``, ``karma``,
  ``exact`` (128-bit digest of the normalised text), ``n_shingles``;
- ``__sig/NNNNN.npy``: the signatures, ``uint32`` (documents x num_perm), memory-mapped by later
  passes (``SignatureStore``) so no pass loads the corpus's signatures;
- ``__bPPPPP/part-NNNNN.parquet``: ``(band, key, gid)`` records of partition P = key mod partitions.
  Band ``bands`` (one past the last LSH band) carries the exact-text digest, so exact groups are
  found by the same reduce.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from webtext.data import ParquetStreamWriter, ParquetWriterSet, open_stream, stream_batches
from webtext.dedup.config import DedupConfig
from webtext.errors import ShardError
from webtext.paths import atomic_path, part_name, side_dir
from webtext.runner import ShardOutput, ShardTask

if TYPE_CHECKING:
    from webtext.dedup.tasks import DocsInput

log = logging.getLogger(__name__)


def meta_schema():
    import pyarrow as pa

    return pa.schema([("gid", pa.int64()), ("id", pa.string()), ("karma", pa.int64()),
                      ("exact", pa.binary(16)), ("n_shingles", pa.int64())])


def band_schema():
    import pyarrow as pa

    return pa.schema([("band", pa.uint16()), ("key", pa.uint64()), ("gid", pa.int64())])


def sig_path(dataset: Path, index: int) -> Path:
    return side_dir(dataset, "sig") / f"{index:05d}.npy"


def partition_path(dataset: Path, partition: int, index: int) -> Path:
    return side_dir(dataset, f"b{partition:05d}") / part_name(index)


@dataclass(frozen=True)
class ShardSpan:
    """Where one docs shard's documents sit in the global numbering, and its signature file."""

    offset: int
    rows: int
    sig_file: str


class SignatureStore:
    """Random access to any document's signature by gid, through memory-mapped shard files."""

    def __init__(self, spans: list[ShardSpan]) -> None:
        self.spans = sorted(spans, key=lambda s: s.offset)
        self.starts = np.array([s.offset for s in self.spans], dtype=np.int64)
        self._maps: dict[int, np.ndarray] = {}

    def _map(self, i: int) -> np.ndarray:
        if i not in self._maps:
            self._maps[i] = np.load(self.spans[i].sig_file, mmap_mode="r")
        return self._maps[i]

    def gather(self, gids: np.ndarray) -> np.ndarray:
        """Signatures of ``gids`` (any order), one row each."""
        gids = np.asarray(gids, dtype=np.int64)
        shard = np.searchsorted(self.starts, gids, side="right") - 1
        out: np.ndarray | None = None
        for i in np.unique(shard):
            sel = np.flatnonzero(shard == i)
            rows = self._map(int(i))[gids[sel] - self.spans[i].offset]
            if out is None:
                out = np.empty((len(gids), rows.shape[1]), dtype=np.uint32)
            out[sel] = rows
        return out if out is not None else np.empty((0, 0), dtype=np.uint32)


def _text_batches(path: Path, batch_rows: int):
    """(ids, texts, karma) batches of a docs file; bad files and columns are ShardErrors."""
    import pyarrow as pa

    try:
        source = open_stream(path)
        names = source.schema_arrow.names
        columns = ["id", "text"] + (["karma"] if "karma" in names else [])
        for batch in stream_batches(source, columns, max_rows=batch_rows):
            ids = batch.column("id").cast(pa.string())
            texts = batch.column("text").cast(pa.large_string())
            karma = batch.column("karma").cast(pa.int64()) if "karma" in names else pa.nulls(len(batch), pa.int64())
            yield ids, texts, karma
    except (OSError, ValueError, KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ShardError(f"cannot read documents: {exc}", path=str(path)) from exc


def signature_shard(cfg: DedupConfig, bands: int, rows: int, dataset: Path, task: ShardTask[DocsInput]) -> ShardOutput:
    """Signatures, metadata and partitioned band records of one docs file."""
    import pyarrow as pa

    from webtext.dedup.kernels import band_keys
    from webtext.dedup.minhash import MinHasher

    docs: DocsInput = task.payload
    path, offset, n_rows = Path(docs.path), docs.offset, docs.rows
    hasher = MinHasher(cfg.num_perm, cfg.seed, cfg.ngram)
    counts: Counter[str] = Counter()
    meta_file = Path(dataset) / part_name(task.index)
    npy = sig_path(dataset, task.index)
    meta = ParquetStreamWriter(meta_file, meta_schema())
    gid = offset
    try:
        with atomic_path(npy) as tmp, open(tmp, "wb") as sigs, ParquetWriterSet(compression="lz4") as parts:
            # Written in row order through the file, not a writable memory map: a map's dirty pages counted in
            # this task's memory until the end, 0.5 kB a document (16 MiB for a 32k-document shard).
            np.lib.format.write_array_header_1_0(sigs, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint32)),
                                                        "fortran_order": False, "shape": (n_rows, cfg.num_perm)})
            for ids, texts, karma in _text_batches(path, cfg.batch_rows):
                n = len(ids)
                if gid + n > offset + n_rows:
                    raise ShardError(f"more rows than the file's footer promised ({n_rows})", path=str(path))
                s = hasher.signatures(texts.to_pylist())
                sigs.write(np.ascontiguousarray(s.values, dtype=np.uint32).data)
                gids = np.arange(gid, gid + n, dtype=np.int64)
                meta.write(pa.table({
                    "gid": gids, "id": ids, "karma": karma, "exact": pa.array(s.exact, pa.binary(16)),
                    "n_shingles": s.n_shingles,
                }, schema=meta_schema()))
                has_shingles = s.n_shingles > 0
                keys = band_keys(s.values[has_shingles], bands, rows)
                exact_keys = np.frombuffer(b"".join(d[:8] for d in s.exact), dtype="<u8") if n else np.empty(0, "<u8")
                band_ids = np.concatenate([np.tile(np.arange(bands, dtype=np.uint16), int(has_shingles.sum())),
                                           np.full(n, bands, dtype=np.uint16)])
                all_keys = np.concatenate([keys.ravel(), exact_keys.astype(np.uint64)])
                all_gids = np.concatenate([np.repeat(gids[has_shingles], bands), gids])
                part = (all_keys % np.uint64(cfg.partitions)).astype(np.int64)
                order = np.argsort(part, kind="stable")
                bounds = np.searchsorted(part[order], np.arange(cfg.partitions + 1))
                for p in range(cfg.partitions):
                    sel = order[bounds[p]:bounds[p + 1]]
                    if len(sel):
                        parts.write(p, partition_path(dataset, p, task.index), pa.table(
                            {"band": band_ids[sel], "key": all_keys[sel], "gid": all_gids[sel]}, schema=band_schema()))
                counts["documents"] += n
                counts["empty_documents"] += int((~has_shingles).sum())
                counts["shingles"] += int(s.n_shingles.sum())
                counts["band_records"] += len(all_keys)
                gid += n
            if gid != offset + n_rows:
                raise ShardError(f"{gid - offset} rows read, the file's footer promised {n_rows}", path=str(path))
        meta.close()
    except BaseException:
        meta.abort()
        raise
    # The books: every document gets a signature row; ``band_records`` is the fan-out (bands + 1 each).
    counts["total"] = counts["kept"] = counts["documents"]
    return ShardOutput(files=[meta_file, npy, *parts.paths()], counts=dict(counts),
                       rows={str(meta_file): meta.rows, **parts.rows()})


def spans_of(tasks: list[ShardTask[DocsInput]], dataset: Path) -> tuple[ShardSpan, ...]:
    return tuple(ShardSpan(t.payload.offset, t.payload.rows, str(sig_path(dataset, t.index))) for t in tasks)
