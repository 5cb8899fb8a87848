"""Dataset folder layout (DESIGN.md, "Data contracts") and atomic file writes.

A dataset folder's main table is its ``part-*`` files; everything else in it (per-shard stats,
side data, raw files, a multi-pass stage's intermediate passes) lives in a folder whose name
starts with ``__`` (``side_dir``), and the manifest is ``_manifest.json``. pyarrow, pandas and
``datasets.load_dataset`` all skip such names, so each of them reads the folder as the main table.

Every file is written under a temporary name in its final folder and renamed into place once
complete, so a reader (or a rerun) never sees half a file. A write that fails for want of space
or permission (``write_error``) is a ``WriteError`` naming the file being written and the bytes it
needed, never an error that blames an input; its temporary is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from webtext import faults
from webtext.errors import WriteError

MANIFEST = "_manifest.json"
CHECKPOINT_RECORD = "webtext-checkpoint.json"  # a step-N checkpoint's record: step, config, sha256 of every file
# pyarrow and pandas skip names starting with "_" or "."; datasets.load_dataset(folder) skips
# folders starting with "__" or "." but reads "_name/" folders: "__" is what all three skip.
SIDE_PREFIX = "__"
TMP_MARK = ".tmp-"


def side_name(name: str) -> str:
    """The on-disk name of side folder ``name`` (``"dropped"`` -> ``"__dropped"``); globs work too."""
    return name if name.startswith(SIDE_PREFIX) else SIDE_PREFIX + name


def side_dir(dataset: Path, name: str) -> Path:
    """Side folder ``name`` of a dataset (``side_dir(out, "dropped")`` -> ``out/__dropped``)."""
    return Path(dataset) / side_name(name)


def legacy_name(name: str) -> str | None:
    """The name an older webtext gave a side folder (before the ``__`` prefix), or None."""
    return name[len(SIDE_PREFIX):] if name.startswith(SIDE_PREFIX) else None


STATS_DIR = side_name("stats")


def part_name(index: int, suffix: str = ".parquet") -> str:
    """Name of a main-table shard: ``part-00042.parquet``."""
    return f"part-{index:05d}{suffix}"


def stats_path(dataset: Path, index: int) -> Path:
    """Per-shard stats file; it doubles as the shard's completion marker."""
    return Path(dataset) / STATS_DIR / f"{index:05d}.json"


def manifest_path(dataset: Path) -> Path:
    return Path(dataset) / MANIFEST


_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_ACCESS = {errno.EACCES, errno.EPERM, errno.EROFS}
# How libraries word a failed write when they drop the errno: pyarrow ("[errno 28] No space left on device",
# "Error writing bytes to file"), numpy's tofile ("N requested and M written"), a short write.
_SPACE_WORDS = ("no space left", "errno 28", "disk quota", "requested and", "file too large")
_ACCESS_WORDS = ("permission denied", "errno 13", "read-only file system", "errno 30")


def write_error(exc: BaseException, path: Path, needed: int | None = None, written: int | None = None
                ) -> WriteError | None:
    """The ``WriteError`` for ``exc`` if it is a failed write of ``path`` (out of space, quota, permission,
    read-only), else None. ``needed``: the bytes the write needed, if known; ``written``: those written
    before it failed (the message then says "at least")."""
    if not isinstance(exc, OSError):
        return None
    text = str(exc).lower()
    if exc.errno in _SPACE or any(w in text for w in _SPACE_WORDS):
        if needed is not None:
            amount = f"{needed:,} bytes needed"
        elif written:
            amount = f"at least {written:,} bytes needed ({written:,} written before it failed)"
        else:
            amount = "the bytes needed are unknown"
        free = _free_bytes(Path(path).parent)
        where = f", {free:,} free there" if free is not None else ""
        return WriteError(f"cannot write {path}: no space left on the device ({amount}{where}); free space and "
                          "rerun (finished shards are kept)", path=str(path))
    if exc.errno in _ACCESS or any(w in text for w in _ACCESS_WORDS):
        named = getattr(exc, "filename", None)
        if named is not None and Path(named).parent != Path(path).parent and Path(named) != Path(path).parent:
            return None  # a file elsewhere (an input it read): not this write's fault
        return WriteError(f"cannot write {path}: permission denied or read-only file system; make "
                          f"{Path(path).parent} writable and rerun", path=str(path))
    return None


def _free_bytes(folder: Path) -> int | None:
    import shutil

    for p in (folder, *folder.parents):
        if p.exists():
            with contextlib.suppress(OSError):
                return shutil.disk_usage(p).free
            return None
    return None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def file_stamp(path: Path) -> tuple:
    """(size, mtime_ns) of a file, or (name, size, mtime_ns) of each file of a folder: a cache key for something loaded
    from it once per process (a file rewritten since, always whole and renamed into place, gets a new stamp)."""
    path = Path(path)
    if path.is_dir():
        return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(path.iterdir()))
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@contextlib.contextmanager
def atomic_path(path: Path, needed: int | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place if the block succeeds. A write in the
    block that fails for want of space or permission is a ``WriteError`` naming ``path`` (``needed``: its
    size, if the caller knows it); the temporary is removed either way."""
    path = Path(path)
    tmp = path.with_name(f"{TMP_MARK}{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        faults.hit("before-rename", str(path))
        os.replace(tmp, path)
        faults.hit("after-rename", str(path))
    except OSError as exc:
        err = write_error(exc, path, needed, _size(tmp))
        if err is None:
            raise
        raise err from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path, len(data)) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def remove_temporaries(folder: Path) -> int:
    """Delete temporaries left by a killed run (they are never part of a dataset)."""
    n = 0
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.rglob(f"{TMP_MARK}*"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                n += 1
    return n
