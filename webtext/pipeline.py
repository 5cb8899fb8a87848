"""Run the stages a ``pipelines.yaml`` declares, in registry order, and summarise what each produced."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from webtext.config import PipelineConfig, read_pipeline
from webtext.data import Manifest
from webtext.errors import ConfigError
from webtext.runner import Runner
from webtext.stages import registry

log = logging.getLogger(__name__)


def load_pipeline(path: Path) -> PipelineConfig:
    """Read and validate a pipelines.yaml against the registered stages; errors name the key to change."""
    return read_pipeline(path, {name: spec.config for name, spec in registry().items()})


def summarise(stage: str, manifest: Manifest) -> str:
    """The stage's one summary line for humans (its own ``summarise``, or the generic one)."""
    return registry()[stage].summary(manifest)


def run_pipeline(
    pipeline: PipelineConfig, runner: Runner, only: Sequence[str] | None = None
) -> dict[str, Manifest]:
    """Run the declared stages (or ``only`` those) in pipeline order."""
    specs = registry()
    names = [n for n in specs if n in pipeline.stages]
    if only:
        unknown = [n for n in only if n not in pipeline.stages]
        if unknown:
            raise ConfigError("--stages", f"{unknown[0]!r} is not declared in {pipeline.source}; "
                                          f"declared: {', '.join(names)}")
        names = [n for n in names if n in only]
    results: dict[str, Manifest] = {}
    for name in names:
        out = pipeline.outs[name]
        log.info("stage %s -> %s", name, out)
        results[name] = specs[name].execute(pipeline.stages[name], out, runner)
        log.info("%s", summarise(name, results[name]))
    return results
