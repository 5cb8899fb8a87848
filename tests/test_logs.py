"""Off a terminal: progress as log lines at most every N seconds, plain one-line records (never wrapped);
Ray's own start-up messages only with -v."""

from __future__ import annotations

import io
import logging
import re
import sys

import pytest

from webtext.errors import ConfigError
from webtext.logs import PROGRESS_SECONDS_ENV, Progress, progress_seconds, setup_logging
from webtext.runner import LocalRunner
from webtext.runner.base import ShardTask


class _Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def stderr(monkeypatch):
    """A non-terminal stderr, swapped in by the test itself (pytest re-installs its capture after fixtures)."""
    pipe = _Pipe()
    saved = logging.getLogger().handlers[:], logging.getLogger("webtext").level
    yield lambda: monkeypatch.setattr(sys, "stderr", pipe) or pipe
    logging.getLogger().handlers[:] = saved[0]
    logging.getLogger("webtext").setLevel(saved[1])


def _record(rows: int) -> dict:
    return {"counts": {"total": rows, "kept": rows}}


def test_progress_lines_off_a_terminal(stderr, monkeypatch):
    monkeypatch.setenv(PROGRESS_SECONDS_ENV, "0")  # every shard: the interval is the only throttle
    stderr = stderr()
    setup_logging(0)
    runner = LocalRunner()
    tasks = [ShardTask(i, f"file {i}") for i in range(3)]
    results, failures = runner.run(lambda t: _record(1000), tasks, "urls")
    assert len(results) == 3 and not failures
    lines = [line for line in stderr.getvalue().splitlines() if "shards" in line]
    assert len(lines) == 3
    assert [line.split(" INFO ")[1].split(",")[0] for line in lines] == [f"urls: {k}/3 shards" for k in (1, 2, 3)]
    assert all(re.search(r", [\d,]+ rows/s, ETA (\d+s|unknown|done)$", line) for line in lines), lines
    assert lines[-1].endswith("ETA done")


def test_progress_at_most_every_interval(stderr):
    stderr = stderr()
    setup_logging(0)
    with Progress(4, "dedup", interval=3600) as bar:
        for _ in range(4):
            bar.advance(rows=10)
    assert "shards" not in stderr.getvalue()
    assert bar.line(2.0) == "dedup: 4/4 shards, 20 rows/s, ETA done"
    half = Progress(4, "dedup", interval=3600)
    half.advance(2, rows=100)
    assert half.line(10.0) == "dedup: 2/4 shards, 10 rows/s, ETA 10s"


def test_progress_interval_from_the_environment(monkeypatch):
    monkeypatch.delenv(PROGRESS_SECONDS_ENV, raising=False)
    assert progress_seconds() == 30.0
    monkeypatch.setenv(PROGRESS_SECONDS_ENV, "5")
    assert progress_seconds() == 5.0
    monkeypatch.setenv(PROGRESS_SECONDS_ENV, "soon")
    with pytest.raises(ConfigError, match=PROGRESS_SECONDS_ENV):
        progress_seconds()


def test_long_paths_never_wrap_off_a_terminal(stderr):
    stderr = stderr()
    setup_logging(0)
    path = "/mnt/shared/" + "/".join(f"folder-{i:02d}" for i in range(20)) + "/_manifest.json"
    logging.getLogger("webtext.runner.stage").info("urls: wrote %s (3 shards)", path)
    out = stderr.getvalue().splitlines()
    assert len(out) == 1 and out[0].endswith(f"urls: wrote {path} (3 shards)")


def test_ray_start_up_messages_only_with_verbose():
    from webtext.runner.ray_runner import ray_logging_level

    saved = logging.getLogger("webtext").level
    try:
        setup_logging(0)
        assert ray_logging_level() == logging.ERROR  # hides Ray's token-authentication warnings
        setup_logging(1)
        assert ray_logging_level() == logging.INFO
    finally:
        logging.getLogger("webtext").setLevel(saved)
