"""Set-up of the memorization tests: a tiny corpus with planted memorization, and the eval folder.

The corpus (``docs/part-00000.parquet``: ``id``, ``url``, ``karma``, ``text``) is made of random
sentences over a small word list: background documents seen once (some land in val/), a few
*planted* documents repeated many times (all in train/), and documents that carry *dirty*
benchmark passages many times. The benchmark (``quiz.txt``, one passage per line) has those
dirty passages and clean ones that are nowhere in the corpus. A tiny GPT-2 is trained on it
with webtext's own trainer until the repeated text is memorised.

Eval is not on this branch: ``write_eval`` scores each benchmark line as eval's contract says a
line-based task is scored (the line's tokens after ``<|endoftext|>``, one row per line) and
writes ``examples/quiz.parquet`` + ``results.json`` with the model's identity. Swap it for
``webtext-build eval RUN --task quiz=quiz.txt`` when eval lands.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_WORD_TEXT = ("river stone castle winter garden lantern violet copper meadow harbor falcon ember thistle orchard "
              "quartz willow saddle beacon marble cedar hollow tundra prairie canyon glacier summit valley forest "
              "ocean island desert plateau marsh delta fjord lagoon reef dune cliff basin ridge")
WORDS = tuple(_WORD_TEXT.split())
VAL_FRACTION = 0.25


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def document(rng: random.Random, sentences: int) -> str:
    return " ".join(sentence(rng, rng.randint(6, 10)) for _ in range(sentences))


@dataclass
class Planted:
    root: Path
    docs: Path
    benchmark: Path
    planted_ids: list[str]
    dirty_lines: list[int]


def _train_id(prefix: str, start: int) -> tuple[str, int]:
    """The first id ``prefix-k`` (k >= start) that the tokenize stage puts in train/."""
    from webtext.tokenize.encode import in_val

    k = start
    while in_val(f"{prefix}-{k}", VAL_FRACTION):
        k += 1
    return f"{prefix}-{k}", k + 1


def write_corpus(root: Path, background: int = 24, planted: int = 2, repeats: int = 20, clean: int = 8,
                 dirty: int = 5) -> Planted:
    rng = random.Random(11)
    rows: list[dict] = []
    for i in range(background):
        rows.append({"id": f"bg-{i}", "url": f"https://example.org/bg/{i}", "karma": 3 + i % 7,
                     "text": document(rng, 4)})
    planted_ids: list[str] = []
    k = 0
    for p in range(planted):
        text = document(rng, 2)
        for _ in range(repeats):
            doc_id, k = _train_id(f"planted{p}", k)
            planted_ids.append(doc_id)
            rows.append({"id": doc_id, "url": f"https://example.org/planted/{p}", "karma": 50 + p, "text": text})
    lines = [sentence(rng, 14) for _ in range(clean + dirty)]
    dirty_lines = sorted(rng.sample(range(len(lines)), dirty))
    k = 0
    for j in dirty_lines:
        for _ in range(repeats):
            doc_id, k = _train_id(f"quote{j}", k)
            rows.append({"id": doc_id, "url": f"https://example.org/quote/{j}", "karma": 4, "text": lines[j]})
    rng.shuffle(rows)
    docs = root / "docs"
    docs.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=pa.schema([("id", pa.string()), ("url", pa.string()),
                                                                ("karma", pa.int64()), ("text", pa.string())])),
                   docs / "part-00000.parquet")
    bench = root / "quiz.txt"
    bench.write_text("\n".join(lines) + "\n")
    return Planted(root, docs, bench, planted_ids, dirty_lines)


def build(root: Path, steps: int = 120) -> Planted:
    """Corpus -> tokenizer -> tokens -> run (2 checkpoints) -> contamination (bloom) -> eval folder."""
    from webtext.contamination.config import ContaminationConfig
    from webtext.runner import LocalRunner
    from webtext.stages import registry
    from webtext.tokenize.config import TokenizeConfig, TrainTokenizerConfig
    from webtext.train.config import TrainConfig

    stages = registry()

    p = write_corpus(root)
    runner = LocalRunner()
    docs = [str(p.docs)]
    stages["train-tokenizer"].execute(TrainTokenizerConfig(inputs=docs, vocab_size=400, threads=1), root / "tok",
                                       runner)
    stages["tokenize"].execute(TokenizeConfig(inputs=docs, tokenizer=str(root / "tok"), val_fraction=VAL_FRACTION),
                                root / "tokens", runner)
    stages["train"].execute(TrainConfig(data=str(root / "tokens"), preset="tiny", max_steps=steps,
                                         batch_size=16, seq_len=64, seed=3, device="cpu", checkpoint_every=steps // 2,
                                         lr=1e-2, warmup_steps=5, lr_decay_steps=10 * steps, log_every=1000),
                             root / "run", runner)
    stages["contamination"].execute(ContaminationConfig(inputs=docs, benchmarks=[f"quiz=lines:{p.benchmark}"],
                                                         mode="bloom", random_check=1000), root / "contamination",
                                     runner)
    write_eval(root / "run", root / "tok", p.benchmark, root / "eval")
    return p


def score_lines(model, tok, lines: list[str]) -> pa.Table:
    """Eval's per-example table for a line-based task: each line's tokens scored after
    ``<|endoftext|>`` in disjoint windows of the model's context (lm-evaluation-harness's rolling
    log-likelihood: a window's first token sees only the token before it)."""
    import torch

    block = model.config.block_size
    rows = []
    for i, line in enumerate(lines):
        ids = tok.encode_batch([line])[0]
        seq = torch.tensor([tok.eot_id, *ids])
        ll = 0.0
        for start in range(0, len(ids), block):
            inp, tgt = seq[start:start + block], seq[start + 1:start + 1 + block]
            with torch.no_grad():
                logp = torch.log_softmax(model(inp[None, :len(tgt)]).float(), dim=-1)[0]
            ll += logp.gather(1, tgt[:, None]).sum().item()
        rows.append({"example": i, "loglikelihood": ll, "n_tokens": len(ids), "n_words": len(line.split()),
                     "n_bytes": len(line.encode()), "correct": None, "prediction": None})
    schema = pa.schema([("example", pa.int64()), ("loglikelihood", pa.float64()), ("n_tokens", pa.int64()),
                        ("n_words", pa.int64()), ("n_bytes", pa.int64()), ("correct", pa.bool_()),
                        ("prediction", pa.string())])
    return pa.Table.from_pylist(rows, schema=schema)


def write_eval(run: Path, tokenizer: Path, benchmark: Path, out: Path, model_path: Path | None = None) -> None:
    from webtext.tokenize.bpe import load_tokenizer
    from webtext.train.export import load_model

    model, record = load_model(run)
    tok = load_tokenizer(tokenizer)
    lines = [line for line in benchmark.read_text().splitlines()]
    (out / "examples").mkdir(parents=True, exist_ok=True)
    pq.write_table(score_lines(model, tok, lines), out / "examples" / "quiz.parquet")
    results = {"model": {"path": str(model_path or run), "step": record["step"],
                         "tokenizer_hash": record["tokenizer_hash"], "model_args": record["model_args"]},
               "tasks": {"quiz": {"kind": "rolling"}}}
    (out / "results.json").write_text(json.dumps(results))
