"""What every benchmark here shares: the figure table, verdicts, scratch output folders, logging
set-up, machine load and process-tree memory (from Linux's /proc)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One line of the final table: a figure, its value, and (for ratios) a target and verdict."""

    label: str
    value: str
    target: str = ""
    verdict: str = ""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "below target"


def format_table(rows: list[Row], header: str) -> str:
    width = max(len(r.label) for r in rows)
    vwidth = max(len(r.value) for r in rows)
    lines = [header, f"{'figure':<{width}}  {'value':<{vwidth}}  {'target':<8}  result",
             "-" * (width + vwidth + 24)]
    for r in rows:
        lines.append(f"{r.label:<{width}}  {r.value:<{vwidth}}  {r.target:<8}  {r.verdict}".rstrip())
    return "\n".join(lines)


class FreshOut:
    """A fresh, empty output folder under ``workdir/runs`` (the stages skip work already done in a
    folder); removed on exit unless ``keep``."""

    def __init__(self, workdir: Path, label: str, keep: bool = False) -> None:
        self.workdir, self.label, self.keep = workdir, label, keep
        self.path = Path()

    def __enter__(self) -> Path:
        runs = self.workdir / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f"{self.label}-", dir=runs))
        return self.path

    def __exit__(self, *exc: object) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Set-up, machine load and process-tree measurements (Linux /proc)


def setup(verbose: bool) -> None:
    """Logging for a benchmark script: its own progress at INFO, webtext's only with ``-v``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("webtext").setLevel(logging.INFO if verbose else logging.WARNING)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def begin(args: Any, log: logging.Logger) -> float:
    """A benchmark's start: logging, its work folder made absolute and present, a warning if the
    machine is busy; returns the start time (``time.perf_counter``)."""
    setup(args.verbose)
    args.workdir = Path(args.workdir).resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    warn_if_busy(log)
    return time.perf_counter()


def warn_if_busy(log: logging.Logger, threshold: float = 0.15) -> None:
    """Say so when the machine is already loaded: every ratio then carries that noise."""
    busy = machine_busy()
    if busy > threshold:
        log.warning("the machine is already %.0f%% busy before the benchmark starts: figures will be noisy", 100 * busy)


def check_parts(parser: argparse.ArgumentParser, parts: str, known: tuple[str, ...]) -> list[str]:
    """``--parts a,b`` as a list; an unknown name is a usage error listing the valid ones."""
    chosen = [p.strip() for p in parts.split(",") if p.strip()]
    unknown = set(chosen) - set(known)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(known)}")
    return chosen


def finish(rows: list[Row], header: str, strict: bool) -> int:
    """Print the table; exit status 1 under ``--strict`` when a figure is below its target."""
    print(format_table(rows, header))
    return 1 if strict and any(r.verdict == "below target" for r in rows) else 0


def saved_report(path: Path, results: dict[str, Any] | None, report: Callable[[dict[str, Any]], str], how: str,
                 log: logging.Logger) -> int:
    """A measuring script's end: ``results`` (just measured) saved to ``path`` as JSON, or, when
    ``None``, the ones saved there before (``how``: the command that makes them); their report printed."""
    if results is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=1) + "\n")
        log.info("wrote %s (%.0f s of measuring)", path, results["seconds"])
    elif not path.exists():
        raise SystemExit(f"{path} does not exist: run `{how}` first")
    print(report(json.loads(path.read_text())))
    return 0


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)  # idle and iowait are not busy


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over ``seconds``, to warn about a loaded machine."""
    busy0, total0 = machine_busy_ticks()
    time.sleep(seconds)
    busy1, total1 = machine_busy_ticks()
    return (busy1 - busy0) / max(1, total1 - total0)


def cpu_ticks(pid: int) -> int:
    """User + system clock ticks ``pid`` has used (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return 0


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (bytes) of ``pid``, or {} if it is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError):
        return {}
    return out


def ray_kind(cmdline: str) -> str:
    """A process of a run by its command line: ``ray-worker``, ``ray`` (its daemons) or ``other``."""
    if cmdline.startswith("ray::") or "default_worker.py" in cmdline:
        return "ray-worker"
    if "ray" in cmdline and ("raylet" in cmdline or "gcs_server" in cmdline or "/ray/" in cmdline):
        return "ray"
    return "other"


def proc_cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


@dataclass
class TreeMemory:
    """Peak RSS (``VmHWM``) of every process of a tree, sampled while the ``with`` block runs, with
    each process's kind (from ``classify(cmdline)``); also the CPU time every *other* process of the
    machine used meanwhile (noise)."""

    root: int
    classify: Callable[[str], str] | None = None
    interval: float = 0.2
    hwm: dict[int, int] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)
    peak_sum: int = 0
    ticks: dict[int, int] = field(default_factory=dict)
    other_cpu: float = 0.0
    _busy0: int = 0
    _base: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> TreeMemory:
        self._busy0 = machine_busy_ticks()[0]
        self.ticks = {pid: cpu_ticks(pid) for pid in descendants(self.root)}  # already used: not counted
        self._base = dict(self.ticks)
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-poll")
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            total = 0
            for pid in descendants(self.root):
                status = proc_status(pid)
                if not status:
                    continue
                total += status.get("VmRSS", 0)
                self.ticks[pid] = max(self.ticks.get(pid, 0), cpu_ticks(pid))
                self.hwm[pid] = max(self.hwm.get(pid, 0), status.get("VmHWM", 0))
                if self.classify is not None and self.kinds.get(pid, "other") == "other":  # Ray renames workers
                    self.kinds[pid] = "root" if pid == self.root else self.classify(proc_cmdline(pid))
            self.peak_sum = max(self.peak_sum, total)
            if self._stop.wait(self.interval):
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        hz = os.sysconf("SC_CLK_TCK")
        tree = sum(t - self._base.get(pid, 0) for pid, t in self.ticks.items())
        self.other_cpu = max(0.0, (machine_busy_ticks()[0] - self._busy0 - tree) / hz)

    def peak(self, kind: str) -> tuple[int, int]:
        """(largest VmHWM among the processes of ``kind``, how many there were)."""
        values = [v for pid, v in self.hwm.items() if self.kinds.get(pid) == kind]
        return max(values, default=0), len(values)

    @property
    def root_peak(self) -> int:
        return self.hwm.get(self.root, 0)

    @property
    def child_peak(self) -> int:
        return max((v for k, v in self.hwm.items() if k != self.root), default=0)


def timed_child(cmd: list[str], log_path: Path, classify: Callable[[str], str] | None = None
                ) -> tuple[float, TreeMemory]:
    """Run ``cmd`` to completion (output to ``log_path``): wall seconds and its tree's memory."""
    start = time.perf_counter()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        with TreeMemory(proc.pid, classify) as memory:
            code = proc.wait()
    seconds = time.perf_counter() - start
    if code != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{cmd[:4]}... exited with {code}; log {log_path}:\n{tail}")
    return seconds, memory
