"""The corpus side, per docs shard: n-gram hashes of every document looked up in the benchmark
table (per-document hits, which benchmark n-grams occur, in how many documents), and the
corpus Bloom filter built over groups of shards.

Scan output (the ``hits/`` pass): ``part-NNNNN.parquet`` rows ``id``, ``benchmark``,
``n_hits`` (n-gram occurrences of the document found in the benchmark), ``n_ngrams``,
``fraction`` (= n_hits / n_ngrams), ``url``, ``karma``; ``__found/NNNNN.npz``: the table slots the
shard's documents hit and the number of documents hitting each. In Bloom mode also
``ngrams/NNNNN.npy``: the shard's n-gram hashes in the filter's insert order (8 bytes per
n-gram), so the Bloom pass neither reads nor hashes the text again, and its inserts walk the
filter through the cache instead of missing it at random.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import mmap
import os
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from webtext.contamination.config import ContaminationConfig
from webtext.contamination.kernels import HLL_BITS, PARTITION_BITS
from webtext.contamination.ngrams import hash_texts
from webtext.contamination.table import NgramTable, save_npz
from webtext.contamination.tasks import ScanInput, SliceInput
from webtext.data import open_stream, stream_batches, write_parquet
from webtext.errors import ShardError
from webtext.paths import atomic_path, file_stamp, part_name, side_dir
from webtext.runner import ShardOutput, ShardTask


def hits_schema():
    import pyarrow as pa

    return pa.schema([("id", pa.string()), ("benchmark", pa.string()), ("n_hits", pa.int64()),
                      ("n_ngrams", pa.int64()), ("fraction", pa.float64()), ("url", pa.string()),
                      ("karma", pa.int64())])


def doc_batches(path: Path, batch_rows: int, extra: tuple[str, ...] = ("url", "karma")):
    """Record batches of a docs file with ``id``, ``text`` and whichever of ``extra`` it has."""
    import pyarrow as pa

    try:
        source = open_stream(path)
        columns = ["id", "text", *[c for c in extra if c in source.schema_arrow.names]]
        yield from stream_batches(source, columns, max_rows=batch_rows)
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise ShardError(f"cannot read documents: {exc}", path=str(path)) from exc


def _column(batch, name: str, type_) -> list:
    import pyarrow as pa

    if name in batch.schema.names:
        column = batch.column(name)
        # cast only when needed: Array.cast imports pyarrow.compute (~0.1 s, a noticeable share of a small run)
        return (column if column.type == type_ else column.cast(type_)).to_pylist()
    return pa.nulls(len(batch), type_).to_pylist()


@dataclass
class _ShardScan:
    """What the scan of one shard accumulates over its batches."""

    table: NgramTable
    first_doc: int  # global number of the next document
    spill: BinaryIO | None  # Bloom mode: the n-gram hashes in the filter's insert order go here
    presence: tuple[np.ndarray, int] = field(repr=False)  # the table's presence bits and shift (NgramTable.presence)
    hash_threads: int = 1  # 2: half of each batch's text is hashed by a helper thread
    found: np.ndarray = field(init=False)  # table slot found in some document
    doc_freq: np.ndarray = field(init=False)  # documents per table slot
    last_doc: np.ndarray = field(init=False)  # last document counted per slot
    registers: np.ndarray = field(init=False)  # HyperLogLog of the corpus n-grams (Bloom mode)
    runs: list[np.ndarray] = field(default_factory=list)  # per spilled batch: where each partition starts
    written: int = 0  # hashes spilled so far
    spill_sha256: Any = field(default_factory=hashlib.sha256, repr=False)  # of the bytes spilled so far
    rows: dict[str, list] = field(default_factory=lambda: {k: [] for k in hits_schema().names})
    counts: Counter[str] = field(default_factory=Counter)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _hasher: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _spilling: Future[np.ndarray] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        slots = len(self.table.slots)
        self.found = np.zeros(slots, dtype=np.bool_)
        self.doc_freq = np.zeros(slots, dtype=np.int64)
        self.last_doc = np.full(slots, -1, dtype=np.int64)
        self.registers = np.zeros(1 << HLL_BITS, dtype=np.uint8)
        if self.hash_threads > 1:
            self._hasher = ThreadPoolExecutor(1, thread_name_prefix="contamination-hash")

    def _spiller(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="contamination-spill")
        return self._pool

    def _spill(self, hashes: np.ndarray, offset: int) -> np.ndarray:
        """Bloom mode, in the spill thread (the kernels release the GIL): the batch's n-grams into the
        HyperLogLog and, in the filter's insert order, into the spill file; where its partitions start."""
        from webtext.contamination.kernels import hll_add, partition_order

        hll_add(self.registers, hashes)
        ordered, starts = partition_order(hashes)
        data = memoryview(ordered.astype("<u8", copy=False)).cast("B")
        self.spill.write(data)
        self.spill_sha256.update(data)  # here, not by re-reading the file after the scan (hashlib releases the GIL)
        return starts + offset

    def _collect(self) -> None:
        """Wait for the batch being spilled (its error is raised here) and note its runs."""
        if self._spilling is not None:
            spilling, self._spilling = self._spilling, None
            self.runs.append(spilling.result())

    def finish(self) -> None:
        """Every batch spilled (the spill file and ``registers`` complete) and the spill thread ended."""
        try:
            self._collect()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)  # after an error too: nothing writes to a closed file
                self._pool = None
            if self._hasher is not None:
                self._hasher.shutdown(wait=True)
                self._hasher = None

    def add(self, batch, ngram: int) -> None:
        """Scan one record batch of documents (``id``, ``text``, maybe ``url``/``karma``)."""
        import pyarrow as pa

        from webtext.contamination.kernels import scan_documents

        table, n_bench = self.table, len(self.table.names)
        grams = hash_texts(batch.column("text"), ngram, compact=False, helper=self._hasher)
        hits = np.zeros((batch.num_rows, n_bench), dtype=np.int64)
        scan_documents(grams.hashes, grams.counts, table.slots, table.values, *self.presence, n_bench, self.first_doc,
                       self.found, self.doc_freq, self.last_doc, hits)
        if self.spill is not None:  # only the Bloom filter's size needs the distinct count
            # the previous batch's spill has to be written first (the runs are in file order);
            # this batch's is then done by the spill thread while the next batch is hashed
            self._collect()
            self._spilling = self._spiller().submit(self._spill, grams.hashes, self.written)
            self.written += len(grams.hashes)
        self.first_doc += batch.num_rows
        counts, rows = self.counts, self.rows
        counts["documents"] += batch.num_rows
        counts["ngrams"] += len(grams.hashes)
        counts["text_bytes"] += grams.n_bytes
        docs, benches = np.nonzero(hits)
        if len(docs):
            ids, urls = batch.column("id").to_pylist(), _column(batch, "url", pa.string())
            karma = _column(batch, "karma", pa.int64())
            for d, b in zip(docs.tolist(), benches.tolist(), strict=True):
                n = int(grams.counts[d])
                rows["id"].append(ids[d])
                rows["benchmark"].append(table.names[b])
                rows["n_hits"].append(int(hits[d, b]))
                rows["n_ngrams"].append(n)
                rows["fraction"].append(hits[d, b] / n)
                rows["url"].append(urls[d])
                rows["karma"].append(karma[d])
                counts[f"contaminated_documents_{table.names[b]}"] += 1


