"""Run the urls stage on a three-node Ray cluster on this machine and remove a worker node mid-stage.

Run by tests/test_cluster.py in its own process (a ``ray.cluster_utils.Cluster`` needs its own
``ray.init``; the session's shared local Ray stays untouched): ``python tests/node_loss_run.py
INPUTS OUT SIGNALS``. The head has no CPUs, so every shard runs on one of the two workers. The
first shard of the final (reduce) pass that starts once ``AFTER`` of that pass's shards are done
claims the ``paused`` file, writes its node id there and sleeps; the driver's watcher removes
that node, the runner retries the shard on the other worker. Prints one JSON line: the node ids
that ran shards, the node removed, and the manifest's retries.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path

# Every node and the driver on loopback: Ray would otherwise turn 127.0.0.1 into this machine's
# outward address when connecting (services.resolve_ip_for_localhost), which nothing listens on here.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from ray.cluster_utils import Cluster

from webtext.crawl.config import UrlsConfig
from webtext.crawl.url_stage import run_urls
from webtext.runner.ray_runner import RayRunner

PAUSE_IN = "urls"  # the reduce pass: the stage's own manifest carries its retries
AFTER = 2  # shards of that pass done before the node goes


def pausing(fn, signals: str, description: str, task):
    """Run ``fn(task)``, noting the node; the first eligible shard of PAUSE_IN waits for its node's removal."""
    folder = Path(signals)
    node = ray.get_runtime_context().get_node_id()
    if description == PAUSE_IN and len(list(folder.glob(f"{PAUSE_IN}-done-*"))) >= AFTER:
        claim = folder / f"paused.tmp-{os.getpid()}"
        claim.write_text(node)
        try:
            os.link(claim, folder / "paused")  # atomic: one shard claims the pause
        except FileExistsError:
            pass
        else:
            time.sleep(600)  # the driver removes this node; the shard is retried elsewhere
        finally:
            claim.unlink()
    record = fn(task)
    (folder / f"{description}-done-{task.index:05d}").write_text(node)
    return record


class PausingRunner(RayRunner):
    def __init__(self, signals: Path) -> None:
        super().__init__(max_retries=2)
        self.signals = signals

    def run(self, fn, tasks, description):
        return super().run(functools.partial(pausing, fn, str(self.signals), description), tasks, description)


def main() -> None:
    inputs, out, signals = (Path(a) for a in sys.argv[1:4])
    signals.mkdir(parents=True, exist_ok=True)
    node_args = {"node_ip_address": "127.0.0.1", "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args={**node_args, "num_cpus": 0})
    workers = [cluster.add_node(num_cpus=1, **node_args) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level=logging.ERROR, _node_ip_address="127.0.0.1")
    removed: list[str] = []

    def watch() -> None:
        while not (signals / "paused").exists():
            time.sleep(0.2)
        node_id = (signals / "paused").read_text()
        (node,) = [w for w in workers if w.node_id == node_id]
        cluster.remove_node(node, allow_graceful=False)
        removed.append(node_id)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        manifest = run_urls(UrlsConfig(inputs=[str(inputs)], buckets=4), out, PausingRunner(signals))
    finally:
        ray.shutdown()
        cluster.shutdown()
    ran_on = sorted({p.read_text() for p in signals.glob("*-done-*")})
    print(json.dumps({"ran_on": ran_on, "workers": sorted(w.node_id for w in workers), "removed": removed,
                      "retries": manifest.stats["retries"]}))


if __name__ == "__main__":
    main()
