"""Arrow string columns as numpy views of their bytes and offsets, the input of compiled kernels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa


def string_buffers(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, offsets: int32 or int64) of a string column, read in place where possible
    (one copy for chunked columns, nulls or other types); string ``i`` is
    ``bytes[offsets[i]:offsets[i + 1]]``, a null is empty. ``bytes`` has at least one element."""
    import pyarrow as pa

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if arr.null_count:
        import pyarrow.compute as pc  # only here: its import is ~0.1 s, a noticeable share of a small run

        arr = pc.fill_null(arr, "")
    if arr.type not in (pa.string(), pa.large_string()):
        arr = arr.cast(pa.large_string())
    _, offsets_buf, data_buf = arr.buffers()
    width = np.int64 if arr.type == pa.large_string() else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None and len(data_buf) else np.zeros(1, np.uint8)
    return data, offsets
