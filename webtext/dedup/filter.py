"""Pass 4 of ``dedup``, per docs shard: keep representatives and unique documents in the input's
own schema; list the removed ones in ``__duplicates/`` (``id``, ``duplicate_of``, ``similarity``,
``kind``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from webtext.data import ParquetStreamWriter, open_stream, stream_batches, write_parquet
from webtext.dedup.tasks import FilterInput
from webtext.errors import ShardError
from webtext.paths import part_name, side_dir
from webtext.runner import ShardOutput, ShardTask


def duplicates_schema():
    import pyarrow as pa

    return pa.schema([("id", pa.string()), ("duplicate_of", pa.string()), ("similarity", pa.float32()),
                      ("kind", pa.string())])


def filter_shard(dataset: Path, task: ShardTask[FilterInput]) -> ShardOutput:
    import pyarrow as pa
    import pyarrow.parquet as pq

    docs = task.payload.docs
    path, offset, rows = Path(docs.path), docs.offset, docs.rows
    removals = pq.read_table(task.payload.removals, filters=[("gid", ">=", offset), ("gid", "<", offset + rows)])
    drop = np.zeros(rows, dtype=bool)
    drop[removals["gid"].to_numpy() - offset] = True
    counts: Counter[str] = Counter(documents=rows, removed=len(removals))
    counts["removed_exact"] = int(np.count_nonzero(removals["kind"].to_numpy(zero_copy_only=False) == "exact"))
    counts["removed_near"] = counts["removed"] - counts["removed_exact"]
    main = Path(dataset) / part_name(task.index)
    side = side_dir(dataset, "duplicates") / part_name(task.index)
    try:
        source = open_stream(path)
        writer = ParquetStreamWriter(main, source.schema_arrow)
        try:
            at = 0
            for batch in stream_batches(source, max_rows=8192):
                keep = ~drop[at:at + len(batch)]
                writer.write(pa.Table.from_batches([batch]).filter(pa.array(keep)))
                at += len(batch)
            if at != rows:
                raise ShardError(f"{at} rows read, {rows} expected: the file changed during dedup", path=str(path))
            writer.close()
        except BaseException:
            writer.abort()
            raise
    except (OSError, ValueError) as exc:
        raise ShardError(f"cannot read documents: {exc}", path=str(path)) from exc
    write_parquet(side, removals.select(["id", "duplicate_of", "similarity", "kind"]).cast(duplicates_schema()))
    counts["kept"] = writer.rows
    counts["total"] = rows
    counts["dropped_exact_duplicate"] = counts["removed_exact"]
    counts["dropped_near_duplicate"] = counts["removed_near"]
    return ShardOutput(files=[main, side], counts=dict(counts), rows={str(main): writer.rows, str(side): len(removals)})
