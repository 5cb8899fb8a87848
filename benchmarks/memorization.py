"""Benchmark of the memorization stage's extraction: batched greedy decoding with a KV cache
(``webtext.memorization.decode.greedy``, every prompt of a batch decoded together) against a loop
over ``transformers``' ``GPT2LMHeadModel.generate`` one document at a time (greedy, its own KV
cache) on the same model exported with ``webtext-build export-hf`` (``webtext.train.export``).

Model: the ``tiny`` preset (2 layers, 128 wide, 4 heads, context 128) with GPT-2's 50,257-token
vocabulary, seeded random weights saved as a real ``step-N`` checkpoint and exported. Input:
``--documents`` prompts of ``--prefix`` tokens drawn from a seeded token stream; each side
continues them by ``--suffix`` tokens. Runs alternate (ours, baseline, ours, ...) ``--repeats``
times in this process; the figure is the ratio of the medians (target >= 5x), measured in one run.
The continuations of both sides are compared token by token (they should agree: same weights,
greedy).

    python benchmarks/memorization.py            # 32 documents, 32 + 32 tokens, 3 repetitions (~2 min)
    python benchmarks/memorization.py --quick    # 16 documents, 1 repetition
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def build(folder: Path, seed: int):
    """A tiny GPT-2 (GPT-2's vocabulary) as a checkpoint, its exported HF folder, both models."""
    import torch
    from transformers import GPT2LMHeadModel

    from webtext.train import checkpoint
    from webtext.train.export import export_hf, load_model
    from webtext.train.model import GPT, PRESETS

    torch.manual_seed(seed)
    cfg = PRESETS["tiny"]
    model = GPT(cfg)
    checkpoint.save(folder / "run", 1, {"model": model.state_dict()}, {"model_args": cfg.to_dict()}, keep=2)
    export_hf(folder / "run", folder / "hf")
    ours, _ = load_model(folder / "run")
    theirs = GPT2LMHeadModel.from_pretrained(str(folder / "hf")).eval()
    return ours, theirs


def ours_extract(model, prompts, suffix: int, batch: int):
    from webtext.memorization.decode import greedy

    return [greedy(model, prompts[i:i + batch], suffix) for i in range(0, len(prompts), batch)]


def hf_extract(model, prompts, suffix: int):
    import torch

    out = []
    with torch.no_grad():
        for row in prompts:
            ids = row[None]
            gen = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=suffix, min_new_tokens=suffix,
                                 do_sample=False, use_cache=True, pad_token_id=model.config.eos_token_id)
            out.append(gen[:, ids.shape[1]:])
    return out


def main() -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--documents", type=int, default=32)
    ap.add_argument("--prefix", type=int, default=32)
    ap.add_argument("--suffix", type=int, default=32)
    ap.add_argument("--batch", type=int, default=32, help="documents decoded together (ours)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.documents, args.repeats = 16, 1
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-memorization-") as tmp:
        ours, theirs = build(Path(tmp), args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    prompts = torch.randint(0, ours.config.vocab_size - 1, (args.documents, args.prefix), generator=gen)
    ours_extract(ours, prompts[:2], 2, args.batch)  # warm-up of both paths
    hf_extract(theirs, prompts[:2], 2)
    times = {"ours": [], "hf": []}
    results = {}
    for _ in range(args.repeats):
        for side in ("ours", "hf"):
            t = time.perf_counter()
            got = (ours_extract(ours, prompts, args.suffix, args.batch) if side == "ours"
                   else hf_extract(theirs, prompts, args.suffix))
            times[side].append(time.perf_counter() - t)
            results[side] = torch.cat(got)
    same = (results["ours"] == results["hf"]).all(dim=1).float().mean().item()
    tokens = args.documents * args.suffix
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["hf"] / med["ours"]
    print(f"extraction, tiny preset (vocab {ours.config.vocab_size:,}), CPU, {args.threads} thread(s): "
          f"{args.documents} documents x {args.prefix} + {args.suffix} tokens, {args.repeats} alternated run(s)")
    print(f"  ours (batched {args.batch}, KV cache):      {med['ours']:.3f} s  ({tokens / med['ours']:,.0f} tokens/s)")
    print(f"  transformers generate, one at a time: {med['hf']:.3f} s  ({tokens / med['hf']:,.0f} tokens/s)")
    print(f"  ratio {ratio:.1f}x (target >= 5x: {'PASS' if ratio >= 5 else 'below target'}); "
          f"identical continuations: {same:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
