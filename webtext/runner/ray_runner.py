"""The Ray runner: one Ray task per shard, same per-shard function as the local runner.

Without ``RAY_ADDRESS`` it starts an embedded local Ray (dashboard bound to 127.0.0.1 only) and
shuts it down on ``close``; with ``RAY_ADDRESS`` set (``ray job submit`` sets it) it joins that
cluster. If Ray is already initialised in this process (tests share one), it is reused as is.

Retries happen here, in the driver, not through Ray's ``max_retries``: a shard whose task raised
``RetryableError``, or whose worker or node was lost (``NodeDiedError``, ``WorkerCrashedError``,
...), is submitted again, at most ``max_retries`` times, so every retry is logged and counted
(``retries``, which ``run_stage`` puts in the stage's stats; Ray's own re-executions are invisible).
A shard's files are written whole and renamed into place, so a lost attempt leaves at most
temporaries, and the retry writes the same bytes.

Ray's own start-up messages (token authentication notices and the like) are shown with ``-v`` only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from webtext.errors import FatalError, RetryableError
from webtext.logs import progress
from webtext.runner.base import ShardTask, rows_read
from webtext.runner.local import describe_error

log = logging.getLogger(__name__)


def ray_logging_level() -> int:
    """Ray's log level: its INFO with ``-v`` (webtext at DEBUG), else errors only."""
    return logging.INFO if logging.getLogger("webtext").isEnabledFor(logging.DEBUG) else logging.ERROR


def init_ray(num_cpus: int | None = None, dashboard: bool = True) -> bool:
    """Connect to ``RAY_ADDRESS`` or start a local Ray on loopback. Returns True if we started it."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a declared dependency
        raise FatalError("the Ray runner needs ray: pip install 'ray[default]'") from exc
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    address = os.environ.get("RAY_ADDRESS")
    if address:
        log.info("joining the Ray cluster at %s", address)
        ray.init(address=address, logging_level=ray_logging_level())
        return True
    log.info("starting an embedded local Ray (%s)", "dashboard on 127.0.0.1" if dashboard else "no dashboard")
    ray.init(
        address="local",
        num_cpus=num_cpus,
        include_dashboard=dashboard,
        dashboard_host="127.0.0.1",
        _node_ip_address="127.0.0.1",
        logging_level=ray_logging_level(),
    )
    return True


def _call(fn: Callable[[ShardTask], dict[str, Any]], task: ShardTask) -> dict[str, Any]:
    """The Ray task body (ray.remote needs a plain function, not a partial)."""
    return fn(task)


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    """Ray's errors for a task whose worker or node went away: the shard itself did nothing wrong."""
    from ray import exceptions as rex

    return (rex.NodeDiedError, rex.WorkerCrashedError, rex.ObjectLostError, rex.OutOfMemoryError)


class RayRunner:
    name = "ray"

    def __init__(
        self, max_retries: int = 2, cpus_per_task: float = 1.0, num_cpus: int | None = None,
        dashboard: bool = True,
    ) -> None:
        self.max_retries = max_retries
        self.cpus_per_task = cpus_per_task
        self.num_cpus = num_cpus
        self.dashboard = dashboard
        self.retries: dict[int, int] = {}  # shard index -> retries in the last ``run``
        self._owned: bool | None = None

    def parallelism(self) -> int:
        """Shard tasks that run at once: the cluster's CPUs over the CPUs each task reserves."""
        import ray

        if self._owned is None:
            self._owned = init_ray(self.num_cpus, self.dashboard)
        cpus = ray.cluster_resources().get("CPU", 1)
        return max(1, int(cpus // max(self.cpus_per_task, 1e-9)))

    def _retry(self, description: str, task: ShardTask, why: str) -> bool:
        """Count and log one more attempt of ``task``, or False when its retries are used up."""
        used = self.retries.get(task.index, 0)
        if used >= self.max_retries:
            return False
        self.retries[task.index] = used + 1
        log.warning("%s: shard %05d (%s): %s; retrying (%d of %d)", description, task.index, task.label, why,
                    used + 1, self.max_retries)
        return True

    def run(
        self, fn: Callable[[ShardTask], dict[str, Any]], tasks: Sequence[ShardTask], description: str
    ) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
        import ray

        if self._owned is None:
            self._owned = init_ray(self.num_cpus, self.dashboard)
        lost = _lost_worker_errors()
        # max_retries=0: the driver retries (below), so that every retry is counted.
        remote = ray.remote(_call).options(num_cpus=self.cpus_per_task, max_retries=0, name=description)
        fn_ref = ray.put(fn)  # serialised once, shared by every task
        self.retries = {}
        pending = {remote.remote(fn_ref, task): task for task in tasks}
        results: dict[int, dict[str, Any]] = {}
        failures: dict[int, str] = {}
        with progress(len(tasks), description) as bar:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    task = pending.pop(ref)
                    try:
                        results[task.index] = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:
                        cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                        if isinstance(cause, FatalError):
                            for other in pending:
                                ray.cancel(other)
                            raise cause from None
                        if isinstance(cause, RetryableError) and self._retry(description, task, str(cause)):
                            pending[remote.remote(fn_ref, task)] = task
                            continue
                        failures[task.index] = describe_error(cause)
                    except lost as exc:
                        if self._retry(description, task, f"{type(exc).__name__} (worker or node lost)"):
                            pending[remote.remote(fn_ref, task)] = task
                            continue
                        failures[task.index] = f"{type(exc).__name__}: {exc}"
                    except ray.exceptions.RayError as exc:  # task cancelled, unschedulable, ...
                        failures[task.index] = f"{type(exc).__name__}: {exc}"
                    if task.index in failures:
                        log.error("shard %05d (%s) failed: %s", task.index, task.label, failures[task.index])
                    bar.advance(rows=rows_read(results.get(task.index)))
        return results, failures

    def close(self) -> None:
        if self._owned:
            import ray

            ray.shutdown()
        self._owned = None
