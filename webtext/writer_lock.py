"""One writer per output folder: a run holds ``<out>/__lock`` from its start to its end.

Two runs on one ``--out`` would interleave their shards and manifests (the last manifest wins
while the other run reports its own counts: a lost update), so the second is refused with the
holder's pid, host and start time. On local disk the lock is an ``flock``ed file holding that
record as JSON; the kernel releases it when its process dies however it dies, so a lock file
left by a killed run is stale: the next run takes it over and says whose it was. The file is
removed at the end of a run.

The lock is re-entrant within a process and covers the folder's subfolders: a stage's passes
(``run_stage`` on ``<out>/__partitions``...) run under the lock its entry point took. Under
torchrun every rank runs the entry point: rank 0 holds the lock, the other ranks run under it.

Object storage (a path with ``://``) has no ``flock``: ``_object_store_lease`` is where a lease
object with an expiry belongs; until then such outputs are not locked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from webtext.errors import FatalError
from webtext.paths import side_name

log = logging.getLogger(__name__)

LOCK_NAME = side_name("lock")
_held: dict[Path, int] = {}  # folder -> fd of its lock file, for the folders this process holds


class OutputBusyError(FatalError):
    """Another run is writing the output folder."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(record: dict[str, Any]) -> str:
    return (f"pid {record.get('pid', '?')} on {record.get('host', '?')}, started {record.get('started', '?')}"
            f"{', ' + record['what'] if record.get('what') else ''}")


def _read(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    try:
        record = json.loads(data)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _acquire(path: Path, what: str) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise OutputBusyError(f"{path.parent} is being written by another run ({_describe(holder)}); wait for "
                                  f"it to end or choose another --out (lock file: {path})") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed the file between our open and our flock: lock the new one
            os.close(fd)
            continue
        previous = _read(fd)
        if previous:
            alive = previous.get("host") == socket.gethostname() and _pid_alive(int(previous.get("pid", 0)))
            log.warning("%s: taking over the lock of a run that ended without releasing it (%s%s)", path.parent,
                        _describe(previous), "; that pid is now another process" if alive else "")
        record = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                  "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        return fd


@contextlib.contextmanager
def _object_store_lease(uri: str, what: str) -> Iterator[None]:
    """Extension point: a lease object (holder, expiry, renewed while the run lives) for ``uri``.
    Object storage outputs are not locked yet."""
    log.debug("%s: object storage output, not locked against a second writer (%s)", uri, what)
    yield


@contextlib.contextmanager
def writer_lock(out: Path | str, what: str = "") -> Iterator[None]:
    """Hold ``out``'s writer lock for the block; raise ``OutputBusyError`` if another run holds it.
    ``what`` (e.g. the stage's name) goes into the record a refused run prints."""
    if os.environ.get("RANK", "0") != "0":
        yield  # one rank of a distributed launch (torchrun): rank 0 holds the lock for the whole run
        return
    if "://" in str(out):
        with _object_store_lease(str(out), what):
            yield
        return
    folder = Path(out).resolve()
    if any(folder == held or held in folder.parents for held in _held):
        yield  # this process already writes it (or a folder above it)
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    fd = _acquire(path, what)
    _held[folder] = fd
    try:
        yield
    finally:
        del _held[folder]
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # before the unlock: a waiting open() then finds it gone and locks a new file
        os.close(fd)
