#!/usr/bin/env bash
# Creates the virtual environment benchmarks/dedup.py runs datatrove's MinHash pipeline in
# (default: benchmarks/out/datatrove-venv, git-ignored). A benchmark-only dependency, kept out of
# webtext's own environment: datatrove 0.10.1 hashes `str` with xxhash and breaks with xxhash 4.x
# (its `processing` extra pins xxhash<4), and its English word tokenizer wants spacy, which the
# benchmark avoids by passing a whitespace WordTokenizer (benchmarks/datatrove_minhash.py).
#
#   bash benchmarks/datatrove-env.sh [VENV_DIR]      # then: python benchmarks/dedup.py
#
# PYTHON=python3.11 picks the interpreter (default: python3).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${1:-$here/out/datatrove-venv}"
python="${PYTHON:-python3}"

"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# datatrove's pipeline core + what its MinHash steps and Parquet reader/writer import (not its
# `io`/`processing` extras, which pull in datasets, fasttext, nltk, trafilatura, ...;
# datatrove.pipeline.dedup imports HF `tokenizers` for its other dedup steps). Versions pinned to
# the set this benchmark was measured with (Python 3.11, Linux x86-64).
"$venv/bin/python" -m pip install --quiet \
    "datatrove==0.10.1" \
    "xxhash==3.8.2" \
    "regex==2026.11.19" \
    "tokenizers==0.23.3" \
    "pyarrow==26.0.1" \
    "numpy==2.4.6" \
    "dill==0.4.1" \
    "multiprocess==0.70.19" \
    "fsspec==2026.9.0" \
    "huggingface_hub==2.4.0" \
    "loguru==0.7.3"
"$venv/bin/python" - <<'PY'
from importlib.metadata import version

from datatrove.executor import LocalPipelineExecutor  # noqa: F401
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature  # noqa: F401
from datatrove.pipeline.readers import ParquetReader  # noqa: F401
from datatrove.pipeline.writers import ParquetWriter  # noqa: F401

print(f"datatrove {version('datatrove')}, xxhash {version('xxhash')}, pyarrow {version('pyarrow')}: ok")
PY
echo "datatrove environment ready: $venv/bin/python"
