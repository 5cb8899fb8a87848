"""Between checkpoints and the outside: plain-model loading, ``eval-loss`` and Hugging Face
export/import (a ``transformers.GPT2LMHeadModel`` folder; its tokenizer files and model card come
from ``hf_folder``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from webtext.errors import ConfigError
from webtext.train.model import GPT, GPTConfig

_LINEAR_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def resolve_checkpoint(path: Path) -> Path:
    """A ``step-N`` folder, or a run folder (its newest valid checkpoint)."""
    from webtext.train import checkpoint

    path = Path(path)
    if (path / checkpoint.RECORD).is_file():
        return path
    found = checkpoint.latest_valid(path)
    if found is None:
        raise ConfigError("checkpoint", f"no valid checkpoint in {path}")
    return found[0]


def load_model(path: Path) -> tuple[GPT, dict[str, Any]]:
    """The model of a checkpoint, on CPU in fp32, in eval mode; and the checkpoint's record."""
    from webtext.train import checkpoint

    ckpt = resolve_checkpoint(path)
    record = json.loads((ckpt / checkpoint.RECORD).read_text())
    model = GPT(GPTConfig(**record["model_args"]))
    checkpoint.load_model_weights(ckpt, model)
    return model.eval(), record


@torch.no_grad()
def eval_loss(model: GPT, stream: Any, seq_len: int | None = None, batch: int = 8) -> tuple[float, int]:
    """Mean next-token loss over non-overlapping windows of ``seq_len`` (default: the context)
    over a token stream; returns (loss, tokens scored)."""
    t = seq_len or model.config.block_size
    x = torch.as_tensor(stream, dtype=torch.long)
    n = (len(x) - 1) // t
    if n < 1:
        raise ValueError(f"the stream has {len(x)} tokens: fewer than one window of {t} + 1")
    inputs = x[: n * t].view(n, t)
    targets = x[1: n * t + 1].view(n, t)
    total = 0.0
    for i in range(0, n, batch):
        logits = model(inputs[i:i + batch]).float()
        total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                   targets[i:i + batch].reshape(-1), reduction="sum").item()
    return total / (n * t), n * t


def split_stream(tokens_dir: Path, split: str):
    import numpy as np

    from webtext.tokenize.shard_digests import verify_token_shards
    from webtext.tokenize.shards import TokenDataset

    verify_token_shards(Path(tokens_dir), split)  # by sha256: a same-size flip would change the loss silently
    ds = TokenDataset(Path(tokens_dir), split)
    if not ds.shards:
        raise ConfigError("split", f"{tokens_dir} has no {split}/ shards")
    return np.concatenate([s.tokens for s in ds.shards]), ds.meta.get("tokenizer_hash")


def hf_config(cfg: GPTConfig, eot_id: int | None = None) -> dict[str, Any]:
    eot = cfg.vocab_size - 1 if eot_id is None else eot_id
    return {
        "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": cfg.vocab_size,
        "n_positions": cfg.block_size, "n_ctx": cfg.block_size, "n_embd": cfg.n_embd, "n_layer": cfg.n_layer,
        "n_head": cfg.n_head, "n_inner": None, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
        "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0, "initializer_range": 0.02,
        "scale_attn_weights": True, "tie_word_embeddings": True, "use_cache": True,
        "bos_token_id": eot, "eos_token_id": eot, "torch_dtype": "float32",
    }


#: Everything ``export_hf`` writes, weights last (a folder without them is visibly incomplete).
HF_FILES = ("config.json", "generation_config.json", "tokenizer.json", "vocab.json", "merges.txt",
            "tokenizer_config.json", "special_tokens_map.json", "README.md", "model.safetensors")


def export_hf(path: Path, out: Path, tokenizer: str | Path | None = None) -> Path:
    """Write a Hugging Face GPT-2 folder: weights (Conv1D layout, vocab padding removed), config,
    generation defaults, the tokenizer (``tokenizer``, default: the one the run's tokens dataset
    names, checked against the checkpoint's hash) and a model card; every file 0644."""
    from safetensors.torch import save_file

    from webtext.paths import atomic_path, atomic_write_bytes
    from webtext.train import hf_folder

    model, record = load_model(path)
    ckpt = resolve_checkpoint(path)
    tok = hf_folder.checkpoint_tokenizer(record, tokenizer)
    cfg = model.config
    if tok.vocab_size > cfg.vocab_size:
        raise ConfigError("--tokenizer", f"the tokenizer has {tok.vocab_size} tokens, the model {cfg.vocab_size}: "
                                         "give the model's own tokenizer")
    eot = tok.eot_id
    tensors = {}
    for name, value in model.state_dict().items():
        if name == "lm_head.weight":  # tied to wte: transformers re-ties it
            continue
        if name.endswith(_LINEAR_SUFFIXES):
            value = value.t()
        if name in ("transformer.wte.weight",):
            value = value[: cfg.vocab_size]
        tensors[name] = value.contiguous().clone()
    files = {
        "config.json": json.dumps(hf_config(cfg, eot), indent=2).encode(),
        "generation_config.json": hf_folder.generation_config(eot, cfg.block_size),
        **hf_folder.tokenizer_files(tok, cfg.block_size),
        "README.md": hf_folder.model_card(ckpt, record, tok, sum(t.numel() for t in tensors.values())),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        atomic_write_bytes(out / name, data)
        (out / name).chmod(0o644)  # temporaries are private (0600); an exported model is for sharing
    with atomic_path(out / "model.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
        tmp.chmod(0o644)
    return out


def import_hf(folder: Path) -> GPT:
    """A GPT from a Hugging Face GPT-2 folder (``config.json`` + ``model.safetensors``)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    conf = json.loads((folder / "config.json").read_text())
    if conf.get("model_type") != "gpt2" or conf.get("activation_function", "gelu_new") != "gelu_new":
        raise ConfigError("--hf", f"{folder} is not a GPT-2 model with gelu_new")
    cfg = GPTConfig(conf["n_layer"], conf["n_head"], conf["n_embd"], conf["n_positions"], conf["vocab_size"])
    model = GPT(cfg)
    weights = load_file(str(folder / "model.safetensors"))
    state = {}
    for name, value in weights.items():
        key = name if name.startswith(("transformer.", "lm_head.")) else f"transformer.{name}"
        if key.endswith((".attn.bias", ".attn.masked_bias")):
            continue
        state[key] = value.t() if key.endswith(_LINEAR_SUFFIXES) else value
    state.setdefault("lm_head.weight", state["transformer.wte.weight"])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or [m for m in missing if m != "lm_head.weight"]:
        raise ConfigError("--hf", f"{folder}: weights do not match GPT-2 (missing {missing}, unexpected {unexpected})")
    return model.eval()


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else float("inf")
