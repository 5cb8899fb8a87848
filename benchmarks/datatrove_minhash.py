"""datatrove's 4-step MinHash deduplication of a folder of docs Parquet files, for benchmarks/dedup.py.

Runs inside datatrove's own virtual environment (``bash benchmarks/datatrove-env.sh``), not
webtext's: it imports neither webtext nor the benchmark helpers. The pipeline is datatrove's
documented one, each step a ``LocalPipelineExecutor``:

1. ``MinhashDedupSignature`` -- ``--tasks`` tasks (one per Parquet file), ``--workers`` processes;
2. ``MinhashDedupBuckets`` -- one task per bucket, ``--workers`` processes;
3. ``MinhashDedupCluster`` -- one task (``save_cluster_id=True``, so the benchmark can tell which
   kept document each removed one was clustered with);
4. ``MinhashDedupFilter`` -- ``--tasks`` tasks: kept documents to ``OUT/output`` and removed ones
   to ``OUT/removed`` (Parquet, datatrove's ``ParquetWriter``).

Shingles are made to match webtext's: text lower-cased and whitespace collapsed, punctuation,
digits and diacritics left alone (``TextNormConfig``), words split on whitespace by a
``WordTokenizer`` given in place of a language (datatrove's English tokenizer would need spacy),
``--ngram`` words per shingle. Hashes: datatrove's defaults (xxhash64 per shingle string, 64-bit
permutations); ``--buckets`` x ``--rows`` permutations.

    python benchmarks/datatrove_minhash.py DOCS_DIR OUT_DIR [--buckets 9 --rows 13 --ngram 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import ParquetReader
from datatrove.pipeline.writers import ParquetWriter
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig
from datatrove.utils.word_tokenizers import WordTokenizer


class WhitespaceTokenizer(WordTokenizer):
    """Words = whitespace-separated tokens (webtext's shingle definition); no spacy, no nltk."""

    def __init__(self) -> None:
        super().__init__("whitespace")

    def word_tokenize(self, text: str) -> list[str]:
        return text.split()

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("docs", type=Path, help="folder of docs Parquet files (id, text)")
    parser.add_argument("out", type=Path, help="output folder (must be new or empty: datatrove skips finished tasks)")
    parser.add_argument("--buckets", type=int, default=9, help="LSH buckets (bands)")
    parser.add_argument("--rows", type=int, default=13, help="hashes per bucket (rows)")
    parser.add_argument("--ngram", type=int, default=5, help="words per shingle")
    parser.add_argument("--seed", type=int, default=1, help="seed of the permutations")
    parser.add_argument("--tasks", type=int, default=2, help="signature/filter tasks (one per Parquet file)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of every step")
    args = parser.parse_args(argv)

    files = sorted(args.docs.glob("*.parquet"))
    if not files:
        parser.error(f"no Parquet files in {args.docs}")
    out = args.out.resolve()
    config = MinhashConfig(
        n_grams=args.ngram, num_buckets=args.buckets, hashes_per_bucket=args.rows, seed=args.seed,
        norm_config=TextNormConfig(lowercase=True, norm_whitespace=True, remove_punctuation=False,
                                   norm_unicode_diacritics=False, norm_numbers=False),
        hash_config=HashConfig(precision=64, hash_fc="xxhash"),
    )

    def reader() -> ParquetReader:
        return ParquetReader(str(args.docs.resolve()), glob_pattern="*.parquet", text_key="text", id_key="id")

    tokenizer = WhitespaceTokenizer()
    steps = {
        "signatures": LocalPipelineExecutor(
            pipeline=[reader(), MinhashDedupSignature(output_folder=str(out / "signatures"), config=config,
                                                      language=tokenizer)],
            tasks=args.tasks, workers=args.workers, logging_dir=str(out / "logs" / "signatures"),
        ),
        "buckets": LocalPipelineExecutor(
            pipeline=[MinhashDedupBuckets(input_folder=str(out / "signatures"), output_folder=str(out / "buckets"),
                                          config=config)],
            tasks=args.buckets, workers=args.workers, logging_dir=str(out / "logs" / "buckets"),
        ),
        "clusters": LocalPipelineExecutor(
            pipeline=[MinhashDedupCluster(input_folder=str(out / "buckets"), output_folder=str(out / "clusters"),
                                          config=config, save_cluster_id=True)],
            tasks=1, workers=1, logging_dir=str(out / "logs" / "clusters"),
        ),
        "filter": LocalPipelineExecutor(
            pipeline=[reader(),
                      MinhashDedupFilter(input_folder=str(out / "clusters"),
                                         exclusion_writer=ParquetWriter(str(out / "removed"))),
                      ParquetWriter(str(out / "output"))],
            tasks=args.tasks, workers=args.workers, logging_dir=str(out / "logs" / "filter"),
        ),
    }
    seconds: dict[str, float] = {}
    for name, executor in steps.items():
        start = time.perf_counter()
        executor.run()
        seconds[name] = time.perf_counter() - start
    (out / "timings.json").write_text(json.dumps({"steps": seconds, "files": [f.name for f in files]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
