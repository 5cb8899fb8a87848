"""Helpers of the fault suite: run a stage as the CLI does (with a fault armed), find processes a
run left behind, and compare a dataset with the undisturbed one by rows and sha256.

A stage is rerun from its undisturbed manifest: ``pipeline_file`` writes a pipelines.yaml with
the exact config the baseline run recorded, so the rerun's fingerprint, and output, must match.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from installed_cli import cli

from webtext.data import Manifest

MARK = "WEBTEXT_FAULT_SUITE_RUN"  # an env var every process of one run inherits: finds its survivors


def fault_env(fault: str | None = None, once: Path | None = None) -> tuple[dict[str, str], str]:
    """The environment of one run (with ``fault`` armed) and the mark its processes carry."""
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBTEXT_FAULT")}
    env[MARK] = mark
    env.setdefault("OMP_NUM_THREADS", "1")  # torch stages on a busy 2-core machine: one thread is faster
    if fault:
        env["WEBTEXT_FAULT"] = fault
    if once is not None:
        env["WEBTEXT_FAULT_ONCE"] = str(once)
    return env, mark


def run(args: list[str], fault: str | None = None, once: Path | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``webtext-build ARGS`` with ``fault`` armed; its processes must all be gone when it returns."""
    env, mark = fault_env(fault, once)
    done = subprocess.run([*cli(), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert_no_survivors(mark)
    return done


def survivors(mark: str) -> list[str]:
    """Command lines of the live processes whose environment carries ``mark``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if f"{MARK}={mark}".encode() not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            state = next((ln for ln in (proc / "status").read_text().splitlines() if ln.startswith("State:")), "")
            if "Z" in state.split()[1:2]:
                continue  # a zombie holds no files
            found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, StopIteration):
            continue
    return found


def assert_no_survivors(mark: str, grace: float = 5.0) -> None:
    """No process of the run is alive (after ``grace`` s for the kernel to reap a dying one)."""
    deadline = time.monotonic() + grace
    while (left := survivors(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"processes outlived their run: {left}"


def pipeline_file(base: Path, work: Path, stage: str, out_name: str | None = None) -> Path:
    """A pipelines.yaml running ``stage`` with the baseline's recorded config into ``work/<out_name>``."""
    manifest = Manifest.read(base)
    assert manifest is not None, f"no baseline manifest in {base}"
    settings = dict(manifest.config)
    settings["out"] = str(work / (out_name or base.name))
    path = work / f"{stage}.yaml"
    work.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"workdir": str(work), "runner": {"kind": "local", "max_retries": 0},
                                    "stages": {stage: settings}}))
    return path


def run_stage_cli(pipeline: Path, stage: str, fault: str | None = None, once: Path | None = None,
                  ) -> subprocess.CompletedProcess[str]:
    return run(["pipelines", "run", str(pipeline), "--stages", stage], fault=fault, once=once)


def contents(dataset: Path) -> dict[str, tuple[int | None, str]]:
    """What a dataset holds: every file its manifest (and its passes' manifests) lists -> (rows, sha256)."""
    manifest = Manifest.read(dataset)
    assert manifest is not None, f"{dataset} has no manifest"
    found = {e.path: (e.rows, e.sha256) for e in manifest.files()}
    for part in manifest.parts:
        found.update({f"{part}/{k}": v for k, v in contents(dataset / part).items()})
    return found


def assert_same(dataset: Path, baseline: Path, located: tuple[str, ...] = ()) -> None:
    """``dataset`` holds what ``baseline`` does, file by file, and ``verify`` passes. ``located``: files that
    name their own folder (the contamination report's ``corpus.bloom``), compared with that name replaced."""
    ours, theirs = contents(dataset), contents(baseline)
    for name in located:
        assert (dataset / name).read_text().replace(str(dataset), str(baseline)) == (baseline / name).read_text()
        del ours[name], theirs[name]
    assert ours == theirs
    verify = subprocess.run([*cli(), "verify", str(dataset)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def killed(done: subprocess.CompletedProcess[str]) -> bool:
    return done.returncode == -signal.SIGKILL


def kill_then_rerun(args: list[str], fault: str, complete_says: str = "already complete") -> str:
    """Run ``args`` with ``fault`` (a kill), check it died, rerun it undisturbed and return the rerun's
    stderr. The rerun says ``complete_says`` exactly when the kill came after the manifest's rename."""
    first = run(args, fault=fault)
    assert killed(first), first.stderr[-2000:]
    second = run(args)
    assert second.returncode == 0, second.stderr[-2000:]
    assert (complete_says in second.stderr) == fault.startswith("kill:after-rename"), second.stderr[-2000:]
    return second.stderr


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def stats_of(dataset: Path) -> dict:
    return json.loads((dataset / "_manifest.json").read_text())["stats"]


LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+ ")  # webtext.logs' format: the progress


def assert_one_line_error(done: subprocess.CompletedProcess[str], path: Path | str) -> str:
    """The run exited 1 saying one thing besides its progress log (no traceback, no list of shards), a line
    naming ``path``; returns that line."""
    assert done.returncode == 1, done.stderr[-3000:]
    said = [line for line in done.stderr.strip().splitlines() if not LOG_LINE.match(line)]
    assert len(said) == 1, done.stderr[-3000:]
    assert str(path) in said[0], said[0]
    return said[0]


def flip_byte(path: Path) -> None:
    """Corrupt ``path`` in place without changing its size (what only a checksum finds)."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@contextmanager
def lock_held(out: Path, stage: str) -> Iterator[int]:
    """Another process holds ``out``'s writer lock while the block runs; yields its pid."""
    env, mark = fault_env()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from webtext.writer_lock import writer_lock\n"
         f"with writer_lock({str(out)!r}, {stage!r}):\n print('held', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder.pid
    finally:
        holder.communicate("")
    assert not survivors(mark)


def assert_second_writer_refused(args: list[str], out: Path, stage: str) -> None:
    """``webtext-build ARGS`` into ``out`` while another run holds it: exit 1 naming the holder, nothing written."""
    with lock_held(out, stage) as pid:
        second = run(args)
        assert second.returncode == 1, second.stderr[-3000:]
        line = last_line(second)
        assert f"{out} is being written by another run (pid {pid} on " in line and "--out" in line
        assert sorted(p.name for p in out.iterdir()) == ["__lock"]  # it wrote nothing beside the holder
