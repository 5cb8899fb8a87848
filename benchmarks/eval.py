"""`webtext-build eval` against its peer, EleutherAI's lm-evaluation-harness (`lm_eval`, hf model),
whole process each (interpreter start, imports, model load, tokenising, scoring), on CPU.

Model: the acceptance check's size (2 layers, 2 heads, width 64, context 256, GPT-2's 50,257-token
vocabulary), randomly initialised (throughput does not depend on training), as an HF folder with
GPT-2's tokenizer (transformers' PreTrainedTokenizerFast over OpenAI's files, as the check builds it).
Input: WikiText-2 test's first --pages articles (rolling log-likelihood) and --passages
LAMBADA-format passages from WikiText-2 valid. Both run with --batch-size; runs alternate (ours,
lm-eval, ours, ...) and the ratio of median tokens scored per second is printed from the same run.

    python benchmarks/eval.py [--pages 8] [--passages 200] [--rounds 2] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "benchmarks"))
DATA = Path(os.environ.get("WEBTEXT_SHARED_DATA", REPO.parent / "shared" / "data"))

TASK = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: {output_type}
{body}"""
WIKITEXT_BODY = """doc_to_text: ""
doc_to_target: !function utils.wikitext_detokenizer
process_results: !function utils.process_results
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
"""
LAMBADA_BODY = """doc_to_text: "{{text.split(' ')[:-1]|join(' ')}}"
doc_to_target: "{{' '+text.split(' ')[-1]}}"
metric_list:
  - metric: perplexity
    aggregation: perplexity
    higher_is_better: false
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def prepare(work: Path, pages: int, passages: int) -> tuple[Path, Path, Path, Path]:
    import torch
    from _eval_model import lambada_like
    from eval_fixtures import gpt2_hf_tokenizer
    from transformers import GPT2Config, GPT2LMHeadModel

    from webtext.contamination.benchmarks import line_documents

    model = work / "model"
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_head=2, n_embd=64, n_positions=256, vocab_size=50257)
    GPT2LMHeadModel(config).save_pretrained(model)
    gpt2_hf_tokenizer(DATA / "gpt2-bpe").save_pretrained(model)
    docs = line_documents(DATA / "wikitext-2" / "test.txt", "pages")[:pages]
    test = work / "wiki.test.tokens"
    test.write_text("".join(d.text for d in docs), encoding="utf-8")
    pages_jsonl = work / "pages.jsonl"
    pages_jsonl.write_text("".join(json.dumps({"page": d.text}) + "\n" for d in docs))
    lambada = lambada_like(DATA / "wikitext-2" / "valid.txt", work / "lambada.jsonl", passages)
    tasks = work / "peer-tasks"
    tasks.mkdir()
    (tasks / "utils.py").write_text(
        "from lm_eval.tasks.wikitext.preprocess_wikitext import process_results, wikitext_detokenizer  # noqa\n")
    (tasks / "wt2_local.yaml").write_text(TASK.format(name="wt2_local", data=pages_jsonl,
                                                      output_type="loglikelihood_rolling", body=WIKITEXT_BODY))
    (tasks / "lambada_local.yaml").write_text(TASK.format(name="lambada_local", data=lambada,
                                                          output_type="loglikelihood", body=LAMBADA_BODY))
    return model, test, lambada, tasks


def timed(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONPATH": str(REPO), "TOKENIZERS_PARALLELISM": "false"})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--passages", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    model, test, lambada, tasks = prepare(work, args.pages, args.passages)
    ours_argv = [sys.executable, "-m", "webtext.cli", "-q", "eval", str(model), "--task", f"wikitext2={test}",
                 "--task", f"lambada={lambada}", "--device", "cpu", "--batch-size", str(args.batch_size)]
    peer_argv = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                 f"pretrained={model},dtype=float32", "--tasks", "wt2_local,lambada_local", "--include_path",
                 str(tasks), "--batch_size", str(args.batch_size), "--device", "cpu"]
    ours, peer = [], []
    tokens = 0
    for r in range(args.rounds):
        out = work / f"ours-{r}"
        ours.append(timed([*ours_argv, "--out", str(out)]))
        tokens = sum(json.loads((out / "results.json").read_text())["tokens_scored"].values())
        peer.append(timed(peer_argv))
        print(f"round {r + 1}: ours {ours[-1]:.1f} s, lm-eval {peer[-1]:.1f} s", flush=True)
    o, p = statistics.median(ours), statistics.median(peer)
    print(f"input: {args.pages} WikiText-2 test pages + {args.passages} LAMBADA-format passages, "
          f"{tokens:,} tokens scored (the same tokens for both)")
    print(f"webtext eval: {o:.1f} s, {tokens / o:,.0f} tokens/s; lm-eval {p:.1f} s, {tokens / p:,.0f} tokens/s; "
          f"ratio {p / o:.2f}x (whole process, median of {args.rounds})")


if __name__ == "__main__":
    main()
