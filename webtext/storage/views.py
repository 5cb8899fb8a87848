"""Remote inputs as local files: every ``s3://``/``gs://`` value in a stage's config is fetched into
the node-local cache (``WEBTEXT_STORAGE_CACHE``) and replaced by its local copy, so the existing
readers (pyarrow.parquet, memory-mapped token shards, tokenizer files) keep working unchanged.

A value is fetched whole: a dataset folder with its manifest, a single file, or the files a glob
matches (``*``, ``?`` and ``[...]`` within one path component, as ``glob.glob`` without
``recursive``). ``file://`` values become plain paths. Config fields are found by value, not by
name, so this module knows no stage; a URI inside a value (``quiz=lines:s3://...``) is fetched when
the stage declares it among its static inputs (``StageSpec.static_inputs``), and replaced in place.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import glob
from collections.abc import Iterable
from typing import Any

from webtext.storage.sync import pull, remote_files, staging_dir
from webtext.storage.uris import (
    StorageError,
    filesystem,
    is_remote,
    local_path,
    scheme_of,
    storage_errors,
    translate,
)


def fetch(uri: str) -> str:
    """The local path of a copy of ``uri`` (a file or a folder)."""
    import pyarrow.fs as pafs

    if not is_remote(uri):
        return str(local_path(uri)) if scheme_of(uri) == "file" else uri
    if glob.has_magic(uri.split("://", 1)[1]):
        return _fetch_glob(uri)
    fs, path = filesystem(uri)
    try:
        info = fs.get_file_info(path)
    except storage_errors() as exc:
        raise translate(uri, exc) from None
    local = staging_dir(uri, kind="in")
    if info.type == pafs.FileType.File:
        target = local / path.rsplit("/", 1)[-1]
        if not target.is_file() or target.stat().st_size != info.size:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                pafs.copy_files(path, str(target), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
            except storage_errors() as exc:
                raise translate(uri, exc) from None
        return str(target)
    if not remote_files(uri):
        raise StorageError(uri, "nothing there; check the URI (or run the stage that writes it first)")
    # under its own name, so what records a name (token shards' tokenizer_source) is as on local paths
    return str(pull(uri, local / (path.rsplit("/", 1)[-1] or "root")))


def _split_glob(uri: str) -> tuple[str, list[str]]:
    """(the folder above the first component with a wildcard, the pattern's components from there)."""
    scheme, rest = uri.split("://", 1)
    parts = rest.strip("/").split("/")
    first = next(i for i, p in enumerate(parts) if glob.has_magic(p))
    return f"{scheme}://{'/'.join(parts[:first])}", parts[first:]


def matches(uri: str) -> dict[str, int]:
    """Relative path (to the folder above the first wildcard) -> size of every object a glob URI matches."""
    base, pattern = _split_glob(uri)
    found = {}
    for rel, size in remote_files(base).items():
        parts = rel.split("/")
        if len(parts) == len(pattern) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern, strict=True)):
            found[rel] = size
    return found


def _fetch_glob(uri: str) -> str:
    """Fetch the objects a glob matches (only those) and return the same glob over their local copies."""
    import pyarrow.fs as pafs

    base, pattern = _split_glob(uri)
    found = matches(uri)
    if not found:
        raise StorageError(uri, "nothing matches; check the pattern (or run the stage that writes it first)")
    fs, root = filesystem(base)
    local = staging_dir(uri, kind="in")
    if local.is_dir():  # files an earlier fetch matched that the remote no longer has would match again
        for old in [p for p in local.rglob("*") if p.is_file() and str(p.relative_to(local)) not in found]:
            old.unlink()
    for rel, size in sorted(found.items()):
        target = local / rel
        if target.is_file() and target.stat().st_size == size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            pafs.copy_files(f"{root}/{rel}", str(target), source_filesystem=fs,
                            destination_filesystem=pafs.LocalFileSystem())
        except storage_errors() as exc:
            raise translate(f"{base}/{rel}", exc) from None
    return str(local.joinpath(*pattern))


def localise(cfg: Any, embedded: Iterable[str] = ()) -> Any:
    """``cfg`` (a config dataclass) with every remote or ``file://`` string value replaced by a local path,
    and each remote URI of ``embedded`` found inside a value (a ``NAME=lines:URI`` spec) by its local copy."""
    inside = sorted({u for u in embedded if is_remote(u)}, key=len, reverse=True)  # longest first: no prefix clash
    fetched: dict[str, str] = {}

    def get(uri: str) -> str:
        if uri not in fetched:
            fetched[uri] = fetch(uri)
        return fetched[uri]

    def local(value: str) -> str:
        if scheme_of(value) in ("s3", "gs", "gcs", "file"):
            return get(value)
        uri = next((u for u in inside if u in value), None)
        return value.replace(uri, get(uri)) if uri else value

    changes: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, str) and "://" in value:
            changes[f.name] = local(value)
        elif isinstance(value, list) and any(isinstance(v, str) and "://" in v for v in value):
            changes[f.name] = [local(v) if isinstance(v, str) else v for v in value]
    return dataclasses.replace(cfg, **changes) if changes else cfg
