"""Shared by the eval benchmarks: a randomly initialised GPT-2 saved as a Hugging Face folder
(config.json + model.safetensors, written from webtext's own model: no transformers needed) and
LAMBADA-format passages drawn from WikiText-2 valid lines (as shared/checks/eval_parity.py does)."""

from __future__ import annotations

import json
from pathlib import Path


def write_random_gpt2(folder: Path, n_layer: int, n_head: int, n_embd: int, block_size: int, seed: int = 0) -> Path:
    import torch
    from safetensors.torch import save_file

    from webtext.train.export import _LINEAR_SUFFIXES, hf_config
    from webtext.train.model import GPT, GPTConfig

    torch.manual_seed(seed)
    cfg = GPTConfig(n_layer, n_head, n_embd, block_size, 50257)
    model = GPT(cfg)
    tensors = {name: (v.t() if name.endswith(_LINEAR_SUFFIXES) else v).contiguous().clone()
               for name, v in model.state_dict().items() if name != "lm_head.weight"}
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(hf_config(cfg), indent=2))
    return folder


def lambada_like(valid: Path, out: Path, n: int, repeat: bool = False) -> Path:
    """Up to ``n`` passages (lines of >= 30 words, cut at 120); ``repeat``: cycle through them
    until there are ``n`` (WikiText-2 valid has ~1,600; LAMBADA's test set 5,153)."""
    texts = []
    for line in valid.read_text(encoding="utf-8").splitlines():
        words = line.strip().split(" ")
        if len(words) >= 30 and not line.strip().startswith("="):
            texts.append(" ".join(words[:120]))
        if len(texts) == n:
            break
    if repeat and texts:
        texts = [texts[i % len(texts)] for i in range(n)]
    out.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return out
