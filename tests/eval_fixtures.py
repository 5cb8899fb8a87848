"""Tiny models for the eval tests: a random transformers GPT-2 with GPT-2's own BPE, saved as a
Hugging Face folder (what a user downloads), and LAMBADA/CBT-format files."""

from __future__ import annotations

import json
from pathlib import Path


def gpt2_hf_tokenizer(bpe: Path):
    """GPT-2's tokenizer for transformers from OpenAI's encoder.json + vocab.bpe (offline)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = json.loads((bpe / "encoder.json").read_text(encoding="utf-8"))
    merges = [tuple(x.split()) for x in (bpe / "vocab.bpe").read_text(encoding="utf-8").split("\n")[1:] if x.strip()]
    tk = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    eot = "<|endoftext|>"
    return PreTrainedTokenizerFast(tokenizer_object=tk, eos_token=eot, bos_token=eot, unk_token=eot)


def make_hf_gpt2(folder: Path, bpe: Path, n_positions: int = 64, n_layer: int = 2, n_embd: int = 32,
                 seed: int = 0) -> Path:
    """A randomly initialised GPT-2 (GPT-2's vocabulary) saved with its tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    model = GPT2LMHeadModel(GPT2Config(n_layer=n_layer, n_head=2, n_embd=n_embd, n_positions=n_positions,
                                       vocab_size=50257))
    with torch.no_grad():  # larger weights than the init: predictions that differ per context
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(8.0)
    model.eval()
    model.save_pretrained(folder)
    gpt2_hf_tokenizer(bpe).save_pretrained(folder)
    return folder


def write_lambada(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


def write_cbt(path: Path, blocks: list[tuple[list[str], str, str, list[str]]]) -> Path:
    """CBT's format: 20 numbered story lines, then ``21 question\\tanswer\\t\\tcand|cand|...``, a blank line."""
    out = []
    for story, question, answer, candidates in blocks:
        out += [f"{i} {line}" for i, line in enumerate(story, 1)]
        out.append(f"{len(story) + 1} {question}\t{answer}\t\t{'|'.join(candidates)}")
        out.append("")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path
