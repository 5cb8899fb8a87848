"""What identifies a training run: its settings (minus how it is executed) and its data.

A run folder's fingerprint is recorded in every checkpoint and in the manifest. It covers the
settings as given that decide *what* is trained (model, batch, schedule, seed, ...) and the tokens
dataset's manifest digest, so a retokenized dataset or a changed learning rate is visible. It
leaves out the knobs that may change between a run and its resume without changing the run:
how far to go (``max_steps``), how it runs (processes, launcher, device, compile, activation
checkpointing, micro-batches, determinism) and what is logged or kept.

What a changed fingerprint means: ``--resume`` refuses a checkpoint whose fingerprint differs
(a ConfigError naming what changed) unless ``--resume-changed`` asks to continue anyway (training
on from those weights with the new data or settings); without ``--resume`` a run starts afresh
as always. Checkpoints written before fingerprints existed carry none and resume as before.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

#: Settings that may differ between a run and its resume (left out of the fingerprint).
EXECUTION_KNOBS = frozenset({
    "data",  # identified by its manifest digest instead of its path
    "max_steps", "resume", "resume_changed", "nproc", "launcher", "device", "compile", "compile_mode",
    "activation_checkpointing",
    "micro_batch_size", "deterministic", "checkpoint_every", "keep_checkpoints", "max_skipped_steps", "log_every",
    "tensorboard", "peak_tflops", "attention",
    "inject_nan_steps",  # an old test hook, leaving TrainConfig: listed so fingerprints stay when it goes
})


def identity(cfg: Any) -> dict[str, Any]:
    """The fingerprinted part of a train config and the data's manifest digest."""
    from webtext.data import manifest_digest

    settings = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name not in EXECUTION_KNOBS}
    return {"settings": settings, "data_manifest_sha256": manifest_digest(Path(cfg.data))}


def digest(ident: dict[str, Any]) -> str:
    """The fingerprint of an ``identity`` record (the runner's digest of stage, config and inputs)."""
    from webtext.runner.stage import fingerprint_of

    return fingerprint_of("train", ident["settings"], [{"manifest_sha256": ident["data_manifest_sha256"]}])


def fingerprint(cfg: Any) -> str:
    return digest(identity(cfg))


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human names of what differs between two ``identity`` records."""
    out = []
    if old.get("data_manifest_sha256") != new.get("data_manifest_sha256"):
        out.append("the tokens dataset (its manifest)")
    a, b = old.get("settings", {}), new.get("settings", {})
    out += [f"{k} ({a.get(k)!r} -> {b.get(k)!r})" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return out
