"""How a training process started by ``launch`` (``--nproc N``) hands its error to the launcher.

A rank that stops on a ``FatalError`` (a full disk under a checkpoint, say) leaves the error in a
folder the launcher made (``WEBTEXT_RANK_ERRORS``), before its process group goes: its peers then
fail inside a collective ("connection closed by peer"), find the note, and exit quietly. The
launcher raises the noted error, so the command ends with that one line instead of one traceback
per rank. A rank started by anything else (torchrun, Ray) has no folder and prints as usual; an
error that is not a ``FatalError`` (a bug) keeps its traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from webtext.errors import FatalError, WriteError

ENV = "WEBTEXT_RANK_ERRORS"


def note(exc: FatalError) -> None:
    """Leave ``exc`` for the launcher; nothing when this rank has no launcher folder (it prints its error)."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    from webtext.paths import atomic_write_bytes

    rank = os.environ.get("RANK", "0")
    record = {"rank": rank, "kind": type(exc).__name__, "message": str(exc), "path": getattr(exc, "path", None)}
    # a full disk under the note too: the launcher then says "see the log"; never a second error
    with contextlib.suppress(OSError, WriteError):
        atomic_write_bytes(Path(folder) / f"rank-{rank}.json", json.dumps(record).encode())


def peer_failed() -> bool:
    """Whether another rank of this launch has noted its error (so this rank's failure is its echo)."""
    folder = os.environ.get(ENV)
    return bool(folder) and any(Path(folder).glob("rank-*.json"))


def noted(folder: Path) -> FatalError | None:
    """The first rank's noted error, as the error the launcher raises, or None."""
    for path in sorted(Path(folder).glob("rank-*.json"), key=lambda p: int(p.stem.split("-")[1])):
        record = json.loads(path.read_text())
        message = f"rank {record['rank']}: {record['message']}"
        if record["kind"] == WriteError.__name__:
            return WriteError(message, path=record["path"])
        return FatalError(message)
    return None
