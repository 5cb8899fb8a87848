"""Shared fixtures: one local Ray per session; ``shared_data`` (real_data.py), re-exported for the tests."""

from __future__ import annotations

import os

import pytest
from real_data import REPO, shared_data  # noqa: F401 (tests import both from here too)


@pytest.fixture(scope="session")
def ray_local():
    """One embedded local Ray for the whole test session (starting one costs ~4 s)."""
    ray = pytest.importorskip("ray")
    from webtext.runner.ray_runner import init_ray

    os.environ.pop("RAY_ADDRESS", None)
    started = init_ray(num_cpus=2, dashboard=False)
    yield ray
    if started:
        ray.shutdown()
