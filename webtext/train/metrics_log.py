"""Reading ``RUN/metrics.jsonl`` (one JSON object per optimizer step, appended by rank 0).

A power loss during an append leaves a torn last line: that row is cut (and logged), never a
reason for a resume or a report to crash; the step it belonged to is redone by the resumed run.
A bad line anywhere else is not a torn write but a damaged file: an error naming the line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from webtext.errors import InputError

log = logging.getLogger(__name__)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics log (none if it does not exist); a torn last line is left out with a warning."""
    path = Path(path)
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
    while lines and not lines[-1].strip():
        lines.pop()
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError(f"a {type(row).__name__}, not an object")
        except ValueError as exc:
            if n == len(lines):
                log.warning("%s: cutting its torn last line %d (%d bytes; a write interrupted): %s", path, n,
                            len(line), exc)
                break
            raise InputError(f"{path}: line {n} is not a JSON object ({exc}): the file is damaged; move it away to "
                             "start its log afresh", path=str(path)) from exc
        rows.append(row)
    return rows


def truncate_metrics(path: Path, step: int) -> None:
    """Keep the rows up to ``step`` (a resumed run starts after it and redoes the rest); a torn line goes too."""
    from webtext.paths import atomic_write_bytes

    path = Path(path)
    if not path.exists():
        return
    keep = [row for row in read_metrics(path) if row.get("step", 0) <= step]
    atomic_write_bytes(path, "".join(json.dumps(row) + "\n" for row in keep).encode())
