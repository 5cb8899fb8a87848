"""Batched decoding with a key/value cache, built from the model's own modules.

Training never goes through here: ``GPT.forward`` stays the one training path, and this module
runs the same sub-modules (``wte``, ``wpe``, each block's ``ln_1``/``attn.c_attn``/``attn.c_proj``/
``ln_2``/``mlp``, ``ln_f``, ``lm_head``) step by step, keeping every layer's keys and values in
one preallocated tensor so a new token costs one position, not the whole prefix. All rows of a
batch share one length (prompts of equal length, or samples started from ``<|endoftext|>``), so
no padding or attention mask is needed beyond the causal one of the prefill.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from webtext.train.model import GPT


class KVCache:
    """Keys and values of every layer for a batch: (layers, 2, batch, heads, max_len, head size)."""

    def __init__(self, model: GPT, batch: int, max_len: int, device: torch.device, dtype: torch.dtype) -> None:
        cfg = model.config
        hs = cfg.n_embd // cfg.n_head
        self.kv = torch.empty(cfg.n_layer, 2, batch, cfg.n_head, max_len, hs, device=device, dtype=dtype)
        self.length = 0


def _attend(attn, x: torch.Tensor, cache: KVCache, layer: int) -> torch.Tensor:
    b, t, c = x.shape
    nh = attn.n_head
    q, k, v = attn.c_attn(x).split(c, dim=2)
    q, k, v = (z.view(b, t, nh, c // nh).transpose(1, 2) for z in (q, k, v))  # (B, nh, T, hs)
    start = cache.length
    cache.kv[layer, 0, :, :, start:start + t] = k
    cache.kv[layer, 1, :, :, start:start + t] = v
    keys = cache.kv[layer, 0, :, :, :start + t]
    values = cache.kv[layer, 1, :, :, :start + t]
    # The prefill (start == 0) is causal over itself; a later step's queries see every cached key.
    y = F.scaled_dot_product_attention(q, keys, values, is_causal=start == 0 and t > 1)
    return attn.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


@torch.no_grad()
def step(model: GPT, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Feed ``idx`` (B, T) after what the cache holds; returns the last position's logits (B, vocab)."""
    t = idx.shape[1]
    pos = torch.arange(cache.length, cache.length + t, device=idx.device)
    tr = model.transformer
    x = tr.wte(idx) + tr.wpe(pos)
    for i, block in enumerate(tr.h):
        x = x + _attend(block.attn, block.ln_1(x), cache, i)
        x = x + block.mlp(block.ln_2(x))
    cache.length += t
    logits = model.lm_head(tr.ln_f(x[:, -1]))
    return logits[..., : model.config.vocab_size].float()


@torch.no_grad()
def greedy(model: GPT, prompts: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """Greedy continuations (B, new_tokens) of equal-length prompts (B, T), all decoded together."""
    b, t = prompts.shape
    if t + new_tokens - 1 > model.config.block_size:
        raise ValueError(f"{t} prompt + {new_tokens} new tokens exceed the context of {model.config.block_size}")
    cache = KVCache(model, b, t + new_tokens, prompts.device, model.transformer.wte.weight.dtype)
    out = torch.empty(b, new_tokens, dtype=torch.long, device=prompts.device)
    logits = step(model, prompts, cache)
    for i in range(new_tokens):
        out[:, i] = logits.argmax(-1)
        if i + 1 < new_tokens:
            logits = step(model, out[:, i:i + 1], cache)
    return out


@torch.no_grad()
def sample_top_k(model: GPT, start: torch.Tensor, new_tokens: int, top_k: int,
                 generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
    """Top-k samples (B, new_tokens) continuing ``start`` (B, T), drawn with ``generator``."""
    b, t = start.shape
    new_tokens = min(new_tokens, model.config.block_size - t + 1)
    cache = KVCache(model, b, t + new_tokens, start.device, model.transformer.wte.weight.dtype)
    out = torch.empty(b, new_tokens, dtype=torch.long, device=start.device)
    logits = step(model, start, cache)
    for i in range(new_tokens):
        scaled = logits / temperature
        if 0 < top_k < scaled.shape[-1]:
            kth = torch.topk(scaled, top_k, dim=-1).values[:, -1:]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = torch.softmax(scaled, dim=-1)
        out[:, i] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        if i + 1 < new_tokens:
            logits = step(model, out[:, i:i + 1], cache)
    return out
