"""The ``memorization`` stage's configuration (CLI flags and ``pipelines.yaml`` keys)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from webtext.config import opt, subkey, under
from webtext.errors import ConfigError
from webtext.stage_spec import StaticInput


@dataclass
class MemorizationConfig:
    """``memorization``: is the model generalizing or memorizing? Clean vs dirty benchmark examples,
    train vs held-out loss over training, extractable training documents, sample overlap with the corpus."""

    run: str = opt(help="the train run folder (every step-N checkpoint in it is evaluated)")
    tokens: str = opt(help="the tokens dataset the run trained on (train/ and val/ splits)")
    contamination: str = opt(help="the contamination report folder (examples/<NAME>.parquet, corpus.bloom)")
    eval: str = opt(help="the eval folder of the run's model (results.json, examples/<NAME>.parquet)")
    prefix_tokens: int = opt(32, "extraction: prompt with a document's first this many tokens (Carlini et al.: k)")
    suffix_tokens: int = opt(32, "extraction: a document counts as extracted when the greedy continuation equals its "
                                 "next this many tokens")
    documents: int = opt(1000, "extraction: train documents drawn (seeded), and as many val documents")
    samples: int = opt(200, "unconditional top-k samples whose n-gram overlap with the training corpus is measured")
    sample_tokens: int = opt(256, "tokens per sample (at most the model's context)")
    top_k: int = opt(40, "top-k of the samples (GPT-2's samples: 40)")
    heavy_overlap: float = opt(0.15, "clean vs dirty: an example is heavily contaminated above this share of its "
                                     "n-grams in the corpus (GPT-2 on LAMBADA: 0.15)")
    heldout_tokens: int = opt(65_536, "train vs held-out: tokens of each split scored per checkpoint (a fixed, seeded "
                                      "sample of windows; the same count for both)")
    bootstrap: int = opt(1000, "bootstrap resamples of the clean-minus-all delta's 95 percent interval")
    batch_size: int = opt(32, "sequences per forward pass (decoding and loss)")
    seed: int = opt(0, "seed of every sample drawn (windows, documents, bootstrap, generation)")
    device: Literal["cpu", "cuda"] = opt("cpu", "where the model runs")
    exact: bool = opt(False, "sample overlap against an exact n-gram set of the train documents (a scan of the "
                             "corpus) instead of the report's corpus.bloom")

    def validate(self, key: str) -> None:
        for name in ("run", "tokens", "contamination", "eval"):
            if not getattr(self, name):
                raise ConfigError(subkey(key, name), f"give the {name} folder")
        for name in ("prefix_tokens", "suffix_tokens", "sample_tokens", "batch_size", "heldout_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(subkey(key, name), "must be >= 1")
        for name in ("documents", "samples", "top_k", "bootstrap"):
            if getattr(self, name) < 0:
                raise ConfigError(subkey(key, name), "must be >= 0")
        if not 0 <= self.heavy_overlap < 1:
            raise ConfigError(subkey(key, "heavy_overlap"), "must be a share in [0, 1), e.g. 0.15 for 15 percent")

    def static_inputs(self) -> list[StaticInput]:
        """The run, tokens, contamination report and eval folders (those a pipeline makes are skipped)."""
        return [StaticInput("run", self.run, "train run"), StaticInput("tokens", self.tokens, "tokens dataset"),
                StaticInput("contamination", self.contamination, "contamination report"),
                StaticInput("eval", self.eval, "eval folder")]

    def resolve_paths(self, base: Path) -> MemorizationConfig:
        return dataclasses.replace(self, **{n: under(base, getattr(self, n))
                                            for n in ("run", "tokens", "contamination", "eval")})
