"""What a runner runs: a shard task, the output of a shard function, and the shared wrapper
that checks the shard's books and turns its output into the stats file (its completion marker).

The books: every shard's counts carry ``total`` (rows it read), ``kept`` (rows it wrote on) and
``dropped_<reason>`` for the rest, with ``total == kept + sum(dropped_*)``. Anything else a stage
counts goes under other names (``stored``, ``train_documents``, ``pairs``...); where rows fan out
or in, those named counters say so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from webtext import probes
from webtext.data import describe_file
from webtext.errors import ContractError
from webtext.paths import atomic_write_bytes, stats_path

P = TypeVar("P")


@dataclass(frozen=True)
class ShardTask(Generic[P]):
    """One unit of work: ``index`` names its output files (``00042``), ``label`` its input, ``payload``
    what the pass needs to know about it (a frozen dataclass of the pass, or None)."""

    index: int
    label: str
    payload: P = None  # type: ignore[assignment]


@dataclass
class ShardOutput:
    """What a shard function returns: the files it wrote (absolute) and its counters."""

    files: list[Path]
    counts: dict[str, int | float]
    rows: dict[str, int] = field(default_factory=dict)  # known row counts by str(path): saves a re-read
    digests: dict[str, str] = field(default_factory=dict)  # known sha256 by str(path): saves re-hashing big files


ShardFn = Callable[[ShardTask], ShardOutput]


def check_books(stage: str, task: ShardTask, counts: dict[str, Any]) -> None:
    """Raise ``ContractError`` unless ``total == kept + sum(dropped_*)`` (all integers)."""
    total, kept = counts.get("total"), counts.get("kept")
    dropped = {k: v for k, v in counts.items() if k.startswith("dropped_")}
    where = f"{stage or 'stage'}: shard {task.index:05d} ({task.label})"
    for name, value in (("total", total), ("kept", kept), *dropped.items()):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ContractError(f"{where}: count {name!r} is {value!r}, not an integer (every shard counts "
                                "total, kept and dropped_<reason>)")
    assert isinstance(total, int) and isinstance(kept, int)
    if total != kept + sum(dropped.values()):
        reasons = ", ".join(f"{k} {v:,}" for k, v in dropped.items()) or "none"
        raise ContractError(f"{where}: counts do not balance: total {total:,} != kept {kept:,} + dropped "
                            f"{sum(dropped.values()):,} ({reasons})")


def execute_shard(fn: ShardFn, dataset: Path, fingerprint: str, task: ShardTask, stage: str = "") -> dict[str, Any]:
    """Run ``fn`` on one shard, check its books, then write its stats file last (its completion marker).

    Runs wherever the runner puts it (this process or a Ray worker) and returns the stats record.
    """
    probes.skip_pandas_probe()  # once per process: pyarrow's DataFrame check would import pandas (~0.4 s)
    start = time.perf_counter()
    out = fn(task)
    check_books(stage, task, out.counts)
    entries = [asdict(describe_file(dataset, Path(p), out.rows.get(str(p)), out.digests.get(str(p))))
               for p in out.files]
    record = {
        "index": task.index,
        "label": task.label,
        "fingerprint": fingerprint,
        "counts": out.counts,
        "seconds": round(time.perf_counter() - start, 3),
        "files": entries,
    }
    atomic_write_bytes(stats_path(dataset, task.index), json.dumps(record, indent=1, sort_keys=True).encode())
    return record


def rows_read(record: dict[str, Any] | None) -> int:
    """The rows a shard's stats record says it read (``counts.total``; 0 for a failed shard)."""
    total = (record or {}).get("counts", {}).get("total", 0)
    return total if isinstance(total, int) else 0


class Runner(Protocol):
    """Runs ``fn`` on every task; returns (results by index, error text by index). ``retries`` holds, after
    ``run``, how many times each shard was run again (transient errors, lost workers or nodes)."""

    name: str
    retries: dict[int, int]

    def run(
        self, fn: Callable[[ShardTask], dict[str, Any]], tasks: Sequence[ShardTask], description: str
    ) -> tuple[dict[int, dict[str, Any]], dict[int, str]]: ...

    def close(self) -> None: ...

    def parallelism(self) -> int: ...