@functools.lru_cache(maxsize=1)
def _benchmark_table(path: str, stamp: tuple) -> tuple[NgramTable, tuple[np.ndarray, int]]:
    """The benchmark table and its presence bits, loaded once per process for all the scan shards it runs (a table
    written since has another ``file_stamp``); both are only read."""
    del stamp  # part of the cache key only
    table = NgramTable.load(Path(path))
    return table, table.presence()


def scan_shard(cfg: ContaminationConfig, table_file: str, dataset: Path, task: ShardTask[ScanInput]) -> ShardOutput:
    import pyarrow as pa

    table, presence = _benchmark_table(str(table_file), file_stamp(Path(table_file)))
    main = Path(dataset) / part_name(task.index)
    side = side_dir(dataset, "found") / f"{task.index:05d}.npz"
    files = [main, side]
    spill_path = side_dir(dataset, "ngrams") / f"{task.index:05d}.u64"
    with contextlib.ExitStack() as stack:  # the spill file appears only if the scan completes
        spill = None
        if task.payload.bloom_input:
            files.append(spill_path)
            spill = stack.enter_context(open(stack.enter_context(atomic_path(spill_path)), "wb"))
        scan = _ShardScan(table, task.payload.offset, spill, presence, task.payload.hash_threads)
        try:
            for batch in doc_batches(Path(task.payload.path), cfg.batch_rows):
                scan.add(batch, cfg.ngram)
        finally:
            scan.finish()
    digests: dict[str, str] = {}
    if spill is not None:
        digests[str(spill_path)] = scan.spill_sha256.hexdigest()  # of the bytes the spill thread wrote
        files.append(side_dir(dataset, "ngrams") / f"{task.index:05d}.runs.npz")
        empty = np.zeros((0, (1 << PARTITION_BITS) + 1), np.int64)
        save_npz(files[-1], starts=np.stack(scan.runs) if scan.runs else empty)
    write_parquet(main, pa.Table.from_pydict(scan.rows, schema=hits_schema()))
    slots = np.flatnonzero(scan.found)
    save_npz(side, slots=slots, doc_freq=scan.doc_freq[slots], hll=scan.registers)
    counts = dict(scan.counts)
    counts["total"] = counts["kept"] = counts.get("documents", 0)  # every document is scanned; hits are extra rows
    return ShardOutput(files=files, counts=counts, rows={str(main): len(scan.rows["id"])}, digests=digests)


