"""The tokenize benchmark's corpus: ~3-5 KB English documents of real paragraphs, as Parquet docs.

Real English text is small here (~8 MB in ``../shared/data``), so documents are seeded random
draws of real paragraphs. Paragraph pools, and the share of documents drawn from each:

- ``articles`` (50%): news/blog article bodies -- the ground truth of article-extraction-benchmark
  (``articleBody``) and the main text of every trafilatura-eval page (``trafilatura.extract`` on
  its HTML, trafilatura's defaults; cached in the work folder, as extracting takes ~15 s);
- ``shakespeare`` (25%): the speeches of Tiny Shakespeare, line breaks kept;
- ``wikipedia`` (25%): WikiText-2 test + valid paragraphs, de-tokenised (``" @-@ "`` -> ``"-"``,
  ``" , "`` -> ``", "``, quotes re-attached, ...) and every ``<unk>`` replaced by a capitalised
  word drawn from the article pool, so BPE sees ordinary Wikipedia prose rather than
  WikiText's pre-tokenised form.

PTB (lower-case, no punctuation, ``<unk>`` and ``N`` for numbers) is left out: nothing on the
web looks like it. Paragraphs (of the article and Wikipedia pools) that do not look English
(fewer than 15% of their words among common English function words, or fewer than 8 words) are
dropped, which removes most of trafilatura-eval's German and other non-English pages.

A document picks a pool (by the shares above), a size (uniform in 3,000-5,000 UTF-8 bytes) and
draws paragraphs of that pool, joined by a blank line, until it reaches the size. Documents are
written round-robin into ``files`` Parquet files (``id``, ``text``; zstd, as webtext's own docs
datasets), so every file has the same mix. Deterministic for (total bytes, files, seed) and
cached: :func:`cached_corpus` rebuilds only when the folder is missing or was made by another
version of this file or with other parameters.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("benchmarks.tokenize.corpus")

VERSION = 1  # bump when the generator changes: cached corpora of another version are rebuilt
SHARES = {"articles": 0.50, "shakespeare": 0.25, "wikipedia": 0.25}
DOC_BYTES = (3000, 5000)
MIN_WORDS = 8
MIN_FUNCTION_SHARE = 0.15
FUNCTION_WORDS = frozenset({
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "was", "on", "with", "as", "by", "at",
    "be", "this", "from", "or", "an", "are", "were", "which", "his", "her", "their", "has", "have", "had",
    "not", "but", "they", "he", "she", "we", "you", "i", "its", "will", "would", "can", "there", "been"
})
_WIKI_RULES = [
    (re.compile(r" @(.)@ "), r"\1"),  # " @-@ " -> "-", " @,@ " -> ",", " @.@ " -> "."
    (re.compile(r" ([.,;:!?%)\]])"), r"\1"),
    (re.compile(r"([(\[$]) "), r"\1"),
    (re.compile(r" (n't|'s|'re|'ve|'m|'ll|'d)\b"), r"\1"),
    (re.compile(r'" (.*?) "'), r'"\1"'),
    (re.compile(r" {2,}"), " "),
]
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{3,}\b")


def looks_english(paragraph: str) -> bool:
    words = paragraph.lower().split()
    if len(words) < MIN_WORDS:
        return False
    return sum(w in FUNCTION_WORDS for w in words) >= MIN_FUNCTION_SHARE * len(words)


def article_texts(data: Path, cache: Path) -> list[str]:
    """Article bodies: article-extraction-benchmark's ground truth and trafilatura's extraction of
    every trafilatura-eval page (cached in ``cache``, keyed by trafilatura's version)."""
    import trafilatura

    aeb = json.loads((data / "article-extraction-benchmark" / "ground-truth.json").read_text(encoding="utf-8"))
    texts = [item.get("articleBody") or "" for item in aeb.values()]
    key = {"version": VERSION, "trafilatura": trafilatura.__version__}
    if cache.exists():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("key") == key:
            return texts + stored["texts"]
    start = time.perf_counter()
    evaldata = json.loads((data / "trafilatura-eval" / "evaldata.json").read_text(encoding="utf-8"))
    extracted = []
    for item in evaldata.values():
        html = gzip.decompress((data / "trafilatura-eval" / item["html_gz"]).read_bytes())
        extracted.append(trafilatura.extract(html.decode("utf-8", errors="replace")) or "")
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "texts": extracted}), encoding="utf-8")
    log.info("extracted the text of %d trafilatura-eval pages in %.1f s (cached in %s)", len(extracted),
             time.perf_counter() - start, cache)
    return texts + extracted


def wiki_paragraph(line: str, names: list[str], rng: random.Random) -> str:
    for pattern, repl in _WIKI_RULES:
        line = pattern.sub(repl, line)
    return re.sub(r"<unk>", lambda _: rng.choice(names), line).strip()


