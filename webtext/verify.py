"""``webtext-build verify``: check any folder this project writes and say what it checked.

A dataset folder is checked against its ``_manifest.json`` (``webtext.data.verify_dataset``) and
named by the stage that wrote it, with its files and rows (the main table's, then each side
folder's). A train run folder (or one ``step-N`` checkpoint) has a manifest without files: each
checkpoint is checked against the sha256 of every file its own record lists
(``webtext.train.checkpoint.verify``, imported only for runs: it needs torch).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from webtext.data import Manifest, Problem, verify_dataset
from webtext.paths import CHECKPOINT_RECORD

_STEP = re.compile(r"^step-(\d+)$")
RECORD = CHECKPOINT_RECORD  # shared with webtext.train.checkpoint (that module imports torch)


@dataclass
class Verified:
    """What ``verify`` checked in a folder: its kind, file and row counts, and the problems found."""

    folder: Path
    kind: str  # "`dedup` dataset", "train run", "checkpoint", "folder without a manifest"
    files: int = 0
    rows: Counter = field(default_factory=Counter)  # "" (the main table) or a side folder -> rows
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    against: str = "the manifest"

    def summary(self) -> str:
        what = f"{self.kind}, {self.files:,} file(s)"
        if self.rows:
            parts = [f"{n:,} rows in {'its main table' if k == '' else k + '/'}" for k, n in
                     sorted(self.rows.items(), key=lambda kv: (kv[0] != "", kv[0]))]
            what += f" ({'; '.join(parts)})"
        if self.problems:
            return f"verify: {len(self.problems)} problem(s) in {self.folder}: {what} checked"
        return f"verify: OK: {what} in {self.folder} match {self.against}"


def _is_run(folder: Path, manifest: Manifest | None) -> bool:
    if (folder / RECORD).is_file() or (manifest is not None and manifest.stage == "train"):
        return True
    return manifest is None and any(_STEP.match(p.name) for p in folder.glob("step-*"))


def _verify_run(folder: Path, manifest: Manifest | None) -> Verified:
    from webtext.errors import VerifyError
    from webtext.train import checkpoint

    if (folder / RECORD).is_file():
        out, steps = Verified(folder, "checkpoint", against="its checkpoint record"), [folder]
    else:
        out = Verified(folder, "train run", against="their checkpoint records")
        steps = sorted((p for p in folder.glob("step-*") if _STEP.match(p.name)),
                       key=lambda p: -int(p.name.split("-")[1]))
        if manifest is None:
            out.notes.append("no _manifest.json: the run has not finished (or was stopped); its checkpoints are "
                             "checked")
        if not steps:
            out.problems.append(Problem(str(folder), "checkpoints", "at least one step-N/", "none"))
    good = []
    for step in steps:
        if not (step / RECORD).is_file():
            out.problems.append(Problem(str(step), RECORD, "present", "missing (an interrupted save?)"))
            continue
        try:
            record = checkpoint.verify(step)
        except VerifyError as exc:
            out.problems.append(Problem(str(step), "checkpoint", "every file as its record lists", str(exc)))
            continue
        out.files += len(record["files"]) + 1
        good.append(step.name)
    if good and out.kind == "train run":
        out.kind = f"train run ({len(good)} checkpoint(s): {', '.join(good)})"
    leftovers = sorted(p.name for p in folder.glob(".tmp-step-*"))
    if leftovers:
        out.notes.append(f"unfinished saves (never loaded; the next save removes them): {', '.join(leftovers)}")
    return out


def _rows(folder: Path, manifest: Manifest, prefix: str = "") -> Counter:
    """Rows the manifest records per top-level folder ("" for files at the top or in split folders)."""
    rows: Counter = Counter()
    for entry in manifest.files():
        if entry.rows is None:
            continue
        first, sep, _ = f"{prefix}{entry.path}".partition("/")
        side = first if sep and first not in ("train", "val") else ""
        rows[side] += entry.rows
    for part in manifest.parts:
        sub = Manifest.read(folder / part)
        if sub is not None:
            rows += _rows(folder / part, sub, f"{prefix}{part}/")
    return rows


def verify_folder(folder: Path) -> Verified:
    """Check a dataset folder, a train run or a checkpoint; never raises for what it finds."""
    folder = Path(folder)
    manifest = Manifest.read(folder)
    if folder.is_dir() and _is_run(folder, manifest):
        return _verify_run(folder, manifest)
    checked, problems = verify_dataset(folder)
    if manifest is None:
        return Verified(folder, "folder without a manifest", checked, problems=problems)
    return Verified(folder, f"`{manifest.stage}` dataset", checked, _rows(folder, manifest), problems)
