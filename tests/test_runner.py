"""Runners: the same per-shard function locally and on Ray; retries; failures reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from webtext.errors import FatalError, RetryableError, ShardError, StageFailedError
from webtext.runner import LocalRunner, ShardOutput, ShardTask, run_stage


def _flaky(folder: Path, task: ShardTask) -> ShardOutput:
    """Fails with RetryableError on its first attempt, a ShardError for shard 2, else writes a file."""
    if task.index == 2:
        raise ShardError("input is corrupt", path="in-2", offset=7)
    marker = folder / f"attempt-{task.index}"
    if not marker.exists():
        marker.write_text("1")
        raise RetryableError("transient")
    out = folder / f"part-{task.index:05d}.txt"
    out.write_text(task.label)
    return ShardOutput(files=[out], counts={"total": 1, "kept": 1})


def _run(folder: Path, runner, n: int = 3):
    import functools

    return run_stage(
        stage="flaky", dataset=folder, config={"x": 1}, inputs=[], runner=runner,
        tasks=[ShardTask(i, f"label {i}") for i in range(n)], shard_fn=functools.partial(_flaky, folder),
    )


def test_local_runner_retries_transient_errors_and_reports_shard_errors(tmp_path):
    with pytest.raises(StageFailedError) as err:
        _run(tmp_path, LocalRunner(max_retries=1))
    assert list(err.value.failures) == [2]
    assert "ShardError: in-2 at byte offset 7: input is corrupt" in err.value.failures[2]
    assert (tmp_path / "part-00000.txt").exists() and (tmp_path / "part-00001.txt").exists()
    assert not (tmp_path / "_manifest.json").exists()
    m = _run(tmp_path, LocalRunner(), n=2)  # the finished shards are reused, nothing re-run
    assert m.stats["kept"] == 2 and m.stats["shards"] == 2


def test_retries_are_counted_in_the_stage_stats(tmp_path):
    runner = LocalRunner(max_retries=1)
    m = _run(tmp_path, runner, n=2)
    assert runner.retries == {0: 1, 1: 1} and m.stats["retries"] == 2 and m.stats["kept"] == 2
    assert _run(tmp_path, LocalRunner(), n=2).stats["retries"] == 2  # a complete stage: as its run recorded


def test_local_runner_without_retries_fails_the_shard(tmp_path):
    with pytest.raises(StageFailedError) as err:
        _run(tmp_path, LocalRunner(max_retries=0), n=2)
    assert sorted(err.value.failures) == [0, 1]
    assert "RetryableError: transient" in err.value.failures[0]


def test_fatal_error_stops_everything(tmp_path):
    def fatal(task: ShardTask) -> ShardOutput:
        raise FatalError("disk full")

    with pytest.raises(FatalError):
        run_stage(stage="f", dataset=tmp_path, config={}, inputs=[], tasks=[ShardTask(0, "a")], shard_fn=fatal,
                  runner=LocalRunner())


@pytest.mark.ray
def test_ray_runner_retries_and_reports(ray_local, tmp_path):
    import sys

    from ray import cloudpickle

    from webtext.runner.ray_runner import RayRunner

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    runner = RayRunner(max_retries=1, cpus_per_task=0.5)
    with pytest.raises(StageFailedError) as err:
        _run(tmp_path, runner)
    assert list(err.value.failures) == [2]
    assert runner.retries == {0: 1, 1: 1}  # counted in the driver (a ShardError is not retried)
    assert "in-2 at byte offset 7" in err.value.failures[2]
    assert (tmp_path / "part-00001.txt").read_text() == "label 1"
