"""The dedup stage (four passes joined by folders: signatures -> buckets -> clusters -> filter) with its
driver SIGKILLed or its disk full at exact points, and a second writer on its folder: the rerun's output
equals the undisturbed run's (rows and sha256 of every file of every pass), or the run is refused."""

from __future__ import annotations

import pytest
from faultkit import assert_one_line_error, assert_same, assert_second_writer_refused, killed, run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", [
    "kill:before-rename:*/dedup/__clusters/part-00000.parquet",  # inside the third pass: its output, not yet named
    "kill:before-rename:*/dedup/__stats/00000.json",  # the filter pass's shard done, its completion marker not
])
def test_driver_killed_inside_a_pass_rerun_equals_undisturbed(chain, tmp_path, fault):
    base, out = chain.baseline("dedup"), tmp_path / "dedup"
    first = run(chain.args("dedup", out), fault=fault)
    assert killed(first), first.stderr[-2000:]
    assert not (out / "_manifest.json").exists()
    second = run(chain.args("dedup", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert "taking over the lock of a run that ended without releasing it" in second.stderr
    assert_same(out, base)


def test_driver_killed_after_the_manifest_rename_rerun_skips(chain, tmp_path):
    base, out = chain.baseline("dedup"), tmp_path / "dedup"
    assert killed(run(chain.args("dedup", out), fault="kill:after-rename:*/dedup/_manifest.json"))
    second = run(chain.args("dedup", out))
    assert second.returncode == 0 and "already complete" in second.stderr
    assert_same(out, base)


def test_disk_full_writing_the_kept_documents_names_the_file_then_rerun_equals_undisturbed(chain, tmp_path):
    base, out = chain.baseline("dedup"), tmp_path / "dedup"
    first = run(chain.args("dedup", out), fault="enospc:before-rename:*/dedup/part-00000.parquet")
    line = assert_one_line_error(first, out / "part-00000.parquet")
    assert "no space left on the device" in line
    assert not (out / "_manifest.json").exists()
    second = run(chain.args("dedup", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert_same(out, base)


def test_second_writer_is_refused(chain, tmp_path):
    out = tmp_path / "dedup"
    assert_second_writer_refused(chain.args("dedup", out), out, "dedup")
