"""Run the stages a ``pipelines.yaml`` declares, in registry order, and summarise what each produced.

Before the first stage runs, every stage's static inputs (the files its config names: dumps,
blocklists, benchmarks, tokenizers) are checked, so a missing benchmark file is reported before
urls and dedup spend hours; inputs an earlier stage of the same run writes are not checked.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from webtext.config import PipelineConfig, from_mapping, read_pipeline
from webtext.data import Manifest
from webtext.errors import ConfigError
from webtext.inputs import InputsConfig, checking
from webtext.runner import Runner
from webtext.stages import registry

log = logging.getLogger(__name__)


def load_pipeline(path: Path) -> PipelineConfig:
    """Read and validate a pipelines.yaml against the registered stages; errors name the key to change.
    Its ``inputs`` section (how every stage checks its inputs) becomes an ``InputsConfig``."""
    pipeline = read_pipeline(path, {name: spec.config for name, spec in registry().items()})
    pipeline.inputs = from_mapping(InputsConfig, pipeline.inputs, "inputs")
    return pipeline


def summarise(stage: str, manifest: Manifest) -> str:
    """The stage's one summary line for humans (its own ``summarise``, or the generic one)."""
    return registry()[stage].summary(manifest)


def stages_to_run(pipeline: PipelineConfig, only: Sequence[str] | None = None) -> list[str]:
    """The declared stages (or ``only`` those), in pipeline order."""
    names = [n for n in registry() if n in pipeline.stages]
    if only:
        unknown = [n for n in only if n not in pipeline.stages]
        if unknown:
            raise ConfigError("--stages", f"{unknown[0]!r} is not declared in {pipeline.source}; "
                                          f"declared: {', '.join(names)}")
        names = [n for n in names if n in only]
    return names


def check_static_inputs(pipeline: PipelineConfig, only: Sequence[str] | None = None) -> None:
    """ConfigError naming the YAML key (``stages.<name>.<key>``) of the first missing static input of the
    stages to run; an input inside the output folder of a stage that runs before it is not checked."""
    specs = registry()
    produced: list[Path | str] = []
    for name in stages_to_run(pipeline, only):
        specs[name].check_static(pipeline.stages[name], f"stages.{name}", produced)
        produced.append(pipeline.outs[name])


def run_pipeline(
    pipeline: PipelineConfig, runner: Runner, only: Sequence[str] | None = None
) -> dict[str, Manifest]:
    """Run the declared stages (or ``only`` those) in pipeline order, once all their static inputs are there."""
    specs = registry()
    names = stages_to_run(pipeline, only)
    check_static_inputs(pipeline, only)
    results: dict[str, Manifest] = {}
    with checking(pipeline.inputs if isinstance(pipeline.inputs, InputsConfig) else InputsConfig()):
        for name in names:
            out = pipeline.outs[name]
            log.info("stage %s -> %s", name, out)
            results[name] = specs[name].execute(pipeline.stages[name], out, runner)
            log.info("%s", summarise(name, results[name]))
    return results
