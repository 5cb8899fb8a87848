"""The tokenize stage with its driver SIGKILLed or its disk full at exact points, and a second writer on
its folder: the rerun's token shards equal the undisturbed run's (rows and sha256), or the run is refused."""

from __future__ import annotations

import pytest
from faultkit import assert_one_line_error, assert_same, assert_second_writer_refused, kill_then_rerun, run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("fault", [
    "kill:before-rename:*/tokenize/val/tokens-00000.arrow",  # the train shard written, the val one not yet named
    "kill:before-rename:*/tokenize/__stats/00000.json",  # both shards written, the completion marker not
    "kill:after-rename:*/tokenize/_manifest.json",  # complete: the rerun skips it
])
def test_driver_killed_rerun_equals_undisturbed(chain, tmp_path, fault):
    base, out = chain.baseline("tokenize"), tmp_path / "tokenize"
    kill_then_rerun(chain.args("tokenize", out), fault)
    assert_same(out, base)


def test_disk_full_writing_a_shard_names_it_then_rerun_equals_undisturbed(chain, tmp_path):
    base, out = chain.baseline("tokenize"), tmp_path / "tokenize"
    first = run(chain.args("tokenize", out), fault="enospc:before-rename:*/tokenize/train/tokens-00000.arrow")
    assert "no space left on the device" in assert_one_line_error(first, out / "train" / "tokens-00000.arrow")
    assert not (out / "_manifest.json").exists() and not list(out.rglob(".tmp-*"))
    second = run(chain.args("tokenize", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert_same(out, base)


def test_second_writer_is_refused(chain, tmp_path):
    chain.baseline("train-tokenizer")  # what it reads: refused for the lock, not for a missing input
    out = tmp_path / "tokenize"
    assert_second_writer_refused(chain.args("tokenize", out), out, "tokenize")
