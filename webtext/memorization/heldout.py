"""Train vs held-out loss over training (GPT-2 Figure 4): every checkpoint of a run scored on the
same fixed, seeded windows of the train split and of the val split (the same number of tokens)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from webtext.errors import ConfigError, VerifyError

log = logging.getLogger(__name__)


def checkpoints(run: Path) -> dict[int, tuple[Path, dict[str, Any]]]:
    """step -> (folder, verified record) of every valid checkpoint of ``run``, oldest first."""
    from webtext.train import checkpoint

    found: dict[int, tuple[Path, dict[str, Any]]] = {}
    for path in checkpoint.checkpoint_dirs(Path(run)):
        try:
            record = checkpoint.verify(path)
        except VerifyError as exc:
            log.warning("skipping checkpoint %s: %s", path, exc)
            continue
        found[int(record["step"])] = (path, record)
    if not found:
        raise ConfigError("run", f"{run} holds no valid step-N checkpoint: train with `webtext-build train --out "
                                 f"{run}` first (or pass the run folder, not a step or export folder)")
    return dict(sorted(found.items()))


def load(path: Path, record: dict[str, Any], device: str):
    import torch

    from webtext.train.checkpoint import load_model_weights
    from webtext.train.model import GPT, GPTConfig

    model = GPT(GPTConfig(**record["model_args"]))
    load_model_weights(path, model)
    return model.to(torch.device(device)).eval()


def fixed_windows(dataset, seed: int, tokens: int, length: int) -> np.ndarray:
    """``tokens // (length - 1)`` windows of ``length`` tokens drawn with ``seed`` (the same every call)."""
    n = max(1, tokens // (length - 1))
    return dataset.sample_windows(np.random.default_rng(seed), n, length)


def window_length(model_context: int, *datasets) -> int:
    """The model's context + 1, or less when a split's largest shard is shorter."""
    largest = min(int(d.sizes.max()) if len(d.sizes) else 0 for d in datasets)
    if largest < 2:
        raise ConfigError("tokens", "a split of the tokens dataset holds fewer than 2 tokens: no window to score")
    return min(model_context + 1, largest)


def mean_loss(model, windows: np.ndarray, batch: int, device: str) -> float:
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            w = torch.from_numpy(windows[i:i + batch]).to(device)
            logits = model(w[:, :-1]).float()
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
                                                       reduction="sum").item()
            count += w[:, 1:].numel()
    return total / count
