"""Config of the ``train`` stage (flags of ``webtext-build train``, keys of ``stages.train``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from webtext.config import opt, subkey, under
from webtext.errors import ConfigError
from webtext.stage_spec import StaticInput


@dataclass
class TrainConfig:
    """The ``train`` stage: GPT-2 on token shards with FSDP2, checkpoints and exact resume."""

    data: str = opt(help="a tokens dataset (its train/ split is read)")
    preset: Literal["tiny", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"] = opt("gpt2", "model size")
    n_layer: int | None = opt(None, "override the preset's layers")
    n_head: int | None = opt(None, "override the preset's attention heads")
    n_embd: int | None = opt(None, "override the preset's width")
    block_size: int | None = opt(None, "override the preset's context length")
    pad_vocab: bool = opt(False, "pad the embedding/head rows to a multiple of 64 (faster on GPUs)")
    seq_len: int | None = opt(None, "tokens per training window (default: the context length)")
    max_steps: int = opt(1000, "optimizer steps to reach (a resumed run continues up to it)")
    batch_size: int | None = opt(None, "global batch in sequences per optimizer step (default: the preset's)")
    total_batch_tokens: int | None = opt(None, "global batch in tokens (GPT-2: 524288 = 512 x 1024); sets batch_size")
    micro_batch_size: int | None = opt(None, "sequences per process per forward pass (default: as large as the batch "
                                             "allows); gradient accumulation makes up the rest")
    lr: float | None = opt(None, "peak learning rate (default: the preset's)")
    min_lr: float | None = opt(None, "learning rate at the end of the cosine decay (default: lr / 10)")
    warmup_steps: int | None = opt(None, "linear warm-up steps (default: the preset's)")
    lr_decay_steps: int | None = opt(None, "steps of the cosine decay, independent of max_steps so a run can stop and "
                                           "resume (default: the preset's)")
    weight_decay: float = opt(0.1, "AdamW weight decay on matrices (not on biases, norms)")
    beta1: float = opt(0.9, "AdamW beta1")
    beta2: float = opt(0.95, "AdamW beta2")
    grad_clip: float = opt(1.0, "clip the global gradient norm to this (0: off)")
    seed: int = opt(1337, "seed of the initial weights and of the data order")
    deterministic: bool = opt(False, "bitwise-reproducible: deterministic algorithms, fixed seeds")
    checkpoint_every: int = opt(0, "checkpoint every N steps (the last step always is); 0: only the last")
    keep_checkpoints: int = opt(2, "newest checkpoints kept (>= 2)")
    resume: bool = opt(False, "continue from the newest valid checkpoint in --out (any --nproc)")
    resume_changed: bool = opt(False, "with --resume: continue even if the data or the training settings changed "
                                      "since the checkpoint (its fingerprint differs)")
    nproc: int = opt(1, "local processes (torchrun semantics); torchrun/Ray Train set their own")
    launcher: Literal["local", "ray"] = opt("local", "local: spawn --nproc processes here; ray: Ray Train's "
                                                     "TorchTrainer with --nproc workers on the cluster")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto: CUDA when available")
    compile: bool = opt(False, "torch.compile the model")
    compile_mode: Literal["default", "max-autotune-no-cudagraphs"] = opt(
        "default", "with --compile: torch.compile's mode; max-autotune-no-cudagraphs benchmarks Triton matmul kernels "
                   "(with fused bias/activation epilogues) against cuBLAS for every shape (minutes more of compiling; "
                   "CUDA graphs stay off: FSDP2's hooks run between the compiled regions)")
    attention: Literal["auto", "cudnn", "flash", "efficient", "math"] = opt(
        "auto", "scaled-dot-product attention kernel tried first (the others stay as fall-backs); auto: PyTorch's "
                "own choice")
    activation_checkpointing: bool = opt(False, "recompute each block's activations in the backward pass")
    max_skipped_steps: int = opt(5, "consecutive non-finite steps after which training stops")
    log_every: int = opt(10, "console log every N steps (metrics.jsonl gets every step)")
    tensorboard: bool = opt(False, "also write TensorBoard events to RUN_DIR/tb (needs the tensorboard package)")
    peak_tflops: float | None = opt(None, "the device's peak TFLOP/s for MFU (default: known GPUs; none on CPU)")

    def validate(self, key: str) -> None:
        if not self.data:
            raise ConfigError(subkey(key, "data"), "give the tokens dataset")  # it may not exist yet in a pipeline
        for name in ("max_steps", "nproc", "max_skipped_steps", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(subkey(key, name), "must be >= 1")
        if self.keep_checkpoints < 2:
            raise ConfigError(subkey(key, "keep_checkpoints"), "must be >= 2 (a corrupt newest one falls back)")
        for name in ("n_layer", "n_head", "n_embd", "block_size", "seq_len", "batch_size", "total_batch_tokens",
                     "micro_batch_size", "warmup_steps", "lr_decay_steps"):
            v = getattr(self, name)
            if v is not None and v < (0 if name == "warmup_steps" else 1):
                raise ConfigError(subkey(key, name), "must be >= 1" if name != "warmup_steps" else "must be >= 0")
        if self.checkpoint_every < 0:
            raise ConfigError(subkey(key, "checkpoint_every"), "must be >= 0")

    def static_inputs(self) -> list[StaticInput]:
        return [StaticInput("data", self.data, "tokens dataset")]

    def resolve_paths(self, base: Path) -> TrainConfig:
        return dataclasses.replace(self, data=under(base, self.data))
