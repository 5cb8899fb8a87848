"""Typed configuration: the generic pieces every stage's config is built from, and ``pipelines.yaml``.

Each stage has one dataclass, in its own package (``webtext/<stage>/config.py``). Its fields
carry their help text in ``metadata["help"]``; the CLI builds its options from them
(``min_karma`` -> ``--min-karma``; a bool that defaults to True becomes ``--no-<name>``) and
``pipelines.yaml`` uses the same names as keys. Every value goes through ``from_mapping``, which
raises ``ConfigError`` naming the YAML key (or CLI flag) for an unknown key, a wrong type or a
missing value. This module names no stage and imports none: ``read_pipeline`` takes the table
of stage names and config classes (``webtext.pipeline.load_pipeline`` passes the registry's).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from webtext.errors import ConfigError
from webtext.jobenv import refuse_relative, refuse_relative_fields

T = TypeVar("T")


def opt(default: Any = dataclasses.MISSING, help: str = "", **meta: Any) -> Any:
    """A config field with help text (``positional=True`` for CLI positionals; for a bool that defaults to
    True, ``neg_help`` says what its ``--no-X`` flag does)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})


# ---------------------------------------------------------------------------------------------
# Generic loading and type checking


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except ConfigError:
                continue
        raise ConfigError(key, f"expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(key, f"expected one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str | int | float) and not isinstance(value, bool) and item is str:
            value = [value]
        if not isinstance(value, list | tuple):
            raise ConfigError(key, f"expected a list, got {value!r}")
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(key, f"expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(key, f"expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(key, f"expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float | dt.date) and not isinstance(value, bool):
            return str(value)  # YAML reads 2018-01-01 as a date
        raise ConfigError(key, f"expected a string, got {value!r}")
    raise TypeError(f"unsupported config type {tp!r} at {key}")


def from_mapping(cls: type[T], data: dict[str, Any] | None, key: str, base: Path | None = None) -> T:
    """Build config ``cls`` from a mapping; errors name ``key.<field>``.

    With ``base``, relative paths in the config are taken relative to it (the YAML's folder).
    """
    data = dict(data or {})
    if not isinstance(data, dict):
        raise ConfigError(key, f"expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}" if key else unknown[0],
            f"unknown key; valid keys are: {', '.join(sorted(fields))}",
        )
    values = {}
    for name, f in fields.items():
        sub = f"{key}.{name}" if key else name
        if name in data:
            values[name] = _coerce(data[name], hints[name], sub)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(sub, "missing required value")
    obj = cls(**values)
    if hasattr(obj, "resolve_paths"):
        refuse_relative_fields(obj, key)
        if base is not None:
            obj = obj.resolve_paths(base)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(key)
    return obj


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def parse_date(value: str, key: str) -> int:
    """``2018-01-01`` (UTC) or an epoch second count -> epoch seconds."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(key, f"expected a date like 2018-01-01 or epoch seconds, got {value!r}") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp())


def subkey(key: str, name: str) -> str:
    """The YAML path of field ``name`` under ``key`` (just ``name`` for CLI flags)."""
    return f"{key}.{name}" if key else name


def under(base: Path, path: str | None) -> str | None:
    """A config path as given if absolute, a URI (or unset), else relative to ``base`` (the YAML's folder)."""
    return path if not path or "://" in path or Path(path).is_absolute() else str(base / path)


def inputs_under(cfg: T, base: Path, **changes: Any) -> T:
    """``cfg`` with its ``inputs`` (and the given other fields) made relative to ``base``."""
    return dataclasses.replace(cfg, inputs=[under(base, p) for p in cfg.inputs], **changes)  # type: ignore[type-var]


# ---------------------------------------------------------------------------------------------
# Where shards run, and the pipeline file


@dataclass
class RunnerConfig:
    """Where shards run."""

    kind: Literal["ray", "local"] = opt(
        "ray", "ray: one Ray task per shard (embedded local Ray, or the cluster in RAY_ADDRESS); "
        "local: in this process", flag="runner",
    )
    max_retries: int = opt(2, "retries per shard for transient errors and lost workers")
    cpus_per_task: float = opt(1.0, "CPUs Ray reserves for each shard task")
    num_cpus: int | None = opt(None, "CPUs of the embedded local Ray (default: all)")
    dashboard: bool = opt(True, "start the Ray dashboard (bound to 127.0.0.1) with the embedded Ray",
                          neg_help="do not start the Ray dashboard with the embedded Ray")

    def validate(self, key: str) -> None:
        if self.max_retries < 0:
            raise ConfigError(subkey(key, "max_retries"), "must be >= 0")
        if self.cpus_per_task <= 0:
            raise ConfigError(subkey(key, "cpus_per_task"), "must be > 0")
        if self.num_cpus is not None and self.num_cpus < 1:
            raise ConfigError(subkey(key, "num_cpus"), "must be >= 1")


@dataclass
class PipelineConfig:
    """A ``pipelines.yaml`` file: where outputs go, how shards run, which stages with what."""

    workdir: Path | str  # a URI (s3://...) stays a string: Path would fold its //
    runner: RunnerConfig
    stages: dict[str, Any]
    outs: dict[str, Path | str]
    source: Path
    inputs: Any = None  # the ``inputs`` section: how inputs are checked (``webtext.inputs.InputsConfig``)


def read_pipeline(path: Path, stage_configs: Mapping[str, type]) -> PipelineConfig:
    """Read and validate a pipelines.yaml whose ``stages`` may name the keys of ``stage_configs`` (stage name ->
    config class, in pipeline order); every error names the key to change."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError("", f"pipeline file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("", f"{path}: expected a mapping with 'workdir', 'runner' and 'stages'")
    unknown = sorted(set(data) - {"workdir", "runner", "stages", "inputs"})
    if unknown:
        raise ConfigError(unknown[0], "unknown key; valid keys are: inputs, runner, stages, workdir")
    base = path.resolve().parent
    raw_workdir = _coerce(data.get("workdir", "webtext-data"), str, "workdir")
    refuse_relative("workdir", raw_workdir)
    workdir: Path | str = raw_workdir if "://" in raw_workdir else base / raw_workdir
    runner = from_mapping(RunnerConfig, data.get("runner"), "runner")
    raw_stages = data.get("stages")
    if not isinstance(raw_stages, dict) or not raw_stages:
        raise ConfigError("stages", f"expected a mapping of stage names ({', '.join(stage_configs)}) to settings")
    stages: dict[str, Any] = {}
    outs: dict[str, Path | str] = {}
    for name, settings in raw_stages.items():
        if name not in stage_configs:
            raise ConfigError(f"stages.{name}", f"unknown stage; valid stages are: {', '.join(stage_configs)}")
        settings = dict(settings or {})
        out = settings.pop("out", None)
        if out:
            refuse_relative(f"stages.{name}.out", _coerce(out, str, f"stages.{name}.out"))
        out = _coerce(out, str, f"stages.{name}.out") if out else None
        outs[name] = (out if "://" in out else base / out) if out else (
            f"{workdir}/{name}" if isinstance(workdir, str) else workdir / name)
        stages[name] = from_mapping(stage_configs[name], settings, f"stages.{name}", base=base)
    return PipelineConfig(workdir=workdir, runner=runner, stages=stages, outs=outs, source=path,
                          inputs=data.get("inputs") or {})
