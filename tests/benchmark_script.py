"""A script of ``benchmarks/`` loaded as a module, for tests of its pure arithmetic (no timing)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def loaded(name: str) -> Iterator[ModuleType]:
    """``benchmarks/<name>.py`` as the module ``benchmarks_<name>`` while the caller's fixture lasts."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
