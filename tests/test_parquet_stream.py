"""Streamed Parquet reads (``webtext.data.open_stream``/``stream_batches``): every row once and in order,
batches bounded in rows and bytes whatever the file's row groups, and Arrow memory bounded by the batch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from webtext.data import batch_rows, open_stream, stream_batches


def _docs(n: int, chars: int) -> pa.Table:
    return pa.table({"id": [f"d{i}" for i in range(n)], "text": [f"{i:08d}" + "x" * (chars - 8) for i in range(n)],
                     "karma": list(range(n))})


@pytest.mark.parametrize("row_group_size", [None, 37])
def test_every_row_once_in_order_in_bounded_batches(tmp_path, row_group_size):
    path = tmp_path / "docs.parquet"
    table = _docs(1000, 2000)
    pq.write_table(table, path, row_group_size=row_group_size, write_page_checksum=True)
    batches = list(stream_batches(open_stream(path), ["id", "text"], max_rows=500, max_bytes=100_000))
    assert pa.Table.from_batches(batches).equals(table.select(["id", "text"]))
    # ~2,000 bytes a row: 100 kB is ~50 rows (the footer's average row; the last batch is the remainder)
    sizes = [len(b) for b in batches]
    assert 40 <= max(sizes) <= 50 and sum(sizes) == 1000


def test_batch_rows_counts_only_the_columns_read_and_respects_the_caps(tmp_path):
    path = tmp_path / "docs.parquet"
    pq.write_table(_docs(400, 5000), path, compression="none")
    meta = pq.ParquetFile(path).metadata
    with_text = batch_rows(meta, ["id", "text"], max_rows=10_000, max_bytes=1_000_000)
    without = batch_rows(meta, ["id", "karma"], max_rows=10_000, max_bytes=1_000_000)
    assert 150 <= with_text <= 200  # 1 MB of ~5 kB rows
    assert without == 10_000  # a few bytes a row: the row cap
    assert batch_rows(meta, None, max_rows=10_000, max_bytes=1) == 1  # never 0
    assert batch_rows(meta, ["id", "text"], max_rows=7, max_bytes=10**9) == 7


def test_empty_file_streams_nothing(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.ParquetWriter(path, _docs(0, 10).schema).close()
    assert batch_rows(pq.ParquetFile(path).metadata, None, max_rows=100) == 100
    assert list(stream_batches(open_stream(path))) == []


def test_a_single_row_group_file_is_not_read_whole(tmp_path):
    """pyarrow pre-buffers by default: a file of one 48 MB row group was held in memory while it was streamed
    (Arrow's peak 55 MB). Measured in a fresh process (Arrow's peak is per process): ~15 MB."""
    path = tmp_path / "big.parquet"
    pq.write_table(_docs(12_000, 4000), path, compression="none", write_page_checksum=True)
    code = textwrap.dedent(f"""
        import json, pyarrow as pa
        from webtext.data import open_stream, stream_batches
        rows = sum(len(b) for b in stream_batches(open_stream({str(path)!r}), ["id", "text"], max_bytes=1 << 20))
        print(json.dumps([rows, pa.default_memory_pool().max_memory()]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    rows, peak = json.loads(out)
    assert rows == 12_000
    assert peak < 24_000_000, peak  # half the file's text column
