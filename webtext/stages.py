"""The stage registry: every stage, in pipeline order, one line each.

A line is ``"module:ATTRIBUTE"`` naming a ``StageSpec`` in a stage package's light ``stage.py``;
it is imported on first use, so ``import webtext`` stays light. Adding a stage = a new package
(``config.py``, its run function, ``stage.py``) + one line here. Plugins and tests add a stage
without a line through ``register`` (it runs after the listed ones).
"""

from __future__ import annotations

import functools
import importlib

from webtext.stage_spec import StageSpec

_STAGES = (
    "webtext.crawl.stage:URLS",
    "webtext.crawl.stage:CRAWL",
    "webtext.extract.stage:STAGE",
    "webtext.dedup.stage:STAGE",
    "webtext.contamination.stage:CONTAMINATION",
    "webtext.contamination.stage:DECONTAMINATE",
    "webtext.tokenize.stage:TRAIN_TOKENIZER",
    "webtext.tokenize.stage:TOKENIZE",
    "webtext.train.stage:STAGE",
    "webtext.eval.stage:STAGE",
    "webtext.memorization.stage:STAGE",
)

_registered: dict[str, StageSpec] = {}


@functools.cache
def _listed() -> tuple[StageSpec, ...]:
    specs = []
    for line in _STAGES:
        module, _, attr = line.partition(":")
        spec = getattr(importlib.import_module(module), attr or "STAGE")
        if not isinstance(spec, StageSpec):
            raise TypeError(f"{line} is not a StageSpec")
        specs.append(spec)
    return tuple(specs)


def registry() -> dict[str, StageSpec]:
    """Stage name -> its record, in pipeline order."""
    specs = {s.name: s for s in _listed()}
    specs.update(_registered)
    return specs


def register(spec: StageSpec) -> StageSpec:
    """Add a stage that has no line in ``_STAGES`` (a plugin, a test); it runs after the listed ones."""
    if any(s.name == spec.name for s in _listed()):
        raise ValueError(f"stage {spec.name!r} is already in the registry")
    _registered[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a stage added with ``register``."""
    _registered.pop(name, None)