def pools(data: Path, cache: Path) -> dict[str, list[str]]:
    """The distinct paragraphs of each pool, in a fixed order."""
    articles = [" ".join(p.split()) for t in article_texts(data, cache) for p in t.splitlines()]
    articles = [p for p in dict.fromkeys(articles) if looks_english(p)]
    names = sorted({m for p in articles for m in _CAPITALISED.findall(p)})
    rng = random.Random(0)
    wiki: list[str] = []
    for split in ("test", "valid"):
        for line in (data / "wikitext-2" / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("="):
                wiki.append(wiki_paragraph(line, names, rng))
    wiki = [p for p in dict.fromkeys(wiki) if looks_english(p)]
    play = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    speeches = [s.strip("\n") for s in play.split("\n\n") if s.strip()]
    return {"articles": articles, "shakespeare": list(dict.fromkeys(speeches)), "wikipedia": wiki}


def document(pool: list[str], rng: random.Random) -> str:
    target = rng.randint(*DOC_BYTES)
    parts: list[str] = []
    size = 0
    while size < target:
        p = rng.choice(pool)
        parts.append(p)
        size += len(p.encode()) + 2
    return "\n\n".join(parts)


@dataclass
class Corpus:
    """The documents: Parquet files in ``folder``."""

    folder: Path
    files: list[Path]
    documents: int
    total_bytes: int  # UTF-8 bytes of all texts
    pool_bytes: dict[str, int]  # distinct paragraph bytes per pool
    share_bytes: dict[str, float]  # share of the corpus's bytes per pool

    def describe(self) -> str:
        mix = ", ".join(f"{k} {100 * v:.0f}% ({self.pool_bytes[k] / 1e6:.1f} MB distinct)"
                        for k, v in self.share_bytes.items())
        return f"{self.documents:,} docs, {self.total_bytes / 1e6:.1f} MB in {len(self.files)} files; bytes: {mix}"


def build(data: Path, folder: Path, total_bytes: int, files: int, seed: int) -> Corpus:
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = time.perf_counter()
    paragraphs = pools(data, folder.parent / "articles-cache.json")
    names, weights = list(SHARES), list(SHARES.values())
    rng = random.Random(seed)
    ids: list[list[str]] = [[] for _ in range(files)]
    texts: list[list[str]] = [[] for _ in range(files)]
    by_pool = dict.fromkeys(SHARES, 0)
    size = n = 0
    while size < total_bytes:
        pool = rng.choices(names, weights)[0]
        text = document(paragraphs[pool], rng)
        b = len(text.encode())
        ids[n % files].append(f"tok-{n:07d}")
        texts[n % files].append(text)
        by_pool[pool] += b
        size += b
        n += 1
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    paths = []
    for i in range(files):
        path = tmp / f"part-{i:05d}.parquet"
        pq.write_table(pa.table({"id": ids[i], "text": texts[i]}), path, compression="zstd", write_page_checksum=True)
        paths.append(path)
    corpus = Corpus(folder, [folder / p.name for p in paths], n, size,
                    {k: sum(len(p.encode()) for p in v) for k, v in paragraphs.items()},
                    {k: v / size for k, v in by_pool.items()})
    meta = {"key": key_of(total_bytes, files, seed), "documents": n, "total_bytes": size,
            "pool_bytes": corpus.pool_bytes, "share_bytes": corpus.share_bytes}
    (tmp / "corpus.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    log.info("built the corpus in %.1f s: %s", time.perf_counter() - start, corpus.describe())
    return corpus


def key_of(total_bytes: int, files: int, seed: int) -> dict[str, int]:
    return {"version": VERSION, "total_bytes": total_bytes, "files": files, "seed": seed}


def cached_corpus(data: Path, workdir: Path, total_bytes: int, files: int, seed: int) -> Corpus:
    """The corpus for these parameters under ``workdir``, built if missing or stale."""
    folder = workdir / f"corpus-{total_bytes // 10**6}mb-{files}f-s{seed}"
    marker = folder / "corpus.json"
    if marker.exists():
        meta = json.loads(marker.read_text())
        paths = sorted(folder.glob("part-*.parquet"))
        if meta.get("key") == key_of(total_bytes, files, seed) and len(paths) == files:
            return Corpus(folder, paths, meta["documents"], meta["total_bytes"], meta["pool_bytes"],
                          meta["share_bytes"])
    return build(data, folder, total_bytes, files, seed)


def read_texts(paths: list[Path]) -> list[tuple[list[str], list[str]]]:
    """(ids, texts) of every file, in order."""
    import pyarrow.parquet as pq

    out = []
    for p in paths:
        table = pq.read_table(p, columns=["id", "text"])
        out.append((table.column("id").to_pylist(), table.column("text").to_pylist()))
    return out
