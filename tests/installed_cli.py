"""The installed ``webtext-build`` command, for tests that run it as a separate process (a SIGKILL, a
fault injected through the environment): the one next to this Python, else the one on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def cli() -> list[str]:
    """The command line that starts ``webtext-build``; skips the test if it is not installed."""
    exe = Path(sys.executable).with_name("webtext-build")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("webtext-build")
    if found is None:
        pytest.skip("webtext-build is not installed next to this Python")
    return [found]
