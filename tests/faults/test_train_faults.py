"""The train stage with its driver SIGKILLed around a checkpoint's rename or its disk full: ``--resume``
ends bit-identical to an undisturbed run of the same steps (every checkpoint's tensors by sha256; loss,
learning rate and gradient norm of every step), or the run stops with one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from faultkit import assert_one_line_error, killed, last_line, run
from train_fixtures import comparable, losses, metrics

from webtext.data import file_sha256

pytestmark = pytest.mark.slow


def tensors(run_dir: Path) -> dict[str, str]:
    """sha256 of every checkpoint's DCP data files (its ``.metadata`` and record carry run-specific bytes)."""
    return {f"{p.parent.name}/{p.name}": file_sha256(p)[0] for p in sorted(run_dir.glob("step-*/*.distcp"))}


def assert_same_run(run_dir: Path, base: Path) -> None:
    assert tensors(run_dir) == tensors(base) and len(tensors(base)) == 2  # step-2 and step-4
    assert comparable(metrics(run_dir)) == comparable(metrics(base))
    assert not list(run_dir.glob(".tmp-*"))


@pytest.mark.parametrize("fault", [
    "kill:after-rename:*/train/step-2",  # a checkpoint complete, the steps after it not yet taken
    "kill:before-rename:*/train/step-4",  # the last checkpoint written in full but never named: not used
])
def test_driver_killed_at_a_checkpoint_rename_resume_equals_undisturbed(chain, tmp_path, fault):
    base, out = chain.baseline("train"), tmp_path / "train"
    first = run(chain.args("train", out), fault=fault)
    assert killed(first), first.stderr[-2000:]
    assert [p.name for p in out.glob("step-*")] == ["step-2"]
    second = run(chain.args("train", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resum" in second.stderr.lower()
    assert_same_run(out, base)


def test_disk_full_under_a_checkpoint_names_it_then_resume_equals_undisturbed(chain, tmp_path):
    base, out = chain.baseline("train"), tmp_path / "train"
    first = run(chain.args("train", out), fault="enospc:before-rename:*/train/.tmp-step-2/webtext-checkpoint.json")
    line = assert_one_line_error(first, out / "step-2")
    assert "no space left on the device" in line and "rerun with --resume" in line
    assert not list(out.glob("*step-*"))  # the half-written save is gone
    second = run(chain.args("train", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert_same_run(out, base)


@pytest.mark.parametrize("victim", ["launch-config.json", ".tmp-step-2/webtext-checkpoint.json"])
def test_disk_full_under_two_processes_is_one_line(chain, tmp_path, victim):
    """``--nproc 2``: the launcher's own write, or rank 0's checkpoint (rank 1 then loses its peer mid-barrier):
    one line from the launcher, not a traceback per rank."""
    chain.baseline("tokenize")
    out = tmp_path / "train"
    done = run([*chain.args("train", out), "--nproc", "2"], fault=f"enospc:before-rename:*/train/{victim}")
    line = assert_one_line_error(done, out / ("step-2" if "step-2" in victim else victim))
    assert "no space left on the device" in line


def test_a_killed_rank_stops_the_run_and_resume_on_two_processes_completes(chain, tmp_path):
    """``--nproc 2`` with rank 0 (a child of the launcher) SIGKILLed just after ``step-2``'s rename: rank 1 does
    not hang in its barrier, the run exits 1 pointing at the last good state, and ``--resume`` ends with the
    losses of the one-process baseline (FSDP over two processes sums in another order: not bit-identical)."""
    base, out = chain.baseline("train"), tmp_path / "train"
    args = [*chain.args("train", out), "--nproc", "2"]
    first = run(args, fault="kill:after-rename:*/train/step-2")  # run() also checked: no rank outlived it
    assert first.returncode == 1
    assert "training stopped with status -9; see the log" in last_line(first)
    second = run(args)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "resumed from" in second.stderr
    ref, got = losses(base), losses(out)
    assert sorted(got) == [1, 2, 3, 4] and max(abs(got[s] - ref[s]) for s in got) < 1e-4
    assert json.loads((out / "step-4" / "webtext-checkpoint.json").read_text())["world_size"] == 2
