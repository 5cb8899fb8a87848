"""The peer of ``webtext-build contamination``: GPT-2's 8-gram overlap written plainly, run as its own
process on the same Parquet files the stage reads (``shared/PEERS.md``'s "8-gram overlap, whole
process" row).

For every benchmark line ``re.findall(r"[a-z0-9]+", line.lower())`` and its 8-gram strings (words
joined by single spaces) go into one Python ``set``; for every document of the corpus (read with
pyarrow, one record batch at a time) the same words and 8-gram strings, each looked up in that set
(hits counted) and added to a Python ``set`` of the corpus n-grams (GPT-2 built a set / Bloom filter
of the corpus n-grams). Prints one JSON line: documents, text bytes, hits, distinct corpus n-grams.

    python benchmarks/_naive_contamination.py CORPUS_FOLDER BENCHMARK_FILE...
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

WORD = re.compile(r"[a-z0-9]+")
NGRAM = 8


def benchmark_grams(paths: list[Path]) -> set[str]:
    grams: set[str] = set()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                w = WORD.findall(line.lower())
                grams.update(" ".join(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1))
    return grams


def main(argv: list[str]) -> int:
    import pyarrow.parquet as pq

    folder, bench_files = Path(argv[0]), [Path(p) for p in argv[1:]]
    bench = benchmark_grams(bench_files)
    findall = WORD.findall
    seen: set[str] = set()
    hits = documents = text_bytes = 0
    for path in sorted(folder.glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=2048, columns=["text"]):
            for text in batch.column("text").to_pylist():
                documents += 1
                text_bytes += len(text.encode())
                w = findall(text.lower())
                grams = [" ".join(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1)]
                hits += sum(1 for g in grams if g in bench)
                seen.update(grams)
    print(json.dumps({"documents": documents, "text_bytes": text_bytes, "hits": hits, "distinct": len(seen)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