SPLIT_ITEMS = 1 << 20  # a whole filter for at least this many n-grams is built by 2 threads (see bloom_shard)


def bloom_shard(cfg: ContaminationConfig, m: int, k: int, planned: int, dataset: Path,
                task: ShardTask[SliceInput]) -> ShardOutput:
    """One slice of the Bloom filter (the items of a range of partitions, ~m / parts bits), from
    the n-gram hashes the scan saved: of each sorted run only that range is read.

    A task that builds the whole filter (the local runner: one task) on a machine with a second
    core splits it in two: the lower half of the partitions inserted into the filter itself, the
    upper half by a second thread into a slice of its own (the inserts release the GIL), ORed in
    afterwards -- the same bits, as a set's union does not depend on the order, in about half the
    time, for ~m/2 more bytes while it runs."""
    from concurrent.futures import ThreadPoolExecutor

    from webtext.contamination.bloom import PARTITIONS, BloomFilter

    p0, p1 = task.payload.partitions
    bloom = BloomFilter.empty(m, k, cfg.ngram, parts=(p0, p1))
    bloom.planned = planned
    runs = [_sorted_run(path, index) for path, index in zip(task.payload.hashes, task.payload.runs, strict=True)]
    items = sum(int(r.starts[-1, -1]) for r in runs if r.starts.size)
    if (p0, p1) == (0, PARTITIONS) and items >= SPLIT_ITEMS and len(os.sched_getaffinity(0)) >= 2:
        mid = (p0 + p1) // 2
        upper = BloomFilter.empty(m, k, cfg.ngram, parts=(mid, p1))
        with ThreadPoolExecutor(1, thread_name_prefix="bloom-upper") as pool:
            done = pool.submit(_insert_range, upper, runs, mid, p1)
            _insert_range(bloom, runs, p0, mid)
            done.result()
        bloom.merge(upper)
    else:
        _insert_range(bloom, runs, p0, p1)
    out = Path(dataset) / f"part-{task.index:05d}.bloom"
    digest = bloom.save(out)
    return ShardOutput(files=[out], counts={"items": bloom.items, "total": bloom.items,
                                                     "kept": bloom.items}, digests={str(out): digest})


