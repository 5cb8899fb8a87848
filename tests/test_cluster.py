"""A real multi-node Ray cluster on this machine (head + two workers) loses a worker node mid-stage:
the stage finishes on the other worker, output identical to an undisturbed run, the retry counted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from webtext.crawl.config import UrlsConfig
from webtext.crawl.url_stage import run_urls
from webtext.data import Manifest
from webtext.demo.sample_dump import write_sample_dump
from webtext.runner import LocalRunner

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _parts(manifest: Manifest) -> list[tuple[str, int, str]]:
    return sorted((f["path"], f["rows"], f["sha256"]) for s in manifest.shards for f in s["files"])


def test_lost_worker_node_mid_stage_gives_identical_output(tmp_path):
    pytest.importorskip("ray")
    for i in range(3):
        write_sample_dump(tmp_path / "in" / f"RS_2017-0{i + 1}.zst", 1200, seed=i, junk_every=60)
    # Its own process: a Cluster needs its own ray.init; the session's local Ray is left alone.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "node_loss_run.py"), str(tmp_path / "in"), str(tmp_path / "cluster"),
         str(tmp_path / "signals")],
        env=env, capture_output=True, text=True, timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ran_on"] == report["workers"]  # shards ran on both worker nodes
    assert len(report["removed"]) == 1 and report["removed"][0] in report["workers"]
    assert report["retries"] == 1
    assert "NodeDiedError" in done.stderr or "WorkerCrashedError" in done.stderr  # the retry's log line

    on_cluster = Manifest.read(tmp_path / "cluster")
    assert on_cluster is not None and on_cluster.stats["retries"] == 1
    undisturbed = run_urls(UrlsConfig(inputs=[str(tmp_path / "in")], buckets=4), tmp_path / "local", LocalRunner())
    assert undisturbed.stats["retries"] == 0
    assert _parts(on_cluster) == _parts(undisturbed) and on_cluster.stats["kept"] == undisturbed.stats["kept"] > 0
    buckets = [Manifest.read(tmp_path / run / "__buckets") for run in ("cluster", "local")]
    assert _parts(buckets[0]) == _parts(buckets[1])  # type: ignore[arg-type]
    assert not list((tmp_path / "cluster").rglob(".tmp-*"))
