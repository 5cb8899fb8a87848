"""Batched log-likelihood of scored positions: one forward pass per batch of inputs.

Inputs are sorted by length (longest first, as lm-eval does) and batched; shorter rows are padded
on the right, which a causal model never looks at. Only the hidden states of scored positions go
through the output layer (a LAMBADA passage scores 1-3 of its ~80 positions), in chunks so the
logits of a batch never have to fit in memory at once. fp32 on CPU; bf16 autocast on a GPU,
with the log-softmax in fp32.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

import numpy as np
import torch

from webtext.errors import FatalError
from webtext.train.model import GPT

log = logging.getLogger(__name__)

LOGIT_ROWS = 4096  # scored positions per output-layer chunk (4096 x 50257 fp32 = 0.8 GB)


@dataclass
class Request:
    """Score the last ``n`` positions of ``ids`` against ``targets`` (the next tokens)."""

    example: int  # reported when its loss is not finite
    ids: list[int]
    targets: list[int]
    greedy: bool = False  # also: does the argmax match every target?
    filtered: bool = False  # also: the same with the filter mask applied at the first position


@dataclass
class Scored:
    ll: np.ndarray  # float64 log-likelihood (nats) of each target
    greedy: bool | None = None
    filtered: bool | None = None
    argmax: list[int] | None = None


class Scorer:
    def __init__(self, model: GPT, device: str = "cpu", dtype: str = "fp32", batch_size: int = 8,
                 filter_mask: torch.Tensor | None = None) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.autocast = dtype == "bf16"
        self.batch_size = batch_size
        self.vocab = model.config.vocab_size
        self.filter_mask = filter_mask.to(device) if filter_mask is not None else None  # True: never predicted

    def _hidden(self, x: torch.Tensor) -> torch.Tensor:
        tr = self.model.transformer
        h = tr.wte(x) + tr.wpe(torch.arange(x.shape[1], device=x.device))
        for block in tr.h:
            h = block(h)
        return tr.ln_f(h)

    def _context(self):
        if not self.autocast:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=torch.bfloat16)

    @torch.no_grad()
    def score(self, requests: list[Request]) -> list[Scored]:
        out: list[Scored | None] = [None] * len(requests)
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].ids))
        for start in range(0, len(order), self.batch_size):
            batch = [requests[i] for i in order[start: start + self.batch_size]]
            for i, scored in zip(order[start: start + self.batch_size], self._batch(batch), strict=True):
                out[i] = scored
        return out  # type: ignore[return-value]

    def _batch(self, batch: list[Request]) -> list[Scored]:
        width = len(batch[0].ids)
        x = torch.zeros((len(batch), width), dtype=torch.long)
        rows, cols, targets = [], [], []
        for j, r in enumerate(batch):
            if len(r.targets) > len(r.ids):
                raise ValueError("more targets than inputs")
            x[j, : len(r.ids)] = torch.as_tensor(r.ids, dtype=torch.long)
            rows += [j] * len(r.targets)
            cols += range(len(r.ids) - len(r.targets), len(r.ids))
            targets += r.targets
        x = x.to(self.device)
        with self._context():
            hidden = self._hidden(x)[torch.as_tensor(rows, device=self.device),
                                     torch.as_tensor(cols, device=self.device)]  # (scored positions, n_embd)
        tgt = torch.as_tensor(targets, dtype=torch.long, device=self.device)
        want_argmax = any(r.greedy or r.filtered for r in batch)
        lls, argmax, filtered = [], [], []
        for s in range(0, len(tgt), LOGIT_ROWS):
            with self._context():
                logits = self.model.lm_head(hidden[s: s + LOGIT_ROWS])
            logits = logits[:, : self.vocab].float()
            if want_argmax:
                argmax.append(logits.argmax(-1))
                if self.filter_mask is not None:
                    filtered.append(logits.masked_fill(self.filter_mask, -torch.inf).argmax(-1))
            picked = logits.gather(1, tgt[s: s + LOGIT_ROWS, None])[:, 0]
            # log-sum-exp in place (no second vocab-sized buffer: ~25% faster than torch.logsumexp on CPU)
            top = logits.amax(-1, keepdim=True)
            lse = logits.sub_(top).exp_().sum(-1).log_() + top[:, 0]
            lls.append(picked - lse)
        ll = torch.cat(lls).double().cpu().numpy()
        am = torch.cat(argmax).cpu().numpy() if want_argmax else None
        fl = torch.cat(filtered).cpu().numpy() if filtered else None
        out, pos = [], 0
        for r in batch:
            n = len(r.targets)
            piece = ll[pos: pos + n]
            if not np.isfinite(piece).all():
                raise FatalError(f"non-finite log-likelihood for example {r.example}: the model's weights or "
                                 "inputs are broken (check the checkpoint; try --dtype fp32)")
            scored = Scored(piece)
            if am is not None:
                hits = am[pos: pos + n] == np.asarray(r.targets)
                scored.argmax = am[pos: pos + n].tolist()
                if r.greedy:
                    scored.greedy = bool(hits.all())
                if r.filtered and fl is not None:
                    scored.filtered = bool(fl[pos] == r.targets[0] and hits[1:].all())
            out.append(scored)
            pos += n
        return out
