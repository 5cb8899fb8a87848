"""The urls stage (two passes: URL-hash buckets, then their reduction) with its driver SIGKILLed
between the passes and inside the second one: the rerun's output equals the undisturbed run's."""

from __future__ import annotations

import pytest
from faultkit import assert_same, killed, run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", [
    "kill:after-rename:*/urls/__buckets/_manifest.json",  # between the passes
    "kill:before-rename:*/urls/part-00002.parquet",  # inside the reduce pass
])
def test_driver_killed_rerun_equals_undisturbed(urls_base, tmp_path, fault):
    out = tmp_path / "urls"
    first = run(urls_base.args(out), fault=fault)
    assert killed(first), first.stderr[-2000:]
    assert not (out / "_manifest.json").exists()
    second = run(urls_base.args(out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert_same(out, urls_base.out)
