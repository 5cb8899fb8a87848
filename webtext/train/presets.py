"""Training defaults per model preset (what a flag left unset means)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from webtext.train.config import TrainConfig
from webtext.train.model import PRESETS, GPTConfig


@dataclass(frozen=True)
class Recipe:
    batch_size: int  # global sequences per step
    lr: float
    warmup_steps: int
    lr_decay_steps: int


# GPT-2 trained with 512 x 1024-token batches; the learning rates follow nanoGPT / GPT-3's table.
RECIPES: dict[str, Recipe] = {
    "tiny": Recipe(batch_size=16, lr=3e-3, warmup_steps=10, lr_decay_steps=2_000),
    "gpt2": Recipe(batch_size=512, lr=6e-4, warmup_steps=700, lr_decay_steps=600_000),
    "gpt2-medium": Recipe(batch_size=512, lr=3e-4, warmup_steps=700, lr_decay_steps=600_000),
    "gpt2-large": Recipe(batch_size=512, lr=2.5e-4, warmup_steps=700, lr_decay_steps=600_000),
    "gpt2-xl": Recipe(batch_size=512, lr=2e-4, warmup_steps=700, lr_decay_steps=600_000),
}


def model_config(cfg: TrainConfig, vocab_size: int) -> GPTConfig:
    base = PRESETS[cfg.preset]
    overrides = {k: getattr(cfg, k) for k in ("n_layer", "n_head", "n_embd", "block_size") if getattr(cfg, k)}
    return dataclasses.replace(base, **overrides, vocab_size=vocab_size, pad_vocab_to=64 if cfg.pad_vocab else 1)


def resolved(cfg: TrainConfig, model: GPTConfig, world: int) -> TrainConfig:
    """``cfg`` with every defaulted training value filled in and checked."""
    from webtext.errors import ConfigError

    r = RECIPES[cfg.preset]
    seq_len = cfg.seq_len or model.block_size
    if seq_len > model.block_size:
        raise ConfigError("seq_len", f"{seq_len} exceeds the context length {model.block_size}")
    batch = cfg.batch_size or r.batch_size
    if cfg.total_batch_tokens:
        if cfg.total_batch_tokens % seq_len:
            raise ConfigError("total_batch_tokens", f"{cfg.total_batch_tokens} is not a multiple of seq_len {seq_len}")
        batch = cfg.total_batch_tokens // seq_len
    if batch % world:
        raise ConfigError("batch_size", f"the global batch of {batch} sequences does not divide over {world} processes")
    micro = cfg.micro_batch_size or batch // world
    if (batch // world) % micro:
        raise ConfigError("micro_batch_size", f"{micro} does not divide the {batch // world} sequences per process "
                                              f"(global batch {batch} over {world} processes)")
    lr = cfg.lr if cfg.lr is not None else r.lr
    return dataclasses.replace(
        cfg, seq_len=seq_len, batch_size=batch, micro_batch_size=micro, lr=lr,
        min_lr=cfg.min_lr if cfg.min_lr is not None else lr / 10,
        warmup_steps=cfg.warmup_steps if cfg.warmup_steps is not None else r.warmup_steps,
        lr_decay_steps=cfg.lr_decay_steps or r.lr_decay_steps,
    )
