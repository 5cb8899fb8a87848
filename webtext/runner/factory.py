"""Build the runner a ``RunnerConfig`` asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from webtext.runner.local import LocalRunner

if TYPE_CHECKING:
    from webtext.config import RunnerConfig
    from webtext.runner.base import Runner


def make_runner(config: RunnerConfig) -> Runner:
    if config.kind == "local":
        return LocalRunner(max_retries=config.max_retries)
    from webtext.runner.ray_runner import RayRunner

    return RayRunner(
        max_retries=config.max_retries, cpus_per_task=config.cpus_per_task, num_cpus=config.num_cpus,
        dashboard=config.dashboard,
    )
