"""The ``eval`` stage's configuration (CLI flags and ``stages.eval`` in pipelines.yaml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from webtext.config import opt, subkey, under
from webtext.contamination.config import benchmark_files, resolve_named_paths
from webtext.errors import ConfigError
from webtext.stage_spec import StaticInput


@dataclass
class EvalConfig:
    """``eval``: GPT-2's zero-shot Table 3 tasks on a checkpoint or a Hugging Face GPT-2 folder."""

    model: str = opt(help="a train run folder (its newest valid checkpoint), a step-N checkpoint, or a Hugging Face "
                          "GPT-2 folder (config.json + model.safetensors + tokenizer files)", positional=True)
    tasks: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="NAME=SOURCE (repeat): wikitext2, wikitext103, ptb, 1bw, lambada, cbt-cn, cbt-ne, enwik8, text8 = their "
        "test file; any other NAME needs NAME=lines:PATH (each line, rolling) or NAME=PATH.jsonl#FIELD", flag="task",
    )
    batch_size: int = opt(8, "sequences per forward pass")
    context: int | None = opt(None, "window length in tokens (default: the model's context)")
    stride: int | None = opt(None, "tokens newly scored per rolling window (default: the context: lm-eval's disjoint "
                                   "windows); smaller gives overlapping windows with more context per token")
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto: CUDA when available")
    dtype: Literal["fp32", "bf16"] | None = opt(None, "fp32 or bf16 autocast (default: fp32 on CPU, bf16 on CUDA)")
    limit: int | None = opt(None, "score only the first N examples of each task (WikiText: N articles; a quick look)")
    tokenizer: str | None = opt(None, "tokenizer file or folder (default: the HF folder's, or the run's tokens "
                                      "dataset's; a run checks its hash)")

    def validate(self, key: str) -> None:
        if not self.model:
            raise ConfigError(subkey(key, "model"), "give the model (run folder, step-N or HF GPT-2 folder)")
        if not self.tasks:
            raise ConfigError(subkey(key, "tasks") if key else "--task", "give at least one NAME=SOURCE")
        for name in ("batch_size", "context", "stride", "limit"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(subkey(key, name), "must be >= 1")
        if self.context is not None and self.stride is not None and self.stride > self.context:
            raise ConfigError(subkey(key, "stride"), f"must be <= the context ({self.context})")

    def static_inputs(self) -> list[StaticInput]:
        """The model, every task file and the tokenizer (checked before a pipeline runs)."""
        tokenizer = [StaticInput("tokenizer", self.tokenizer, "tokenizer")] if self.tokenizer else []
        return [StaticInput("model", self.model, "model"), *benchmark_files("tasks", self.tasks), *tokenizer]

    def resolve_paths(self, base: Path) -> EvalConfig:
        return dataclasses.replace(self, model=under(base, self.model) or self.model,
                                   tasks=resolve_named_paths(self.tasks, base),
                                   tokenizer=under(base, self.tokenizer))

