"""GPU timing of `webtext-build eval`: GPT-2 124M over Table 3's WikiText-2, PTB and LAMBADA (bf16).

The issue's target: under 2 minutes on one GPU for WikiText-2 test + PTB test + LAMBADA test. The
model is a randomly initialised GPT-2 124M (12 layers, width 768, context 1024; throughput does
not depend on training) written as a Hugging Face folder; the tokenizer is GPT-2's own BPE from
--bpe (encoder.json + vocab.bpe; nothing is downloaded). LAMBADA: --lambada (a real
lambada_test.jsonl, 5,153 passages) or, without it, --passages LAMBADA-format passages drawn
from WikiText-2 valid (cycled: it has ~1,600 lines long enough). Prints seconds (whole process
and scoring alone) and tokens/s.

    python benchmarks/gpu_eval.py --bpe BPE_DIR --wikitext WIKI_TEST --ptb PTB_TEST [--lambada FILE]
    # CPU smoke test with a tiny model:
    python benchmarks/gpu_eval.py --bpe ... --wikitext ... --ptb ... --size tiny --device cpu --limit 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

SIZES = {"124M": (12, 12, 768, 1024), "tiny": (2, 2, 64, 128)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bpe", type=Path, required=True, help="folder with GPT-2's encoder.json + vocab.bpe")
    ap.add_argument("--wikitext", type=Path, required=True, help="WikiText-2 test file (wiki.test.tokens)")
    ap.add_argument("--ptb", type=Path, required=True, help="ptb.test.txt")
    ap.add_argument("--lambada", type=Path, help="lambada_test.jsonl (default: passages from --wikitext-valid)")
    ap.add_argument("--wikitext-valid", type=Path, help="WikiText-2 valid, for LAMBADA-format passages")
    ap.add_argument("--passages", type=int, default=5153, help="LAMBADA-format passages drawn when no --lambada")
    ap.add_argument("--size", choices=sorted(SIZES), default="124M")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default=None, help="fp32 or bf16 (default: bf16 on cuda, fp32 on cpu)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--limit", type=int, help="documents/examples per task (smoke tests)")
    args = ap.parse_args()

    from _eval_model import lambada_like, write_random_gpt2

    work = Path(tempfile.mkdtemp(prefix="gpu-eval-"))
    model = write_random_gpt2(work / "model", *SIZES[args.size])
    lambada = args.lambada
    if lambada is None:
        valid = args.wikitext_valid or args.wikitext.with_name("valid.txt")
        lambada = lambada_like(valid, work / "lambada.jsonl", args.passages, repeat=True)
    argv = [sys.executable, "-m", "webtext.cli", "eval", str(model), "--tokenizer", str(args.bpe),
            "--task", f"wikitext2={args.wikitext}", "--task", f"ptb={args.ptb}", "--task", f"lambada={lambada}",
            "--device", args.device, "--batch-size", str(args.batch_size), "--out", str(work / "eval")]
    if args.dtype:
        argv += ["--dtype", args.dtype]
    if args.limit:
        argv += ["--limit", str(args.limit)]
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    wall = time.perf_counter() - t0
    res = json.loads((work / "eval" / "results.json").read_text())
    tokens = sum(res["tokens_scored"].values())
    scoring = sum(res["seconds"].values())
    per_task = ", ".join(f"{k} {v:.1f} s" for k, v in res["seconds"].items())
    print(f"gpu_eval: GPT-2 {args.size} on {res['device']} {res['dtype']}, batch {args.batch_size}: "
          f"{wall:.1f} s whole process ({scoring:.1f} s scoring: {per_task}); {tokens:,} tokens, "
          f"{tokens / scoring:,.0f} tokens/s scoring, {tokens / wall:,.0f} tokens/s whole")
    if args.size == "124M" and res["device"] == "cuda" and not args.limit:
        verdict = "met" if wall < 120 else "NOT met"
        print(f"target (GPT-2 124M, all of WikiText-2 + PTB + LAMBADA in < 120 s): {verdict}")


if __name__ == "__main__":
    main()
