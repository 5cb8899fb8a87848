"""Run one stage (or one pass of a multi-pass stage) under the dataset contract.

- The stage's *fingerprint* is a digest of its name, resolved config and input identities.
- A folder whose manifest carries the same fingerprint is complete: the stage is skipped.
- Otherwise shards whose stats file (their completion marker) carries the fingerprint, and whose
  files are still there with the recorded sizes, are skipped; the rest run on the runner.
- Output left by a different config or input is removed first (only files named by the
  contract: ``part-*``, ``__stats/``, the manifest and the stage's own side folders).
- A folder written with the older side-folder names (``stats/``, ``dropped/``, ... before the
  ``__`` prefix of ``webtext.paths.side_dir``) is redone whole, old names removed: the two
  layouts are never mixed. Where ``stats/`` is the only old name (a stage without side folders
  of its own, e.g. tokenize), it is moved to ``__stats/`` instead: no file the manifest lists
  moves, so the folder is then exactly what this version writes and nothing is redone.
- If any shard fails, the others still finish, no manifest is written and StageFailedError says
  which shards failed and why.
- ``redo_if(record)`` marks finished shards to run again (e.g. extract's pages whose child
  crashed): a complete folder holding one loses its manifest and only those shards are redone.
  So does a complete folder where a listed file is missing or has another size (deleted or
  truncated after the run); a same-size corruption is ``verify``'s to find (sha256).
- The whole run holds the folder's writer lock (``webtext.writer_lock``): a second run is refused.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from webtext.data import Manifest, manifest_digest, merge_counts
from webtext.errors import StageFailedError
from webtext.paths import MANIFEST, STATS_DIR, legacy_name, remove_temporaries, stats_path
from webtext.runner.base import Runner, ShardFn, ShardTask, execute_shard
from webtext.writer_lock import writer_lock

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")


def fingerprint_of(stage: str, config: dict[str, Any], inputs: list[dict[str, Any]]) -> str:
    blob = json.dumps({"stage": stage, "config": config, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def input_identity(path: Path) -> dict[str, Any]:
    """How a stage records an input: a dataset by its manifest digest, a file by size and mtime. A file of (or
    a folder that is) a dataset whose stage did not finish, read with ``--allow-incomplete``, says so."""
    from webtext.inputs import is_incomplete_dataset

    path = Path(path).resolve()
    if (path / MANIFEST).exists():
        return {"path": str(path), "manifest_sha256": manifest_digest(path)}
    st = path.stat()
    identity: dict[str, Any] = {"path": str(path), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    if is_incomplete_dataset(path) or is_incomplete_dataset(path.parent):
        identity["incomplete"] = True  # read with --allow-incomplete: no manifest vouched for it
    return identity


def _read_stats(dataset: Path, index: int) -> dict[str, Any] | None:
    path = stats_path(dataset, index)
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def _files_there(dataset: Path, record: dict[str, Any]) -> bool:
    """Every file the shard's record lists exists with its recorded size (a cheap check: no hashing)."""
    for f in record["files"]:
        p = dataset / f["path"]
        if not p.exists() or p.stat().st_size != f["bytes"]:
            return False
    return True


def _shard_done(dataset: Path, record: dict[str, Any] | None, fingerprint: str) -> bool:
    if not record or record.get("fingerprint") != fingerprint:
        return False
    return _files_there(dataset, record)


def _legacy(side_dirs: Sequence[str], parts: Sequence[str]) -> list[str]:
    """Pre-``__`` spellings of this stage's stats, side and pass folders (patterns)."""
    return [old for p in (STATS_DIR, *side_dirs, *parts) if (old := legacy_name(p)) is not None]


def _legacy_found(dataset: Path, legacy: Sequence[str]) -> list[str]:
    return sorted({p.name for pattern in legacy for p in dataset.glob(pattern)})


def _clear(dataset: Path, side_dirs: Sequence[str], legacy: Sequence[str]) -> None:
    for p in dataset.glob("part-*"):
        p.unlink()
    # The stage's current pass folders (``parts``) are left alone: each is its own dataset.
    for pattern in (STATS_DIR, *side_dirs, *legacy):
        for path in dataset.glob(pattern):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    (dataset / MANIFEST).unlink(missing_ok=True)


def _stale(dataset: Path, fingerprint: str, manifest: Manifest | None) -> bool:
    if manifest is not None:
        return manifest.fingerprint != fingerprint
    stats = dataset / STATS_DIR
    if not stats.is_dir():
        return any(dataset.glob("part-*"))
    for p in stats.glob("*.json"):
        try:
            if json.loads(p.read_text()).get("fingerprint") != fingerprint:
                return True
        except ValueError:
            return True
    return False


