"""Where the real third-party data lives (../shared/data): in a module of its own, not only in conftest.py,
because tests/faults/ has a conftest.py too and, run alone, it is the ``conftest`` a helper would import."""

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
