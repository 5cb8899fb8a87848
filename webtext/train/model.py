"""GPT-2 as the paper describes it, nanoGPT-style, with no distributed code inside.

Pre-layer-norm blocks (layer norm at the input of each sub-block) and a final layer norm, GELU
(tanh) MLP of 4x width, learned position embeddings, output head tied to the token embedding,
init std 0.02 with residual projections scaled by 1/sqrt(2 * n_layer), causal attention via
``scaled_dot_product_attention``. Parameter names follow Hugging Face's ``GPT2LMHeadModel`` (with
``nn.Linear`` instead of its ``Conv1D``, so export transposes), which keeps export a renaming.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class GPTConfig:
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    block_size: int = 1024
    vocab_size: int = 50257
    pad_vocab_to: int = 1  # 64: the embedding/head get rows up to a multiple of 64 (faster matmuls)

    @property
    def padded_vocab(self) -> int:
        m = max(self.pad_vocab_to, 1)
        return -(-self.vocab_size // m) * m

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, GPTConfig] = {
    "gpt2": GPTConfig(12, 12, 768),  # "117M" in the paper, 124M counted with the tied head once
    "gpt2-medium": GPTConfig(24, 16, 1024),
    "gpt2-large": GPTConfig(36, 20, 1280),
    "gpt2-xl": GPTConfig(48, 25, 1600),
    "tiny": GPTConfig(2, 4, 128, block_size=128),
}


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.c_proj.residual = True  # type: ignore[assignment]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(b, t, c))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.act = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)
        self.c_proj.residual = True  # type: ignore[assignment]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=1e-5)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=1e-5)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.transformer = nn.ModuleDict({
            "wte": nn.Embedding(cfg.padded_vocab, cfg.n_embd),
            "wpe": nn.Embedding(cfg.block_size, cfg.n_embd),
            "h": nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer)),
            "ln_f": nn.LayerNorm(cfg.n_embd, eps=1e-5),
        })
        self.lm_head = nn.Linear(cfg.n_embd, cfg.padded_vocab, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied, as in GPT-2
        if not any(p.is_meta for p in self.parameters()):
            self.init_weights()

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator | None = None) -> None:
        """std 0.02; residual projections 0.02/sqrt(2 n_layer); biases 0; layer norms 1/0."""
        for module, name, value in self.initial_values(generator, replay_defaults=False):
            getattr(module, name).copy_(value)

    @torch.no_grad()
    def initial_values(self, generator: torch.Generator | None = None, *,
                       replay_defaults: bool = True) -> Iterator[tuple[nn.Module, str, torch.Tensor]]:
        """(module, parameter name, full initial value on the CPU), one tensor at a time: what a
        model that was built on the meta device (and sharded) copies in.

        With ``replay_defaults`` the draws come in the order an eager ``GPT(cfg)`` makes them after
        ``torch.manual_seed(seed)``: first PyTorch's default initialisation in each layer's
        constructor (values thrown away, the generator advanced), then ``init_weights``. So a
        generator seeded with ``seed`` gives exactly the weights an eager model gets, and a meta
        model initialised from it equals one built in full (tests/test_train_model.py checks it).
        """
        modules = list(self.modules())
        if replay_defaults:  # nn.Linear/nn.Embedding.reset_parameters, in construction (= modules()) order
            for module in modules:
                if isinstance(module, nn.Linear):
                    nn.init.kaiming_uniform_(torch.empty(module.weight.shape), a=math.sqrt(5), generator=generator)
                    if module.bias is not None:
                        bound = 1 / math.sqrt(module.weight.shape[1])
                        nn.init.uniform_(torch.empty(module.bias.shape), -bound, bound, generator=generator)
                elif isinstance(module, nn.Embedding):
                    nn.init.normal_(torch.empty(module.weight.shape), generator=generator)
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for module in modules:
            if isinstance(module, nn.Linear):
                std = residual_std if getattr(module, "residual", False) else 0.02
                if module is not self.lm_head:  # tied to wte, initialised there
                    yield module, "weight", torch.empty(module.weight.shape).normal_(0.0, std, generator=generator)
                if module.bias is not None:
                    yield module, "bias", torch.zeros(module.bias.shape)
            elif isinstance(module, nn.Embedding):
                yield module, "weight", torch.empty(module.weight.shape).normal_(0.0, 0.02, generator=generator)
            elif isinstance(module, nn.LayerNorm):
                yield module, "weight", torch.ones(module.weight.shape)
                yield module, "bias", torch.zeros(module.bias.shape)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (batch, time, vocab), or the mean cross-entropy when ``targets`` are given."""
        t = idx.shape[1]
        if t > self.config.block_size:
            raise ValueError(f"sequence of {t} tokens exceeds the context of {self.config.block_size}")
        pos = torch.arange(t, device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        return self.head(x, targets)

    def head(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """The final layer norm, the output head and, with ``targets``, the loss: one function, which
        parallelize() compiles as a whole (the blocks are compiled one by one), so the fp32 copy of
        the (batch, time, vocab) logits is never written out (it costs more than the head's matmul)
        and the head's matmul is autotuned with the blocks' under ``--compile-mode max-autotune...``."""
        logits = self.lm_head(self.transformer.ln_f(x))
        if targets is None:
            return logits[..., : self.config.vocab_size]
        return cross_entropy(logits, targets, self.config.vocab_size)


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Mean next-token cross-entropy in fp32 over the real vocabulary (padded rows dropped)."""
    logits = logits[..., :vocab_size].float()  # (B, T, V)
    return F.cross_entropy(logits.reshape(-1, vocab_size), targets.reshape(-1))


def count_parameters(cfg: GPTConfig, *, non_embedding: bool = False) -> int:
    """Parameters of a model of ``cfg`` (tied head counted once), computed on the meta device."""
    with torch.device("meta"):
        model = GPT(cfg)
    n = sum(p.numel() for p in model.parameters())  # parameters() yields the tied weight once
    if non_embedding:
        n -= model.transformer.wpe.weight.numel()
    return n


def flops_per_token(cfg: GPTConfig, seq_len: int) -> float:
    """Training FLOPs per token: 6N (forward + backward of the weights) + 12 L T d (attention),
    N without position embeddings (PaLM appendix B / nanoGPT)."""
    n = count_parameters(cfg, non_embedding=True)
    return 6 * n + 12 * cfg.n_layer * seq_len * cfg.n_embd
