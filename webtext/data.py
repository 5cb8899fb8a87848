"""Dataset files: Parquet shards with page checksums, file digests, manifests and verification.

A dataset folder holds its main table (``part-NNNNN.parquet``), per-shard stats and, written
last, ``_manifest.json`` (DESIGN.md, "Data contracts"). ``verify_dataset`` recomputes every
digest and row count the manifest promises.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webtext import __version__
from webtext.errors import ShardError
from webtext.paths import MANIFEST, atomic_path, atomic_write_bytes, manifest_path, write_error

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """One file of a dataset, as the manifest records it (path relative to the dataset folder)."""

    path: str
    rows: int | None
    bytes: int
    sha256: str


def file_sha256(path: Path) -> tuple[str, int]:
    """sha256 hex digest and size of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def count_rows(path: Path) -> int | None:
    """Rows of a table file from its footer/schema; None for files that are not tables."""
    name = Path(path).name
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if name.endswith(".arrow"):
        import pyarrow as pa

        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all().num_rows
    return None


def describe_file(dataset: Path, path: Path, rows: int | None = None, digest: str | None = None) -> FileEntry:
    """The manifest entry of a file; ``digest``: its sha256 when the writer computed it already."""
    if digest is None:
        digest, size = file_sha256(path)
    else:
        size = Path(path).stat().st_size
    if rows is None:
        rows = count_rows(path)
    return FileEntry(str(Path(path).relative_to(dataset)), rows, size, digest)


# ---------------------------------------------------------------------------------------------
# Parquet I/O


def write_parquet(path: Path, table: pa.Table) -> None:
    """Write ``table`` atomically, with page checksums so corruption is caught on read."""
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        if table.num_rows:
            pq.write_table(table, tmp, compression="zstd", write_page_checksum=True)
        else:  # no row group at all: `datasets` reads an empty row group with batch size 0 and fails
            pq.ParquetWriter(tmp, table.schema, compression="zstd", write_page_checksum=True).close()


