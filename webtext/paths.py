"""Dataset folder layout (DESIGN.md, "Data contracts") and atomic file writes.

A dataset folder's main table is its ``part-*`` files; everything else in it (per-shard stats,
side data, raw files, a multi-pass stage's intermediate passes) lives in a folder whose name
starts with ``__`` (``side_dir``), and the manifest is ``_manifest.json``. pyarrow, pandas and
``datasets.load_dataset`` all skip such names, so each of them reads the folder as the main table.

Every file is written under a temporary name in its final folder and renamed into place once
complete, so a reader (or a rerun) never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from webtext import faults

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


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it into place if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_MARK}{uuid.uuid4().hex[:12]}-{path.name}")
    try:
        yield tmp
        faults.hit("before-rename", str(path))
        os.replace(tmp, path)
        faults.hit("after-rename", str(path))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
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
