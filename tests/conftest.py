"""Shared fixtures: the one helper that reads ../shared/data, and one local Ray per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data(name: str) -> Path:
    """A folder of the real third-party data in ../shared/data; skips the test if it is absent."""
    root = Path(os.environ.get("WEBTEXT_SHARED_DATA", REPO.parent / "shared" / "data"))
    path = root / name
    if not path.exists():
        pytest.skip(f"real data {path} is not on this machine (set WEBTEXT_SHARED_DATA to its folder)")
    return path


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