class ParquetStreamWriter:
    """Append record batches to one Parquet file; it appears under its final name on ``close``."""

    def __init__(self, path: Path, schema: pa.Schema, compression: str = "zstd", *, plain: bool = False) -> None:
        """``plain``: no dictionary encoding and no column statistics, for intermediate files of
        mostly distinct strings that are read back whole (half the write time)."""
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.schema = schema
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        self.rows = 0
        with self._failed_write(0):
            self._writer = pq.ParquetWriter(self._tmp, schema, compression=compression, write_page_checksum=True,
                                            use_dictionary=not plain, write_statistics=not plain)

    @contextlib.contextmanager
    def _failed_write(self, pending: int) -> Iterator[None]:
        """A write that fails for want of space or permission: a WriteError naming this file (the temporary
        goes) with what it needed: the bytes written so far plus the batch being written (uncompressed)."""
        try:
            yield
        except OSError as exc:
            written = self._tmp.stat().st_size if self._tmp.exists() else 0
            err = write_error(exc, self.path, needed=written + pending if pending else None, written=written)
            if err is None:
                raise
            self.abort()
            raise err from exc

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            with self._failed_write(table.nbytes):
                self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self) -> None:
        with self._failed_write(0):
            self._writer.close()
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        writer = getattr(self, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        with contextlib.suppress(StopIteration, RuntimeError):  # aborted twice: the temporary is gone already
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


class ParquetWriterSet:
    """Several ``ParquetStreamWriter``s by key (one per bucket or partition): all appear on a clean
    exit from the ``with`` block, none if it raises."""

    def __init__(self, compression: str = "zstd", *, plain: bool = False) -> None:
        self.compression = compression
        self.plain = plain
        self.writers: dict[int, ParquetStreamWriter] = {}

    def write(self, key: int, path: Path, table: pa.Table) -> None:
        if key not in self.writers:
            self.writers[key] = ParquetStreamWriter(path, table.schema, compression=self.compression,
                                                    plain=self.plain)
        self.writers[key].write(table)

    def __enter__(self) -> ParquetWriterSet:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        for w in self.writers.values():
            if exc_type is None:
                w.close()
            else:
                w.abort()

    def paths(self) -> list[Path]:
        return [w.path for _, w in sorted(self.writers.items())]

    def rows(self) -> dict[str, int]:
        return {str(w.path): w.rows for w in self.writers.values()}


# A streamed batch holds about this much uncompressed column data (the footer's average row decides the row count).
BATCH_BYTES = 4 << 20
# Column chunks of a streamed file are read through a buffer of this size, page by page.
_STREAM_BUFFER = 1 << 20


def open_stream(path: Path | str) -> pq.ParquetFile:
    """A Parquet file opened for ``stream_batches``, verifying page checksums.

    pyarrow's ``ParquetFile`` pre-buffers by default: ``iter_batches`` then reads the column chunks of the row
    groups ahead in large coalesced ranges (the whole file, for one made of a single row group), so a task's
    memory grew with its input file whatever the batch size. Without pre-buffering and with a read buffer, a
    column chunk is read page by page (pre-buffering pays off on high-latency storage; remote inputs are
    fetched to local files first, ``webtext.storage``)."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path, page_checksum_verification=True, pre_buffer=False, buffer_size=_STREAM_BUFFER)


def column_bytes(metadata: pq.FileMetaData, columns: Iterable[str] | None = None) -> int:
    """Uncompressed bytes of these top-level columns (all if None; a nested one with all its leaves), from a
    Parquet footer."""
    wanted = None if columns is None else set(columns)
    leaves = [i for i in range(metadata.num_columns)
              if wanted is None or metadata.schema.column(i).path.split(".", 1)[0] in wanted]
    return sum(metadata.row_group(g).column(i).total_uncompressed_size
               for g in range(metadata.num_row_groups) for i in leaves)


def batch_rows(metadata: pq.FileMetaData, columns: Iterable[str] | None, max_rows: int,
               max_bytes: int = BATCH_BYTES) -> int:
    """Rows per streamed batch: about ``max_bytes`` of the ``columns``' uncompressed data at the file's
    average row size (all columns if None), at most ``max_rows``, at least 1."""
    rows, size = metadata.num_rows, column_bytes(metadata, columns)
    if not rows or not size:
        return max(1, max_rows)
    return max(1, min(max_rows, max_bytes * rows // size))


def stream_batches(source: pq.ParquetFile, columns: list[str] | None = None, *, max_rows: int = 65_536,
                   max_bytes: int = BATCH_BYTES) -> Iterator[pa.RecordBatch]:
    """The record batches of a file from ``open_stream``, each of at most ``max_rows`` rows and about
    ``max_bytes`` of uncompressed data: memory bounded by the batch, not by the file or its row groups (the
    memory freed batches leave behind goes back to the system with ``webtext.arrow_memory``'s pool)."""
    rows = batch_rows(source.metadata, columns, max_rows, max_bytes)
    yield from source.iter_batches(batch_size=rows, columns=columns)


def read_parquet(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Read a Parquet file verifying its page checksums; corruption is a ShardError naming it."""
    import pyarrow.parquet as pq

    try:
        # ParquetFile, not pq.read_table: that goes through pyarrow.dataset, whose import (~0.08 s) is a noticeable
        # share of a small run; for one file the table is the same
        with pq.ParquetFile(path, page_checksum_verification=True) as source:
            missing = [c for c in columns or () if c not in source.schema_arrow.names]
            if missing:  # read_table's error (ParquetFile.read would leave them out)
                raise ValueError(f"no column {', '.join(missing)} (columns: {', '.join(source.schema_arrow.names)})")
            return source.read(columns=columns)
    except (OSError, ValueError) as exc:  # pyarrow raises ArrowInvalid (ValueError) / OSError
        raise ShardError(f"cannot read Parquet file: {exc}", path=str(path)) from exc


# ---------------------------------------------------------------------------------------------
# Manifests


@dataclass
class Manifest:
    """What ``_manifest.json`` holds; its presence marks the dataset complete."""

    stage: str
    fingerprint: str
    config: dict[str, Any]
    inputs: list[dict[str, Any]]
    shards: list[dict[str, Any]]
    stats: dict[str, Any]
    parts: list[str] = field(default_factory=list)  # subfolders that carry their own manifest
    code_version: str = __version__
    format: int = MANIFEST_FORMAT
    created_at: str = ""

    def files(self) -> Iterable[FileEntry]:
        for shard in self.shards:
            for f in shard["files"]:
                yield FileEntry(**f)

    def write(self, dataset: Path) -> None:
        if not self.created_at:
            self.created_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        text = json.dumps(asdict(self), indent=2, sort_keys=True, default=str)
        atomic_write_bytes(manifest_path(dataset), text.encode())

    @classmethod
    def read(cls, dataset: Path) -> Manifest | None:
        path = manifest_path(dataset)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            return cls(**data)
        except (ValueError, TypeError) as exc:
            log.warning("ignoring unreadable manifest %s (%s)", path, exc)
            return None


def manifest_digest(dataset: Path) -> str:
    """Digest of a dataset's manifest: what a later stage records as its input's identity."""
    return file_sha256(manifest_path(dataset))[0]


def merge_counts(counts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Sum numeric stats key by key (timings included)."""
    merged: dict[str, Any] = {}
    for c in counts:
        for k, v in c.items():
            if isinstance(v, bool) or not isinstance(v, int | float):
                continue
            merged[k] = merged.get(k, 0) + v
    return dict(sorted(merged.items()))


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass
class Problem:
    path: str
    what: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return f"{self.path}: {self.what}: expected {self.expected}, actual {self.actual}"


def verify_dataset(dataset: Path) -> tuple[int, list[Problem]]:
    """Recompute sha256, size and rows of every file the manifest lists (recursing into parts).

    Returns (files checked, problems). A missing manifest is itself a problem.
    """
    dataset = Path(dataset)
    manifest = Manifest.read(dataset)
    if manifest is None:
        return 0, [Problem(str(manifest_path(dataset)), "manifest", "present and readable", "missing")]
    checked = 0
    problems: list[Problem] = []
    listed: set[str] = set()
    for entry in manifest.files():
        path = dataset / entry.path
        listed.add(entry.path)
        checked += 1
        if not path.exists():
            problems.append(Problem(str(path), "file", f"sha256 {entry.sha256}", "missing"))
            continue
        digest, size = file_sha256(path)
        if size != entry.bytes:
            problems.append(Problem(str(path), "bytes", entry.bytes, size))
        if digest != entry.sha256:
            problems.append(Problem(str(path), "sha256", entry.sha256, digest))
            continue  # a corrupt file's footer may not even parse
        if entry.rows is not None:
            try:
                rows = count_rows(path)
            except Exception as exc:  # a file that no longer parses is reported, not raised
                rows = f"unreadable ({exc})"
            if rows != entry.rows:
                problems.append(Problem(str(path), "rows", entry.rows, rows))
    for extra in sorted(dataset.glob("part-*")):
        if extra.name not in listed:
            problems.append(Problem(str(extra), "file", "not present (not in manifest)", "present"))
    for part in manifest.parts:
        n, sub = verify_dataset(dataset / part)
        checked += n
        problems.extend(sub)
    return checked, problems


__all__ = [
    "MANIFEST",
    "FileEntry",
    "Manifest",
    "ParquetStreamWriter",
    "ParquetWriterSet",
    "Problem",
    "count_rows",
    "describe_file",
    "file_sha256",
    "manifest_digest",
    "merge_counts",
    "read_parquet",
    "verify_dataset",
    "write_parquet",
]
