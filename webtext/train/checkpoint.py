"""Checkpoints with ``torch.distributed.checkpoint`` (DCP): ``RUN/step-{N}/``.

A save goes to ``RUN/.tmp-step-{N}/``; when every rank has written its part, rank 0 adds
``webtext-checkpoint.json`` (step, data position, model args, full config, and the size and
sha256 of every file) and renames the folder to ``step-{N}``, so an interrupted save is never
picked up. Loading first checks every file against that record, so nothing is unpickled (DCP
keeps optimizer hyper-parameters as pickled bytes) unless it is byte for byte what we wrote; a
checkpoint that fails the check is refused and the previous one is used. The latest ``keep``
checkpoints are kept.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from webtext.data import file_sha256
from webtext.errors import VerifyError
from webtext.paths import CHECKPOINT_RECORD, atomic_write_bytes

log = logging.getLogger(__name__)

RECORD = CHECKPOINT_RECORD
FORMAT = 1
_STEP = re.compile(r"^step-(\d+)$")


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def checkpoint_dirs(run: Path) -> list[Path]:
    """``step-N`` folders with a record, newest first (temporaries never match)."""
    found = [(int(m.group(1)), p) for p in Path(run).glob("step-*") if (m := _STEP.match(p.name))]
    return [p for _, p in sorted(found, reverse=True) if (p / RECORD).is_file()]


def verify(path: Path) -> dict[str, Any]:
    """The checkpoint's record, after checking every file's size and sha256 against it."""
    path = Path(path)
    try:
        record = json.loads((path / RECORD).read_text())
    except (OSError, ValueError) as exc:
        raise VerifyError(f"{path}: unreadable {RECORD}: {exc}") from exc
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        got = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise VerifyError(f"{path}: checkpoint format {got}, expected {FORMAT}")
    files = record.get("files")
    if not isinstance(files, dict) or not files or not isinstance(record.get("step"), int):
        raise VerifyError(f"{path}: {RECORD} lacks its step or file list")
    listed = set()
    for name, meta in files.items():
        if not isinstance(meta, dict) or not {"bytes", "sha256"} <= set(meta):
            raise VerifyError(f"{path}: {RECORD} entry for {name} is malformed")
        listed.add(name)
        f = path / name
        if not f.is_file() or f.stat().st_size != meta["bytes"]:
            raise VerifyError(f"{f}: missing or not {meta['bytes']} bytes")
        if file_sha256(f)[0] != meta["sha256"]:
            raise VerifyError(f"{f}: sha256 differs from the checkpoint record (corrupt)")
    extra = {p.name for p in path.iterdir()} - listed - {RECORD}
    if extra:
        raise VerifyError(f"{path}: files not in the checkpoint record: {sorted(extra)}")
    return record


def latest_valid(run: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that passes ``verify``; refused ones are logged and skipped."""
    for path in checkpoint_dirs(run):
        try:
            return path, verify(path)
        except VerifyError as exc:
            log.warning("refusing checkpoint %s: %s; trying the previous one", path, exc)
    return None


def save(run: Path, step: int, state: dict[str, Any], record: dict[str, Any], keep: int) -> Path:
    """Save ``state`` (DCP, all ranks) as ``run/step-{step}``; rank 0 writes the record and prunes."""
    import torch.distributed.checkpoint as dcp

    run = Path(run)
    tmp, final = run / f".tmp-step-{step}", run / f"step-{step}"
    if _rank() == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    _barrier()
    dcp.save(state, checkpoint_id=str(tmp))
    _barrier()
    if _rank() == 0:
        files = {}
        for f in sorted(tmp.iterdir()):
            digest, size = file_sha256(f)
            files[f.name] = {"bytes": size, "sha256": digest}
        full = {**record, "format": FORMAT, "step": step, "files": files}
        atomic_write_bytes(tmp / RECORD, json.dumps(full, indent=1, sort_keys=True).encode())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in checkpoint_dirs(run)[max(keep, 1):]:
            shutil.rmtree(old, ignore_errors=True)
        log.info("checkpoint: %s", final)
    _barrier()
    return final


def load(path: Path, state: dict[str, Any]) -> None:
    """Load a verified checkpoint into ``state`` in place (DCP reshards to this world size)."""
    import torch.distributed.checkpoint as dcp

    with warnings.catch_warnings():  # loading without a process group is intended here
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(path))


def load_model_weights(path: Path, model: torch.nn.Module) -> dict[str, Any]:
    """Weights of a checkpoint into a plain (single-process) model; returns the record."""
    record = verify(path)
    state = {"model": model.state_dict()}
    load(path, state)
    model.load_state_dict(state["model"])
    return record