def _holding_writer_lock(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` run under its ``dataset`` folder's writer lock (a second run on the folder is refused)."""

    @functools.wraps(fn)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with writer_lock(Path(str(kwargs["dataset"])), str(kwargs["stage"])):
            return fn(*args, **kwargs)

    return locked


@_holding_writer_lock
def run_stage(
    *,
    stage: str,
    dataset: Path,
    config: dict[str, Any],
    inputs: list[dict[str, Any]],
    tasks: Sequence[ShardTask],
    shard_fn: ShardFn,
    runner: Runner,
    parts: Sequence[str] = (),
    side_dirs: Sequence[str] = (),  # glob patterns of the stage's own side files and folders (side_name(...))
    extra_stats: dict[str, Any] | None = None,
    redo_if: Callable[[dict[str, Any]], bool] | None = None,  # a finished shard's record -> run it again?
) -> Manifest:
    """Run ``shard_fn`` over ``tasks`` into ``dataset``; return its manifest (new or existing)."""
    dataset = Path(dataset)
    fingerprint = fingerprint_of(stage, config, inputs)
    existing = Manifest.read(dataset)
    legacy = _legacy(side_dirs, parts)
    old_names = _legacy_found(dataset, legacy)
    old_stats = dataset / str(legacy_name(STATS_DIR))
    if old_names == [old_stats.name] and old_stats.is_dir() and not (dataset / STATS_DIR).exists():
        # Stats files are completion markers, never listed in the manifest: moving them is exact.
        log.info("%s: moving %s to %s (the current layout of %s)", stage, old_stats.name, STATS_DIR, dataset)
        old_stats.rename(dataset / STATS_DIR)
        old_names = []
    if old_names:
        log.warning("%s: %s was written by an older webtext (folders %s, now prefixed with __); redoing the stage",
                    stage, dataset, ", ".join(f"{n}/" for n in old_names))
        _clear(dataset, side_dirs, legacy)
        existing = None
    elif existing is not None and existing.fingerprint == fingerprint:
        lost = [s["index"] for s in existing.shards if not _files_there(dataset, s)]
        redo = [s["index"] for s in existing.shards if redo_if is not None and redo_if(s)]
        if not lost and not redo:
            log.info("%s: already complete in %s (same config and inputs); skipping", stage, dataset)
            return existing
        if lost:
            log.warning("%s: files of shard(s) %s in %s are missing or have changed size since the manifest was "
                        "written; redoing them", stage, ", ".join(f"{i:05d}" for i in lost), dataset)
        if redo:
            log.info("%s: %d finished shard(s) in %s are marked to run again; redoing them", stage, len(redo),
                     dataset)
        # The folder is incomplete again until those shards are redone: the manifest goes first.
        (dataset / MANIFEST).unlink()
    elif _stale(dataset, fingerprint, existing):
        log.info("%s: config or inputs changed since %s was written; redoing the stage", stage, dataset)
        _clear(dataset, side_dirs, legacy)
    dataset.mkdir(parents=True, exist_ok=True)
    remove_temporaries(dataset)

    records: dict[int, dict[str, Any]] = {}
    todo: list[ShardTask] = []
    for task in tasks:
        record = _read_stats(dataset, task.index)
        if _shard_done(dataset, record, fingerprint) and not (redo_if is not None and redo_if(record or {})):
            assert record is not None
            records[task.index] = record
        else:
            todo.append(task)
    if records:
        log.info("%s: %d of %d shards already done; skipping them", stage, len(records), len(tasks))

    start = time.perf_counter()
    retries = 0
    if todo:
        fn = functools.partial(execute_shard, shard_fn, dataset, fingerprint, stage=stage)
        results, failures = runner.run(fn, todo, description=stage)
        retries = sum(runner.retries.values())
        if retries:  # a lost attempt may have left temporaries; every task has ended, none is writing
            remove_temporaries(dataset)
        if failures:
            raise StageFailedError(stage, failures)
        records.update(results)
    shards = [records[t.index] for t in sorted(tasks, key=lambda t: t.index)]
    stats = merge_counts(r["counts"] for r in shards)
    stats["shards"] = len(shards)
    stats["wall_seconds"] = round(time.perf_counter() - start, 3)
    stats["retries"] = retries  # shards run again in this run (transient errors, lost workers or nodes)
    if extra_stats:
        stats.update(extra_stats)
    manifest = Manifest(
        stage=stage,
        fingerprint=fingerprint,
        config=config,
        inputs=inputs,
        shards=[
            {"index": r["index"], "label": r["label"], "files": r["files"], "counts": r["counts"],
             "seconds": r["seconds"]}
            for r in shards
        ],
        stats=stats,
        parts=list(parts),
    )
    manifest.write(dataset)
    log.info("%s: wrote %s (%d shards%s)", stage, dataset / MANIFEST, len(shards),
             f", {retries} retried" if retries else "")
    return manifest
