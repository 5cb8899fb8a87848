"""Checkpoints with ``torch.distributed.checkpoint`` (DCP): ``RUN/step-{N}/``.

A save goes to ``RUN/.tmp-step-{N}/``; when every rank has written its part, rank 0 adds
``webtext-checkpoint.json`` (step, data position, model args, full config, and the size and
sha256 of every file) and renames the folder to ``step-{N}``, so an interrupted save is never
picked up. Loading first checks every file against that record, so nothing is unpickled (DCP
keeps optimizer hyper-parameters as pickled bytes) unless it is byte for byte what we wrote; a
checkpoint that fails the check is refused and the previous one is used. The latest ``keep``
checkpoints are kept. A save that runs out of space (or permission) is a ``WriteError`` naming the
checkpoint and about the bytes it needs; its temporary folder is removed.
"""

from __future__ import annotations

import errno
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

from webtext import faults
from webtext.data import file_sha256
from webtext.errors import VerifyError, WriteError
from webtext.paths import CHECKPOINT_RECORD, atomic_write_bytes, write_error

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
    try:
        dcp.save(state, checkpoint_id=str(tmp))
    except Exception as exc:
        err = save_error(exc, final, state_bytes(state))
        if err is None:
            raise
        if _rank() == 0:  # what was half written goes (it frees the space); the previous checkpoint stays
            shutil.rmtree(tmp, ignore_errors=True)
        raise err from exc
    _barrier()
    if _rank() == 0:
        files = {}
        for f in sorted(tmp.iterdir()):
            digest, size = file_sha256(f)
            files[f.name] = {"bytes": size, "sha256": digest}
        full = {**record, "format": FORMAT, "step": step, "files": files}
        text = json.dumps(full, indent=1, sort_keys=True).encode()
        try:
            atomic_write_bytes(tmp / RECORD, text)
        except WriteError as exc:  # named as the checkpoint it completes, with how to go on (--resume)
            shutil.rmtree(tmp, ignore_errors=True)
            raise (save_error(exc, final, len(text)) or exc) from exc
        if final.exists():
            shutil.rmtree(final)
        faults.hit("before-rename", str(final))
        os.replace(tmp, final)
        faults.hit("after-rename", str(final))
        for old in checkpoint_dirs(run)[max(keep, 1):]:
            shutil.rmtree(old, ignore_errors=True)
        log.info("checkpoint: %s", final)
    _barrier()
    return final


def state_bytes(state: Any) -> int:
    """Bytes of the tensors in a (nested) state dict: about what a checkpoint of it takes on disk."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size()
    if isinstance(state, dict):
        return sum(state_bytes(v) for v in state.values())
    if isinstance(state, list | tuple):
        return sum(state_bytes(v) for v in state)
    to_dict = getattr(state, "state_dict", None)  # a Stateful (model/optimizer wrapper) holds its tensors there
    return state_bytes(to_dict()) if callable(to_dict) else 0


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, what it was raised from, and every rank's failure a DCP ``CheckpointException`` carries."""
    found, todo = [], [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is f for f in found):
            continue
        found.append(e)
        todo += [e.__cause__, e.__context__]  # type: ignore[list-item]
        for failure in (getattr(e, "failures", None) or {}).values():
            todo.append(failure[0] if isinstance(failure, tuple) else failure)
    return [e for e in found if isinstance(e, BaseException)]


def save_error(exc: BaseException, final: Path, needed: int) -> WriteError | None:
    """The WriteError for a checkpoint save that failed for want of space or permission, else None. torch's
    zip writer reports a short write as ``unexpected pos A vs B``: the device filled up under it."""
    for cause in _causes(exc):
        if isinstance(cause, RuntimeError) and ("unexpected pos" in str(cause) or "write failed" in str(cause)):
            cause = OSError(errno.ENOSPC, f"short write ({cause})")
        err = write_error(cause, final, needed=needed)
        if err is not None:
            return WriteError(f"checkpoint {final.name}: {err} (the previous checkpoint is intact: rerun with "
                              "--resume)", path=str(final))
    return None


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
