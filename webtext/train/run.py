"""The ``train`` stage as the pipeline and the CLI run it: launch, then a manifest for the run.

The manifest's fingerprint is the run's (webtext/train/fingerprint.py: the settings that decide
what is trained and the tokens dataset's manifest digest), so a changed input or config shows.
"""

from __future__ import annotations

from pathlib import Path

from webtext.config import to_dict
from webtext.data import Manifest
from webtext.errors import FatalError
from webtext.train.config import TrainConfig
from webtext.train.metrics_log import read_metrics


def run_train(cfg: TrainConfig, out: Path, runner: object = None) -> Manifest:
    """Train (the runner is not used: training launches its own processes, or Ray Train)."""
    from webtext.writer_lock import writer_lock

    out = Path(out)
    with writer_lock(out, "train"):  # re-entrant under StageSpec.execute; taken here for direct callers
        return _train(cfg, out)


def _train(cfg: TrainConfig, out: Path) -> Manifest:
    from webtext.runner import input_identity
    from webtext.train import checkpoint
    from webtext.train.fingerprint import fingerprint
    from webtext.train.launch import launch

    status = launch(cfg, out)
    if status:
        raise FatalError(f"training stopped with status {status}; see the log (the newest checkpoint in {out} is the "
                         "last good state)")
    found = checkpoint.latest_valid(out)
    rows = read_metrics(out / "metrics.jsonl")
    losses = [r["loss"] for r in rows if r.get("loss") is not None]
    stats = {"steps": rows[-1]["step"] if rows else 0, "first_loss": losses[0] if losses else None,
             "last_loss": losses[-1] if losses else None, "checkpoint": str(found[0]) if found else None,
             "skipped_steps": sum(1 for r in rows if r.get("skipped"))}
    manifest = Manifest(stage="train", fingerprint=fingerprint(cfg), config=to_dict(cfg),
                        inputs=[input_identity(Path(cfg.data))], shards=[], stats=stats)
    manifest.write(out)
    return manifest
