"""The corpus side, per docs shard: n-gram hashes of every document looked up in the benchmark
table (per-document hits, which benchmark n-grams occur, in how many documents), and the
corpus Bloom filter built over groups of shards.

Scan output (the ``hits/`` pass): ``part-NNNNN.parquet`` rows ``id``, ``benchmark``,
``n_hits`` (n-gram occurrences of the document found in the benchmark), ``n_ngrams``,
``fraction`` (= n_hits / n_ngrams), ``url``, ``karma``; ``found/NNNNN.npz``: the table slots the
shard's documents hit and the number of documents hitting each.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from webtext.config import ContaminationConfig
from webtext.contamination.ngrams import hash_texts
from webtext.contamination.table import NgramTable, save_npz
from webtext.data import write_parquet
from webtext.errors import ShardError
from webtext.paths import part_name
from webtext.runner import ShardOutput, ShardTask


def hits_schema():
    import pyarrow as pa

    return pa.schema([("id", pa.string()), ("benchmark", pa.string()), ("n_hits", pa.int64()),
                      ("n_ngrams", pa.int64()), ("fraction", pa.float64()), ("url", pa.string()),
                      ("karma", pa.int64())])


def doc_batches(path: Path, batch_rows: int, extra: tuple[str, ...] = ("url", "karma")):
    """Record batches of a docs file with ``id``, ``text`` and whichever of ``extra`` it has."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(path, page_checksum_verification=True)
        columns = ["id", "text", *[c for c in extra if c in source.schema_arrow.names]]
        yield from source.iter_batches(batch_size=batch_rows, columns=columns)
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise ShardError(f"cannot read documents: {exc}", path=str(path)) from exc


def _column(batch, name: str, type_) -> list:
    import pyarrow as pa

    if name in batch.schema.names:
        return batch.column(name).cast(type_).to_pylist()
    return pa.nulls(len(batch), type_).to_pylist()


def scan_shard(cfg: ContaminationConfig, table_file: str, dataset: Path, task: ShardTask) -> ShardOutput:
    import pyarrow as pa
    import pyarrow.compute as pc

    from webtext.contamination.kernels import scan_documents

    table = NgramTable.load(Path(table_file))
    n_bench = len(table.names)
    found = np.zeros(len(table.slots), dtype=np.bool_)
    doc_freq = np.zeros(len(table.slots), dtype=np.int64)
    last_doc = np.full(len(table.slots), -1, dtype=np.int64)
    rows: dict[str, list] = {k: [] for k in hits_schema().names}
    counts: Counter[str] = Counter()
    first = int(task.payload["offset"])
    for batch in doc_batches(Path(task.payload["path"]), cfg.batch_rows):
        texts = batch.column("text").to_pylist()
        grams = hash_texts(texts, cfg.ngram)
        hits = np.zeros((len(texts), n_bench), dtype=np.int64)
        scan_documents(grams.hashes, grams.counts, table.slots, table.values, n_bench, first, found, doc_freq,
                       last_doc, hits)
        first += len(texts)
        counts["documents"] += len(texts)
        counts["ngrams"] += len(grams.hashes)
        counts["text_bytes"] += int(pc.sum(pc.binary_length(batch.column("text").cast(pa.large_binary()))).as_py() or 0)
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
    main = Path(dataset) / part_name(task.index)
    side = Path(dataset) / "found" / f"{task.index:05d}.npz"
    write_parquet(main, pa.Table.from_pydict(rows, schema=hits_schema()))
    slots = np.flatnonzero(found)
    save_npz(side, slots=slots, doc_freq=doc_freq[slots])
    return ShardOutput(files=[main, side], counts=dict(counts), rows={str(main): len(rows["id"])})


def bloom_shard(cfg: ContaminationConfig, m: int, k: int, dataset: Path, task: ShardTask) -> ShardOutput:
    """One Bloom filter over a group of docs files."""
    from webtext.contamination.bloom import BloomFilter

    bloom = BloomFilter.empty(m, k, cfg.ngram)
    for path in task.payload["paths"]:
        for batch in doc_batches(Path(path), cfg.batch_rows, extra=()):
            bloom.add(hash_texts(batch.column("text").to_pylist(), cfg.ngram).hashes)
    out = Path(dataset) / f"part-{task.index:05d}.bloom"
    bloom.save(out)
    return ShardOutput(files=[out], counts={"items": bloom.items})
