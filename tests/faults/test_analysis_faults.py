"""The analysis stages, eval and memorization, with the driver SIGKILLed before a result's rename or the
disk full under one: the rerun's output equals the undisturbed run's (rows and sha256; eval's results.json
but for its timings), or the run stops with one line naming the file. A token shard flipped in place is
refused by ``eval-loss`` and ``memorization``, naming the shard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from faultkit import assert_one_line_error, assert_same, contents, flip_byte, kill_then_rerun, run

pytestmark = pytest.mark.slow


def assert_same_eval(out: Path, base: Path) -> None:
    """Every file as the baseline's, results.json but for its ``seconds`` (how long each task took)."""
    ours, theirs = contents(out), contents(base)
    del ours["results.json"], theirs["results.json"]
    assert ours == theirs
    results = [json.loads((d / "results.json").read_text()) for d in (out, base)]
    for r in results:
        del r["seconds"]
    assert results[0] == results[1]


@pytest.mark.parametrize("fault", [
    "kill:before-rename:*/eval/results.json",  # the per-example table written, the results not named
    "kill:after-rename:*/eval/_manifest.json",  # complete: the rerun skips it
])
def test_eval_driver_killed_rerun_equals_undisturbed(chain, tmp_path, fault):
    base, out = chain.baseline("eval"), tmp_path / "eval"
    kill_then_rerun(chain.args("eval", out), fault, complete_says="is up to date")
    assert_same_eval(out, base)


def test_eval_disk_full_names_the_examples_file_then_rerun_equals_undisturbed(chain, tmp_path):
    base, out = chain.baseline("eval"), tmp_path / "eval"
    first = run(chain.args("eval", out), fault="enospc:before-rename:*/eval/examples/quiz.parquet")
    assert "no space left on the device" in assert_one_line_error(first, out / "examples" / "quiz.parquet")
    second = run(chain.args("eval", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert_same_eval(out, base)


@pytest.mark.parametrize("fault", [
    "kill:before-rename:*/memorization/report.json",  # the tables and plots written, the report not named
    "kill:after-rename:*/memorization/_manifest.json",  # complete: the rerun skips it
])
def test_memorization_driver_killed_rerun_equals_undisturbed(chain, tmp_path, fault):
    base, out = chain.baseline("memorization"), tmp_path / "memorization"
    kill_then_rerun(chain.args("memorization", out), fault)
    assert_same(out, base)


def test_memorization_disk_full_names_the_plot_then_rerun_equals_undisturbed(chain, tmp_path):
    base, out = chain.baseline("memorization"), tmp_path / "memorization"
    first = run(chain.args("memorization", out), fault="enospc:before-rename:*/memorization/plots/extraction.png")
    assert "no space left on the device" in assert_one_line_error(first, out / "plots" / "extraction.png")
    assert not (out / "_manifest.json").exists()
    second = run(chain.args("memorization", out))
    assert second.returncode == 0, second.stderr[-2000:]
    assert_same(out, base)


@pytest.mark.parametrize("stage", ["eval-loss", "memorization"])
def test_a_flipped_token_shard_is_refused_naming_it(chain, tmp_path, stage):
    chain.baseline("memorization" if stage == "memorization" else "train")
    tokens = Path(shutil.copytree(chain.out("tokenize"), tmp_path / "tokens"))
    shard = tokens / "val" / "tokens-00000.arrow"
    flip_byte(shard)
    if stage == "eval-loss":
        args = ["eval-loss", str(chain.out("train")), str(tokens)]
    else:
        args = chain.args("memorization", tmp_path / "memorization")
        args[args.index("--tokens") + 1] = str(tokens)
    line = assert_one_line_error(run(args), shard)
    assert "sha256" in line and "rerun `webtext-build tokenize`" in line
