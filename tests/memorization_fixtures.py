"""Set-up of the memorization tests: a tiny corpus with planted memorization, and the eval folder.

The corpus (``docs/part-00000.parquet``: ``id``, ``url``, ``karma``, ``text``) is made of random
sentences over a small word list: background documents seen once (some land in val/), a few
*planted* documents repeated many times (all in train/), and documents that carry *dirty*
benchmark passages many times. The benchmark (``quiz.txt``, one passage per line) has those
dirty passages and clean ones that are nowhere in the corpus. A tiny GPT-2 is trained on it
with webtext's own trainer until the repeated text is memorised.

The benchmark is scored by the real ``eval`` stage (``quiz=lines:quiz.txt``: one example per
line, the unit contamination uses too), so the report joins eval's and contamination's tables.
"""

from __future__ import annotations

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
    from webtext.eval.config import EvalConfig
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
    stages["eval"].execute(EvalConfig(model=str(root / "run"), tasks=[f"quiz=lines:{p.benchmark}"], device="cpu"),
                           root / "eval", runner)
    return p
