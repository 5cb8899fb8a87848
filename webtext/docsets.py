"""Document tables as later stages take them: a docs dataset, or any Parquet files with ``id``
and ``text`` (other columns optional), checked before any work starts (webtext.inputs lists them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from webtext.errors import ConfigError
from webtext.paths import MANIFEST


def check_columns(
    files: list[Path], integer_columns: Sequence[str] = ("karma",), binary_text: bool = False
) -> list[int]:
    """Row counts of the files; a missing or mistyped ``id``/``text`` (or a non-integer column
    of ``integer_columns`` when present) is a ConfigError naming the file. ``binary_text``: a
    binary ``text`` column is accepted too (the caller decodes it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for f in files:
        try:
            meta = pq.ParquetFile(f)
        except (OSError, ValueError) as exc:
            raise ConfigError("inputs", f"{f} is not a readable Parquet file: {exc}") from exc
        schema = meta.schema_arrow
        for name in ("id", "text"):
            if name not in schema.names:
                raise ConfigError("inputs", f"{f} has no `{name}` column (columns: {', '.join(schema.names)})")
            t = schema.field(name).type
            ok = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            if binary_text and name == "text":
                ok = ok or pa.types.is_binary(t) or pa.types.is_large_binary(t)
            if not ok:
                raise ConfigError("inputs", f"{f}: column `{name}` is {t}, expected a string")
        for name in integer_columns:
            if name in schema.names and not pa.types.is_integer(schema.field(name).type):
                raise ConfigError("inputs", f"{f}: column `{name}` is {schema.field(name).type}, expected integers")
        rows.append(meta.metadata.num_rows)
    return rows


def input_identities(files: list[Path]) -> list[dict]:
    """How a stage records docs inputs: each dataset by its manifest digest, loose files by stat."""
    from webtext.runner import input_identity

    datasets = sorted({f.parent for f in files if (f.parent / MANIFEST).exists()})
    return [input_identity(d) for d in datasets] + [input_identity(f) for f in files if f.parent not in datasets]
