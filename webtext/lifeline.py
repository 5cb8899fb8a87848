"""Child processes that die with their parent: no SIGKILL of a driver leaves a crawler or an
extraction child running beside the rerun.

The parent starts the child with ``popen`` (a ``subprocess.Popen`` plus a ``Lifeline``) and the
child calls ``hold()`` first thing. Two mechanisms, because neither covers every case alone:

- Linux's ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the child the moment its parent
  dies, whatever the child is doing (deep in lxml, blocked in the reactor). It fires when the
  parent *thread* that spawned the child ends, so it is only set when that thread is the main one.
- a pipe whose write end only the parent holds: a watcher thread in the child reads it and kills
  the process at end-of-file, which comes when the parent dies (any OS, any spawning thread) or
  cuts the line. It needs the GIL, so it can lag behind a C call that holds it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from typing import Any

ENV = "WEBTEXT_LIFELINE"  # "<read fd>:<parent pid>:<1 if spawned from the parent's main thread>"
_PR_SET_PDEATHSIG = 1


class Lifeline:
    """The parent's end: a pipe the child watches. ``cut()`` once the child has ended."""

    def __init__(self) -> None:
        self.read_fd, self._write_fd = os.pipe()  # both non-inheritable: only pass_fds hands one on
        main = threading.current_thread() is threading.main_thread()
        self.env = {ENV: f"{self.read_fd}:{os.getpid()}:{int(main)}"}

    def started(self) -> None:
        """The child has its copy of the read end: close ours, so the child sees EOF only through us."""
        with contextlib.suppress(OSError):
            os.close(self.read_fd)

    def cut(self) -> None:
        """Close the write end (idempotent): a child still alive kills itself."""
        if self._write_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._write_fd)
            self._write_fd = -1


def popen(args: list[str], *, pass_fds: tuple[int, ...] = (), env: dict[str, str] | None = None,
          **kwargs: Any) -> tuple[subprocess.Popen[bytes], Lifeline]:
    """``subprocess.Popen`` of a child that calls ``hold()``; returns it with its lifeline."""
    line = Lifeline()
    try:
        proc = subprocess.Popen(args, pass_fds=(*pass_fds, line.read_fd),
                                env={**(os.environ if env is None else env), **line.env}, **kwargs)
    except BaseException:
        line.started()
        line.cut()
        raise
    line.started()
    return proc, line


def _set_pdeathsig() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 1):
            pass
    os.kill(os.getpid(), signal.SIGKILL)  # the parent is gone: so is this process, mid-work or not


def hold() -> None:
    """In the child: die when the parent dies. No-op when not started by ``popen``."""
    spec = os.environ.pop(ENV, None)  # popped: a grandchild must not watch a pipe that is not its own
    if not spec:
        return
    fd, parent, main = (int(x) for x in spec.split(":"))
    if main:
        _set_pdeathsig()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os.kill(os.getpid(), signal.SIGKILL)
    threading.Thread(target=_watch, args=(fd,), name="webtext-lifeline", daemon=True).start()
