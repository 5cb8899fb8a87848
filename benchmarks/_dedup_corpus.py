"""The dedup benchmark's corpus: documents made of real sentences, with planted duplicates.

Real English text is small here (~5 MB in ``../shared/data``): WikiText-2 (test + valid), PTB
(test + valid), Tiny Shakespeare and the article bodies of article-extraction-benchmark. It is cut
into sentences (deduplicated, >= 3 words each), and every *base* document is a seeded random draw
of sentences concatenated until it has >= ``MIN_WORDS`` words and >= ``MIN_BYTES`` bytes (~3 KB,
like the documents behind the baselines in ``shared/PEERS.md``). Unrelated documents therefore
share a few sentences at most and next to no word 5-grams.

About ``PLANTED_SHARE`` of the corpus are then *planted* copies of base documents (a base document
may be drawn twice: clusters of 3): exact copies with case or whitespace changes, and near copies
with word edits (substitute / delete / insert a word of the document) at rates 0.5% to 20%, as
``../shared/checks/_corpus.py``'s ``mutate`` makes them. The true Jaccard of every planted pair is
computed over word 5-gram shingles (``\\w+`` words of the lower-cased text), as the dedup check does.

Everything is deterministic for (documents, seed), written as Parquet shards (``id``, ``url``,
``text``, ``karma``) plus ``planted.json``, and cached: :func:`cached_corpus` rebuilds only when
the folder is missing or was made by another version of this file.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("benchmarks.dedup.corpus")

VERSION = 1  # bump when the generator changes: cached corpora of another version are rebuilt
MIN_WORDS = 300
MIN_BYTES = 3000
MIN_SENTENCE_WORDS = 3
PLANTED_SHARE = 0.10
NGRAM = 5
RATES = {"exact": 0.0, "e005": 0.005, "e01": 0.01, "e02": 0.02, "e03": 0.03, "e08": 0.08, "e20": 0.2}
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WORD = re.compile(r"\w+")


# ---------------------------------------------------------------------------------------------
# Sentences of the real text


def _split(paragraphs: Iterable[str]) -> Iterator[str]:
    for paragraph in paragraphs:
        for sentence in SENTENCE_END.split(paragraph):
            sentence = " ".join(sentence.split())
            if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                yield sentence


def sentences(data: Path) -> list[str]:
    """Every distinct sentence of the real text, in a fixed order."""
    found: list[str] = []
    for split in ("test", "valid"):
        lines = (data / "wikitext-2" / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        found.extend(_split(line for line in lines if line.strip() and not line.strip().startswith("= ")))
        found.extend(_split((data / "ptb" / f"ptb.{split}.txt").read_text(encoding="utf-8").splitlines()))
    play = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    for speech in play.split("\n\n"):  # a speech: the speaker's line ("NAME:"), then the verse
        verse = [line for line in speech.splitlines() if line.strip() and not line.rstrip().endswith(":")]
        found.extend(_split([" ".join(verse)]))
    articles = json.loads((data / "article-extraction-benchmark" / "ground-truth.json").read_text(encoding="utf-8"))
    for item in articles.values():
        found.extend(_split((item.get("articleBody") or "").splitlines()))
    return list(dict.fromkeys(found))


# ---------------------------------------------------------------------------------------------
# Documents and planted duplicates


def base_document(pool: list[str], rng: random.Random) -> str:
    parts: list[str] = []
    words = size = 0
    while words < MIN_WORDS or size < MIN_BYTES:
        s = rng.choice(pool)
        parts.append(s)
        words += s.count(" ") + 1
        size += len(s.encode()) + 1
    return " ".join(parts)


def mutate(text: str, rate: float, rng: random.Random) -> str:
    """Edit about ``rate`` of the word positions: substitute, delete or insert a word of the text."""
    words = text.split()
    out: list[str] = []
    for w in words:
        if rng.random() < rate:
            op = rng.choice("sdi")
            if op == "s":
                out.append(rng.choice(words))
            elif op == "i":
                out.extend([w, rng.choice(words)])
        else:
            out.append(w)
    return " ".join(out)


def exact_variant(text: str, rng: random.Random) -> str:
    """The same normalised text: upper-cased with doubled spaces, or with line breaks added."""
    if rng.random() < 0.5:
        return "  ".join(text.upper().split())
    return text.replace(". ", ".\n").replace(" ", "\t", 3) + "\n\n"


def shingle_set(text: str, n: int = NGRAM) -> set[str]:
    """Word n-gram shingles as the dedup check counts them (``\\w+`` words, lower-cased)."""
    w = WORD.findall(text.lower())
    return {" ".join(w[i:i + n]) for i in range(max(len(w) - n + 1, 1))}


def jaccard(a: str, b: str, n: int = NGRAM) -> float:
    x, y = shingle_set(a, n), shingle_set(b, n)
    return len(x & y) / max(len(x | y), 1)


@dataclass
class Planted:
    variant: str
    base: str
    kind: str
    jaccard: float


@dataclass
class Corpus:
    """The documents (Parquet shards in ``folder``) and the planted pairs."""

    folder: Path
    files: list[Path]
    planted: list[Planted]
    documents: int
    total_bytes: int
    total_words: int
    sentences: int

    def texts(self) -> dict[str, str]:
        """id -> text of every document, in file order."""
        import pyarrow.parquet as pq

        out: dict[str, str] = {}
        for f in self.files:
            table = pq.read_table(f, columns=["id", "text"])
            out.update(zip(table["id"].to_pylist(), table["text"].to_pylist(), strict=True))
        return out


def build(documents: int, seed: int, data: Path) -> tuple[dict[str, str], list[Planted], int]:
    """(id -> text in shuffled order, planted pairs, sentences in the pool) for ``documents`` documents."""
    pool = sentences(data)
    rng = random.Random(seed)
    n_planted = round(documents * PLANTED_SHARE)
    n_base = documents - n_planted
    base = [base_document(pool, rng) for _ in range(n_base)]
    docs = {f"b{i:06d}": t for i, t in enumerate(base)}
    planted: list[Planted] = []
    for j, i in enumerate(rng.choices(range(n_base), k=n_planted)):
        kind = rng.choice(list(RATES))
        text = exact_variant(base[i], rng) if kind == "exact" else mutate(base[i], RATES[kind], rng)
        v = f"v{j:06d}"
        docs[v] = text
        planted.append(Planted(v, f"b{i:06d}", kind, jaccard(text, base[i])))
    ids = list(docs)
    rng.shuffle(ids)
    return {i: docs[i] for i in ids}, planted, len(pool)


def write(folder: Path, docs: dict[str, str], planted: list[Planted], shards: int, seed: int, pool: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed + 1)
    ids = list(docs)
    for s in range(shards):
        chunk = ids[s * len(ids) // shards:(s + 1) * len(ids) // shards]
        table = pa.table({
            "id": chunk,
            "url": [f"http://corpus.example/{i}" for i in chunk],
            "text": [docs[i] for i in chunk],
            "karma": pa.array([rng.randint(3, 500) for _ in chunk], pa.int64()),
        })
        pq.write_table(table, folder / f"part-{s:05d}.parquet")
    meta = {
        "version": VERSION, "documents": len(docs), "shards": shards, "seed": seed, "sentences": pool,
        "bytes": sum(len(t.encode()) for t in docs.values()), "words": sum(len(t.split()) for t in docs.values()),
        "planted": [p.__dict__ for p in planted],
    }
    (folder / "planted.json").write_text(json.dumps(meta))


def load(folder: Path) -> Corpus | None:
    try:
        meta = json.loads((folder / "planted.json").read_text())
    except (OSError, ValueError):
        return None
    files = [folder / f"part-{s:05d}.parquet" for s in range(meta.get("shards", 0))]
    if meta.get("version") != VERSION or not files or not all(f.exists() for f in files):
        return None
    return Corpus(folder, files, [Planted(**p) for p in meta["planted"]], meta["documents"], meta["bytes"],
                  meta["words"], meta["sentences"])


def cached_corpus(workdir: Path, documents: int, seed: int, data: Path, shards: int = 2) -> Corpus:
    """The corpus for (documents, seed, shards) under ``workdir/corpus-...``, built once (atomically)."""
    folder = workdir / f"corpus-{documents}-seed{seed}-{shards}shards"
    corpus = load(folder)
    if corpus is not None:
        log.info("using cached corpus %s", folder)
        return corpus
    start = time.perf_counter()
    log.info("building a corpus of %d documents (seed %d) from the real text in %s ...", documents, seed, data)
    docs, planted, pool = build(documents, seed, data)
    tmp = workdir / f".{folder.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp, docs, planted, shards, seed, pool)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    log.info("built %s in %.1f s", folder, time.perf_counter() - start)
    corpus = load(folder)
    assert corpus is not None
    return corpus
