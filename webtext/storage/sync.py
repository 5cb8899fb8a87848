"""A stage's output on object storage: run into a local staging folder, publish object by object.

Object stores have no rename, so "written to a temporary name and renamed into place" becomes
"written whole as one object, in an order that keeps the contract":

- before anything else changes, a remote ``_manifest.json`` that differs from the local one is
  deleted: from then on the remote folder reads as incomplete;
- every other file goes up first (each object is whole once its upload returns), then each
  shard's stats object (its completion marker) after the files it lists, then remote objects the
  run no longer has are deleted, and ``_manifest.json`` is uploaded last of all;
- a failed or interrupted stage still publishes its finished shards (files, then stats) but no
  manifest, so a rerun anywhere downloads them and skips those shards (resume = the remote
  folder's stats objects); a folder without a manifest is never taken as complete.

The staging folder (``WEBTEXT_STORAGE_CACHE``, default ``~/.cache/webtext/storage``) is a cache:
it is brought to the remote folder's state before the stage runs (remote is the truth).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from pathlib import Path

from webtext.paths import MANIFEST, STATS_DIR, TMP_MARK
from webtext.storage.uris import filesystem, storage_errors, translate
from webtext.writer_lock import LOCK_NAME

log = logging.getLogger(__name__)


def cache_root() -> Path:
    return Path(os.environ.get("WEBTEXT_STORAGE_CACHE") or Path.home() / ".cache" / "webtext" / "storage")


def staging_dir(uri: str, kind: str = "out") -> Path:
    """The node-local folder standing for ``uri`` (stable, so reruns on this node reuse it)."""
    digest = hashlib.sha256(uri.rstrip("/").encode()).hexdigest()[:16]
    # a glob's wildcards left in the folder name would match other cached folders when the glob is expanded
    name = re.sub(r"[*?\[\]]", "_", uri.rstrip("/").rsplit("/", 1)[-1]) or "root"
    return cache_root() / kind / f"{name}-{digest}"


def remote_files(uri: str) -> dict[str, int]:
    """Relative path -> size of every object under ``uri`` (empty when there is none)."""
    import pyarrow.fs as pafs

    fs, root = filesystem(uri)
    try:
        infos = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True, recursive=True))
    except storage_errors() as exc:
        raise translate(uri, exc) from None
    return {rel: i.size for i in infos if i.type == pafs.FileType.File
            and not _is_lease(rel := i.path[len(root):].lstrip("/"))}


def _is_lease(rel: str) -> bool:
    """A writer's lease object (``webtext.writer_lock``): the run's, never the dataset's, so never synced."""
    return rel.rsplit("/", 1)[-1] == LOCK_NAME


def _local_files(folder: Path) -> dict[str, int]:
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(TMP_MARK) and p.name != LOCK_NAME}


def pull(uri: str, local: Path) -> Path:
    """Make ``local`` a copy of the remote folder: fetch what differs, drop what the remote lacks."""
    import pyarrow.fs as pafs

    fs, root = filesystem(uri)
    remote = remote_files(uri)
    have = _local_files(local)
    for rel in set(have) - set(remote):
        (local / rel).unlink()
    small = (MANIFEST, f"{STATS_DIR}/")
    for rel, size in sorted(remote.items()):
        if have.get(rel) == size and not rel.startswith(small):
            continue  # a big file this cache already holds whole (same size); manifest and stats always fetched
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            pafs.copy_files(f"{root}/{rel}", str(local / rel), source_filesystem=fs,
                            destination_filesystem=pafs.LocalFileSystem())
        except storage_errors() as exc:
            raise translate(f"{uri.rstrip('/')}/{rel}", exc) from None
    local.mkdir(parents=True, exist_ok=True)
    return local


def _order(rel: str) -> int:
    """Upload order: data files, then stats (completion markers), the manifest last."""
    if rel == MANIFEST:
        return 2
    return 1 if rel.startswith(f"{STATS_DIR}/") else 0


def push(local: Path, uri: str) -> None:
    """Publish ``local`` to ``uri`` in the contract's order (module docstring)."""
    import pyarrow.fs as pafs

    fs, root = filesystem(uri)
    remote = remote_files(uri)
    have = _local_files(local)
    try:
        if MANIFEST in remote and (MANIFEST not in have or _remote_bytes(fs, f"{root}/{MANIFEST}")
                                   != (local / MANIFEST).read_bytes()):
            fs.delete_file(f"{root}/{MANIFEST}")
            remote.pop(MANIFEST)
        for rel in sorted(have, key=lambda r: (_order(r), r)):
            if _order(rel) == 0 and remote.get(rel) == have[rel]:
                continue  # already there whole (pulled, or pushed by an earlier attempt)
            if rel == MANIFEST:
                for gone in sorted(set(remote) - set(have)):  # output of an older config, now cleared
                    fs.delete_file(f"{root}/{gone}")
            pafs.copy_files(str(local / rel), f"{root}/{rel}", source_filesystem=pafs.LocalFileSystem(),
                            destination_filesystem=fs)
    except storage_errors() as exc:
        raise translate(uri, exc) from None
    log.info("published %s to %s (%d files)", local, uri, len(have))


def _remote_bytes(fs, path: str) -> bytes:
    with fs.open_input_stream(path) as f:
        return f.read()


def clear_staging(local: Path) -> None:
    shutil.rmtree(local, ignore_errors=True)