class SortedRuns(NamedTuple):
    """A scan shard's saved n-gram hashes (read-only, memory-mapped) and where each partition starts in each of its
    runs (``starts[run, partition]``, one column more for the end)."""

    hashes: np.ndarray
    starts: np.ndarray
    mapping: mmap.mmap | None = None  # the map under ``hashes``, for dropping the pages already inserted

    def release(self, start: int, stop: int) -> None:
        """Drop the pages of hashes [start, stop) from this process (they stay in the page cache; a later read just
        maps them again): the Bloom pass reads each hash once, so the shards' files need not all stay resident."""
        advice = getattr(mmap, "MADV_DONTNEED", None)  # not on every platform (Windows): the pages then stay
        if self.mapping is None or advice is None:
            return
        first = -(-start * 8 // mmap.PAGESIZE) * mmap.PAGESIZE  # whole pages inside the range only
        last = stop * 8 // mmap.PAGESIZE * mmap.PAGESIZE
        if last > first:
            self.mapping.madvise(advice, first, last - first)


def _sorted_run(path: str, index: str) -> SortedRuns:
    """A scan shard's n-gram hashes (memory-mapped) and where each partition starts in each of its runs."""
    try:
        size = Path(path).stat().st_size
        if size % 8:
            raise ValueError(f"{size} bytes is not a whole number of 8-byte hashes")
        mapping = None
        hashes = np.zeros(0, dtype=np.uint64)
        if size:
            with open(path, "rb") as f:
                mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            hashes = np.frombuffer(mapping, dtype="<u8")
        with np.load(index) as z:
            starts = z["starts"]
        if starts.size and starts[-1, -1] != len(hashes):
            raise ValueError(f"the run index covers {starts[-1, -1]} hashes, the file holds {len(hashes)}")
    except (OSError, ValueError, KeyError) as exc:
        raise ShardError(f"cannot read the scan's n-gram hashes: {exc}", path=path) from exc
    return SortedRuns(hashes, starts, mapping)


INSERT_ITEMS = 1 << 22  # hashes copied together for one insert (32 MiB): the copy is bounded, not the corpus's size


def _insert_range(bloom, runs: list[SortedRuns], p0: int, p1: int) -> None:
    """Insert the hashes of partitions [p0, p1) of every shard's runs into ``bloom``.

    The range is taken in consecutive stretches of partitions of about ``INSERT_ITEMS`` hashes; each stretch's pieces
    of all runs of all shards go into one insert (at most ``MAX_RUNS`` sorted runs each: more in one insert would be
    taken in plain order, missing the cache), which walks the stretch of the filter partition by partition across the
    runs. Copying only a stretch at a time bounds the extra memory, and the pages of the saved hashes already inserted
    are dropped as the walk goes (``SortedRuns.release``), so a large corpus's hashes never all stay resident."""
    from webtext.contamination.kernels import MAX_RUNS

    runs = [r for r in runs if r.starts.size]
    items = sum(int((r.starts[:, p1] - r.starts[:, p0]).sum()) for r in runs)
    stretches = max(1, min(p1 - p0, -(-items // INSERT_ITEMS)))
    bounds = [p0 + (p1 - p0) * i // stretches for i in range(stretches + 1)]
    for a, b in itertools.pairwise(bounds):
        pieces = [(r, lo, hi) for r in runs for lo, hi in zip(r.starts[:, a].tolist(), r.starts[:, b].tolist(),
                                                               strict=True) if hi > lo]
        for i in range(0, len(pieces), MAX_RUNS):
            group = pieces[i:i + MAX_RUNS]
            bloom.add(np.concatenate([r.hashes[lo:hi] for r, lo, hi in group]))
            for r, lo, hi in group:
                r.release(lo, hi)
