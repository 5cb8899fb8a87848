"""Process faults: the driver SIGKILLed at an exact point, extraction children killed, a second
writer on one folder, outputs deleted, truncated or flipped, a disk that fills up. Each case ends
with output identical to the undisturbed run (rows and sha256) or a non-zero exit whose last
line names the file and the fix."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from faultkit import (
    assert_one_line_error,
    assert_same,
    assert_second_writer_refused,
    contents,
    fault_env,
    flip_byte,
    killed,
    run,
    stats_of,
)

pytestmark = pytest.mark.slow


def test_driver_killed_before_a_completion_marker_rerun_equals_undisturbed(extract_base, tmp_path):
    out = tmp_path / "extract"
    first = run(extract_base.args(out), fault="kill:before-rename:*/__stats/00001.json")
    assert killed(first), first.stderr[-2000:]  # run() also checked: no extraction child outlived it
    assert not (out / "_manifest.json").exists() and (out / "__lock").exists()
    second = run(extract_base.args(out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert "taking over the lock of a run that ended without releasing it" in second.stderr
    assert not (out / "__lock").exists()
    assert_same(out, extract_base.out)


def test_driver_killed_after_the_manifest_rename_rerun_skips(extract_base, tmp_path):
    out = tmp_path / "extract"
    first = run(extract_base.args(out), fault="kill:after-rename:*/extract/_manifest.json")
    assert killed(first)
    second = run(extract_base.args(out))
    assert second.returncode == 0 and "already complete" in second.stderr
    assert_same(out, extract_base.out)


def test_child_killed_twice_drops_extract_crash_and_rerun_recovers_the_page(extract_base, tmp_path):
    out = tmp_path / "extract"
    victim = extract_base.urls[5]
    first = run(extract_base.args(out), fault=f"kill:extract-page:{victim}")
    assert first.returncode == 0, first.stderr[-2000:]
    stats = stats_of(out)
    assert stats["dropped_extract_crash"] == 1 and stats["crash_retries"] == 1
    import pyarrow.parquet as pq

    dropped = pq.read_table(out / "__dropped").to_pylist()
    assert [(d["url"], d["reason"]) for d in dropped] == [(victim, "extract_crash")]
    second = run(extract_base.args(out))
    assert second.returncode == 0 and "marked to run again" in second.stderr
    assert_same(out, extract_base.out)
    assert victim in pq.read_table(out, columns=["url"])["url"].to_pylist()


def test_child_killed_once_is_retried_in_a_fresh_child(extract_base, tmp_path):
    out = tmp_path / "extract"
    done = run(extract_base.args(out), fault=f"kill:extract-page:{extract_base.urls[2]}", once=tmp_path / "once")
    assert done.returncode == 0, done.stderr[-2000:]
    assert stats_of(out)["crash_retries"] == 1 and "dropped_extract_crash" not in stats_of(out)
    assert_same(out, extract_base.out)


def test_second_writer_on_one_folder_is_refused_with_the_holder(extract_base, tmp_path):
    out = tmp_path / "extract"
    assert_second_writer_refused(extract_base.args(out), out, "extract")
    third = run(extract_base.args(out))
    assert third.returncode == 0
    assert_same(out, extract_base.out)


@pytest.mark.parametrize("harm", ["delete", "truncate"])
def test_deleted_or_truncated_output_is_redone_by_a_rerun(extract_base, tmp_path, harm):
    out = tmp_path / "extract"
    shutil.copytree(extract_base.out, out)
    victim = out / "part-00001.parquet"
    if harm == "delete":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[:-100])
    done = run(extract_base.args(out))
    assert done.returncode == 0 and "missing or have changed size" in done.stderr
    assert_same(out, extract_base.out)


def test_flipped_byte_is_named_by_verify(extract_base, tmp_path):
    out = tmp_path / "extract"
    shutil.copytree(extract_base.out, out)
    flip_byte(out / "__dropped" / "part-00000.parquet")
    done = run(["verify", str(out)])
    assert done.returncode == 1 and "__dropped/part-00000.parquet" in done.stdout


def test_disk_full_fails_the_shard_naming_the_file_then_rerun_equals_undisturbed(extract_base, tmp_path):
    out = tmp_path / "extract"
    first = run(extract_base.args(out), fault="enospc:before-rename:*/extract/part-00000.parquet")
    assert "no space left on the device" in assert_one_line_error(first, out / "part-00000.parquet")
    assert not (out / "_manifest.json").exists()
    second = run(extract_base.args(out))
    assert second.returncode == 0
    assert_same(out, extract_base.out)
    assert contents(out)


def test_lifeline_child_dies_with_a_sigkilled_parent(tmp_path):
    env, mark = fault_env()
    parent = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, sys\nfrom webtext import lifeline\n"
         "proc, line = lifeline.popen([sys.executable, '-c', "
         "'from webtext import lifeline; lifeline.hold(); print(1, flush=True); import time; time.sleep(600)'], "
         "stdout=open(sys.argv[1], 'w'))\n"
         "import time\n"
         "while not open(sys.argv[1]).read(): time.sleep(0.01)\n"
         "os.kill(os.getpid(), signal.SIGKILL)\n", str(tmp_path / "started")],
        env=env, timeout=60)
    assert parent.returncode == -9
    from faultkit import assert_no_survivors

    assert_no_survivors(mark)
