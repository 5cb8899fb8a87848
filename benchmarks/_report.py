"""What every benchmark here shares: the figure table, verdicts and scratch output folders."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


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
