"""The contamination benchmark's corpus: ~3-5 KB documents of real sentences, a few carrying lines
of the benchmark test sets.

Real English text is small here (~5 MB in ``../shared/data``), so the corpus re-draws it: the pool
is every distinct sentence of WikiText-2 *valid*, PTB *valid*, Tiny Shakespeare (one speech's verse
at a time), the article bodies of article-extraction-benchmark and the must-contain segments of
trafilatura-eval. The benchmarks themselves (WikiText-2 test, PTB test) stay out of the pool.
Every document is a seeded random draw of sentences, in paragraphs of 2-6 sentences, concatenated
until it reaches a size drawn uniformly from 3,000-5,000 bytes; n-grams inside a sentence therefore
repeat across the corpus (the pool is ~40x smaller than the corpus) while those spanning two
sentences are mostly new, as in web text. About ``PLANTED_SHARE`` of the documents get one line
of WikiText-2 test or PTB test (>= 12 words) planted at a paragraph boundary, so the scan has real
hits to write.

Deterministic for (megabytes, shards, seed); written as Parquet shards (``id``, ``url``, ``text``)
plus ``corpus.json`` (written last: the folder is complete when it exists) and cached:
:func:`cached_corpus` builds a folder only once.
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("benchmarks.contamination.corpus")

VERSION = 1  # bump when the generator changes: the folder name changes with it
MIN_BYTES, MAX_BYTES = 3000, 5000
MIN_SENTENCE_WORDS = 3
PLANTED_SHARE = 0.002
PLANT_MIN_WORDS = 12
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
WIKI_SENTENCE_END = re.compile(r"(?<= [.!?]) ")  # WikiText is tokenised: " . " ends a sentence


@dataclass
class Corpus:
    folder: Path
    files: list[Path]
    documents: int
    text_bytes: int  # UTF-8 bytes of all the texts
    planted: int


def _sentences(paragraph: str, splitter: re.Pattern[str]) -> list[str]:
    out = []
    for s in splitter.split(paragraph):
        s = " ".join(s.split())
        if len(s.split()) >= MIN_SENTENCE_WORDS:
            out.append(s)
    return out


def sentence_pool(data: Path) -> list[str]:
    """Every distinct sentence of the corpus sources, in a fixed order."""
    found: list[str] = []
    for line in (data / "wikitext-2" / "valid.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.strip().startswith("="):
            found.extend(_sentences(line, WIKI_SENTENCE_END))
    for line in (data / "ptb" / "ptb.valid.txt").read_text(encoding="utf-8").splitlines():
        found.extend(_sentences(line, SENTENCE_END))
    play = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    for speech in play.split("\n\n"):  # the speaker's line ("NAME:"), then the verse
        verse = [line for line in speech.splitlines() if line.strip() and not line.rstrip().endswith(":")]
        found.extend(_sentences(" ".join(verse), SENTENCE_END))
    articles = json.loads((data / "article-extraction-benchmark" / "ground-truth.json").read_text(encoding="utf-8"))
    for item in articles.values():
        for paragraph in (item.get("articleBody") or "").splitlines():
            found.extend(_sentences(paragraph, SENTENCE_END))
    pages = json.loads((data / "trafilatura-eval" / "evaldata.json").read_text(encoding="utf-8"))
    for item in pages.values():
        for segment in item.get("with") or ():
            found.extend(_sentences(segment, SENTENCE_END))
    return list(dict.fromkeys(found))


def benchmark_lines(data: Path) -> list[str]:
    """Lines of the benchmark test sets long enough to plant."""
    lines = (data / "wikitext-2" / "test.txt").read_text(encoding="utf-8").splitlines()
    lines += (data / "ptb" / "ptb.test.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if len(line.split()) >= PLANT_MIN_WORDS and not line.strip().startswith("=")]


def document(pool: list[str], plant: list[str], rng: random.Random) -> tuple[str, bool]:
    target = rng.randint(MIN_BYTES, MAX_BYTES)
    paragraphs: list[str] = []
    size = 0
    while size < target:
        para = " ".join(rng.choice(pool) for _ in range(rng.randint(2, 6)))
        paragraphs.append(para)
        size += len(para.encode()) + 2
    planted = rng.random() < PLANTED_SHARE
    if planted:
        paragraphs.insert(rng.randint(0, len(paragraphs)), rng.choice(plant))
    return "\n\n".join(paragraphs), planted


def corpus_folder(workdir: Path, megabytes: int, shards: int, seed: int) -> Path:
    return workdir / f"corpus-{megabytes}MB-{shards}shards-seed{seed}-v{VERSION}"


def cached_corpus(data: Path, workdir: Path, megabytes: int, shards: int, seed: int = 0) -> Corpus:
    """The corpus of ``megabytes`` MB (10**6 bytes of text) in ``shards`` Parquet files, built once."""
    folder = corpus_folder(workdir, megabytes, shards, seed)
    meta = folder / "corpus.json"
    if meta.exists():
        info = json.loads(meta.read_text())
        log.info("using cached corpus %s (%d documents, %.0f MB of text)", folder, info["documents"],
                 info["text_bytes"] / 1e6)
        return Corpus(folder, [folder / f for f in info["files"]], info["documents"], info["text_bytes"],
                      info["planted"])
    import pyarrow as pa
    import pyarrow.parquet as pq

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    start = time.perf_counter()
    pool, plant = sentence_pool(data), benchmark_lines(data)
    log.info("building a %d MB corpus from %d distinct real sentences (seed %d)...", megabytes, len(pool), seed)
    rng = random.Random(seed)
    per_shard = megabytes * 10**6 // shards
    files: list[str] = []
    documents = total = planted = 0
    for shard in range(shards):
        ids, urls, texts = [], [], []
        size = 0
        while size < per_shard:
            text, was_planted = document(pool, plant, rng)
            ids.append(f"d{documents:08d}")
            urls.append(f"https://corpus.example/{shard}/{documents}")
            texts.append(text)
            size += len(text.encode())
            documents += 1
            planted += was_planted
        name = f"part-{shard:05d}.parquet"
        pq.write_table(pa.table({"id": ids, "url": urls, "text": texts}), folder / name)
        files.append(name)
        total += size
    meta.write_text(json.dumps({"documents": documents, "text_bytes": total, "planted": planted, "files": files,
                                "seed": seed, "version": VERSION, "pool_sentences": len(pool)}, indent=1))
    log.info("built %s in %.1f s: %d documents, %.0f MB of text, %d planted", folder.name,
             time.perf_counter() - start, documents, total / 1e6, planted)
    return Corpus(folder, [folder / f for f in files], documents, total, planted)
