"""Remote inputs as local files: every ``s3://``/``gs://`` value in a stage's config is fetched into
the node-local cache (``WEBTEXT_STORAGE_CACHE``) and replaced by its local copy, so the existing
readers (pyarrow.parquet, memory-mapped token shards, tokenizer files) keep working unchanged.

A value is fetched whole: a dataset folder with its manifest, a single file, or a glob's folder.
``file://`` values become plain paths. Config fields are found by value, not by name, so this
module knows no stage.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from webtext.storage.sync import pull, remote_files, staging_dir
from webtext.storage.uris import StorageError, filesystem, is_remote, local_path, scheme_of, translate


def fetch(uri: str) -> str:
    """The local path of a copy of ``uri`` (a file or a folder)."""
    import pyarrow.fs as pafs

    if not is_remote(uri):
        return str(local_path(uri)) if scheme_of(uri) == "file" else uri
    fs, path = filesystem(uri)
    try:
        info = fs.get_file_info(path)
    except OSError as exc:
        raise translate(uri, exc) from None
    local = staging_dir(uri, kind="in")
    if info.type == pafs.FileType.File:
        target = local / path.rsplit("/", 1)[-1]
        if not target.is_file() or target.stat().st_size != info.size:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                pafs.copy_files(path, str(target), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())
            except OSError as exc:
                raise translate(uri, exc) from None
        return str(target)
    if not remote_files(uri):
        raise StorageError(uri, "nothing there; check the URI (or run the stage that writes it first)")
    # under its own name, so what records a name (token shards' tokenizer_source) is as on local paths
    return str(pull(uri, local / (path.rsplit("/", 1)[-1] or "root")))


def localise(cfg: Any) -> Any:
    """``cfg`` (a config dataclass) with every remote or ``file://`` string value replaced by a local path."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, str) and scheme_of(value) in ("s3", "gs", "gcs", "file"):
            changes[f.name] = fetch(value)
        elif isinstance(value, list) and any(isinstance(v, str) and "://" in v for v in value):
            changes[f.name] = [fetch(v) if isinstance(v, str) else v for v in value]
    return dataclasses.replace(cfg, **changes) if changes else cfg
