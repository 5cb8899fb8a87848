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

Object storage (``s3://``, ``gs://``) has no ``flock`` and no process death to release one: there
the lock is a **lease object** ``<uri>/__lock`` holding the same record plus a random token and an
expiry (``LEASE_SECONDS`` ahead), renewed by a daemon thread every ``RENEW_S`` while the run lives
and deleted at its end. A live lease refuses a second run (``OutputBusyError`` naming its holder);
an expired one (its run was killed, or lost its network for longer than the lease) is taken over
with a warning. pyarrow.fs has no conditional put (S3's ``If-None-Match: *``), so a lease is taken
by writing it, waiting ``SETTLE_S`` and reading it back: of two runs that write within that window,
the one whose record was overwritten is refused. The race left open is two runs whose check and write
are more than ``SETTLE_S`` apart (a stalled upload): both would read back their own record. Expiry
is judged by the reader's clock against the writer's, so clocks must agree to well under a lease.
A run that finds, on renewing, that another run took its lease over fails at its end. The lease is
never part of the dataset (``webtext.storage.sync`` neither lists nor copies it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from webtext.errors import FatalError
from webtext.paths import side_name

log = logging.getLogger(__name__)

LOCK_NAME = side_name("lock")
_held: dict[Path, int] = {}  # folder -> fd of its lock file, for the folders this process holds
_leased: set[str] = set()  # the object-storage folders this process holds a lease on

LEASE_SECONDS = 120.0  # a lease not renewed for this long belongs to a dead run: the next run takes it over
RENEW_S = LEASE_SECONDS / 4  # renewed well before expiry: three renewals may fail (network) before it lapses
SETTLE_S = 2.0  # between writing a lease and reading it back: a racing run's write lands inside this window


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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _expired(record: dict[str, Any]) -> bool:
    """A lease whose expiry has passed, or that cannot be read as one (objects are written whole: not a torn write)."""
    try:
        return dt.datetime.fromisoformat(str(record["expires"])) <= _now()
    except (KeyError, ValueError):
        return True


class Lease:
    """The lease object ``<uri>/__lock`` of one run (module docstring): ``acquire``, ``renew``, ``release``."""

    def __init__(self, uri: str, what: str) -> None:
        from webtext.storage.uris import filesystem, join

        self.uri = uri.rstrip("/")
        self.object = join(self.uri, LOCK_NAME)
        self.fs, self.path = filesystem(self.object)
        self.record: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                       "started": _now().isoformat(timespec="seconds"), "token": uuid.uuid4().hex}
        self.lost: dict[str, Any] | None = None  # the record found in its place once another run took it over
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self) -> dict[str, Any] | None:
        """The lease object's record; None when there is none."""
        import pyarrow.fs as pafs

        from webtext.storage.uris import storage_errors, translate

        try:
            if self.fs.get_file_info(self.path).type == pafs.FileType.NotFound:
                return None
            with self.fs.open_input_stream(self.path) as f:
                data = f.read()
        except FileNotFoundError:
            return None  # released between the two calls
        except storage_errors() as exc:
            raise translate(self.object, exc) from None
        try:
            record = json.loads(data)
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}

    def _write(self) -> None:
        from webtext.storage.uris import storage_errors, translate

        self.record["expires"] = (_now() + dt.timedelta(seconds=LEASE_SECONDS)).isoformat(timespec="seconds")
        try:
            with self.fs.open_output_stream(self.path) as f:
                f.write(json.dumps(self.record).encode())
        except storage_errors() as exc:
            raise translate(self.object, exc) from None

    def _ours(self, record: dict[str, Any] | None) -> bool:
        return record is not None and record.get("token") == self.record["token"]

    def _busy(self, holder: dict[str, Any]) -> OutputBusyError:
        return OutputBusyError(f"{self.uri} is being written by another run ({_describe(holder)}; its lease expires "
                               f"{holder.get('expires', '?')}); wait for it to end or choose another --out (lease "
                               f"object: {self.object})")

    def acquire(self) -> None:
        holder = self.read()
        if holder is not None:
            if not _expired(holder):
                raise self._busy(holder)
            log.warning("%s: taking over the expired lease of a run that ended without releasing it (%s)",
                        self.uri, _describe(holder))
        self._write()
        _settle()
        holder = self.read()
        if not self._ours(holder):  # another run wrote its lease after ours: it holds the folder
            raise self._busy(holder or {})
        self._thread = threading.Thread(target=self._renew_until_stopped, name=f"lease {self.uri}", daemon=True)
        self._thread.start()

    def renew(self) -> bool:
        """Push the expiry ``LEASE_SECONDS`` ahead; False (and ``lost`` set) if another run holds the lease now."""
        holder = self.read()
        if not self._ours(holder):
            self.lost = holder or {}
            log.error("%s: another run took over this run's lease (%s); this run's output may be mixed with "
                      "its", self.uri, _describe(self.lost))
            return False
        self._write()
        return True

    def _renew_until_stopped(self) -> None:
        from webtext.storage.uris import StorageError

        while not self._stop.wait(RENEW_S):
            try:
                if not self.renew():
                    return
            except StorageError as exc:  # the next renewal may succeed before the lease lapses
                log.warning("%s: could not renew the lease: %s", self.uri, exc)

    def release(self) -> None:
        """Stop renewing and delete the lease object if it is still ours (else ``lost`` says whose it is)."""
        from webtext.storage.uris import storage_errors, translate

        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        holder = self.read() if self.lost is None else self.lost
        if not self._ours(holder):  # taken over since the last renewal: that run's lease stays
            self.lost = holder or {}
        else:
            try:
                self.fs.delete_file(self.path)
            except storage_errors() as exc:
                raise translate(self.object, exc) from None


def _settle() -> None:
    time.sleep(SETTLE_S)


@contextlib.contextmanager
def _object_store_lease(uri: str, what: str) -> Iterator[None]:
    """Hold ``uri``'s lease object for the block (module docstring)."""
    uri = uri.rstrip("/")
    if any(uri == held or uri.startswith(held + "/") for held in _leased):
        yield  # this process already writes it (or a folder above it)
        return
    lease = Lease(uri, what)
    lease.acquire()
    _leased.add(uri)
    try:
        yield
    finally:
        _leased.discard(uri)
        lease.release()
    if lease.lost is not None:
        raise OutputBusyError(f"{uri}: another run took over this run's lease while it ran ({_describe(lease.lost)}); "
                              "the folder may hold output of both: run one of them again, alone")


@contextlib.contextmanager
def writer_lock(out: Path | str, what: str = "") -> Iterator[None]:
    """Hold ``out``'s writer lock for the block; raise ``OutputBusyError`` if another run holds it.
    ``what`` (e.g. the stage's name) goes into the record a refused run prints."""
    if os.environ.get("RANK", "0") != "0":
        yield  # one rank of a distributed launch (torchrun): rank 0 holds the lock for the whole run
        return
    from webtext.storage.uris import is_remote, local_path

    if is_remote(out):
        with _object_store_lease(str(out), what):
            yield
        return
    folder = local_path(out).resolve()  # a file:// URI is a local path
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
