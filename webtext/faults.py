"""Fault injection for the fault suite (``tests/faults/``): a process harms itself at a named point.

``WEBTEXT_FAULT=<action>:<point>:<pattern>`` arms one fault. ``action`` is ``kill`` (SIGKILL this
process: no ``finally``, no ``atexit``, exactly what a crash or the OOM killer does) or
``enospc`` (raise ``OSError(ENOSPC)`` as a full disk would). ``point`` is one of ``POINTS``;
``pattern`` is an ``fnmatch`` glob on the point's subject (a path or a URL; ``*`` for any).
``WEBTEXT_FAULT_ONCE=<file>`` makes the fault fire once over all processes: the first one to
create that file fires, later ones (the rerun, a retried child) pass.

Production code calls ``hit(point, subject)`` at each point; unset, that is one dictionary look-up.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import signal

ENV = "WEBTEXT_FAULT"
ONCE_ENV = "WEBTEXT_FAULT_ONCE"

#: point -> what its subject is (and where it is called).
POINTS = {
    "before-rename": "the final path of a file written atomically, before its temporary is renamed (paths.py), "
                     "or of a checkpoint folder, before .tmp-step-N becomes step-N (train/checkpoint.py)",
    "after-rename": "the same path, just after the rename",
    "extract-page": "the URL of a page, in the extraction child before trafilatura sees it (extract/worker.py)",
    "crawl-page": "the URL of a page, in the crawl process after its WARC record is written (spider/pipelines.py)",
}
ACTIONS = ("kill", "enospc")


def hit(point: str, subject: str = "") -> None:
    """Fire the armed fault if it names ``point`` and its pattern matches ``subject``; else nothing."""
    spec = os.environ.get(ENV)
    if spec:
        _fire(spec, point, subject)


def _fire(spec: str, point: str, subject: str) -> None:
    action, armed, pattern = _parse(spec)
    if armed != point or not fnmatch.fnmatchcase(subject, pattern) or not _first_time():
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise OSError(errno.ENOSPC, f"No space left on device (injected by {ENV} at {point})", subject)


def _parse(spec: str) -> tuple[str, str, str]:
    action, _, rest = spec.partition(":")
    point, _, pattern = rest.partition(":")
    if action not in ACTIONS or point not in POINTS:
        raise ValueError(f"{ENV}={spec!r}: expected <action>:<point>:<pattern> with action one of {', '.join(ACTIONS)} "
                         f"and point one of {', '.join(POINTS)}")
    return action, point, pattern or "*"


def _first_time() -> bool:
    marker = os.environ.get(ONCE_ENV)
    if not marker:
        return True
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True
