"""The contamination stage (passes: the corpus scan for benchmark n-grams in hits/, the Bloom filter slices in
bloom/, then the report) with its driver SIGKILLed inside a pass or its disk full under the report: the
rerun's output equals the undisturbed run's (rows and sha256 of every file of every pass)."""

from __future__ import annotations

import pytest
from faultkit import assert_one_line_error, assert_same, kill_then_rerun, run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", [
    "kill:before-rename:*/contamination/hits/part-00000.parquet",  # inside the scan pass
    "kill:after-rename:*/contamination/_manifest.json",  # complete: the rerun skips it
])
def test_driver_killed_rerun_equals_undisturbed(chain, tmp_path, fault):
    base, out = chain.baseline("contamination"), tmp_path / "contamination"
    kill_then_rerun(chain.args("contamination", out), fault)
    assert_same(out, base, located=("report.json",))  # it names its corpus.bloom by path


def test_disk_full_writing_the_report_names_it_then_rerun_equals_undisturbed(chain, tmp_path):
    base, out = chain.baseline("contamination"), tmp_path / "contamination"
    first = run(chain.args("contamination", out), fault="enospc:before-rename:*/contamination/report.json")
    assert "no space left on the device" in assert_one_line_error(first, out / "report.json")
    assert not (out / "_manifest.json").exists()
    second = run(chain.args("contamination", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert_same(out, base, located=("report.json",))
