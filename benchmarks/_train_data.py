"""Token datasets for the training benchmarks, made with the project's own code, no network.

- :func:`shakespeare_tokens`: Tiny Shakespeare (``../shared/data/tinyshakespeare``) cut into
  3,000-character documents (as ``../shared/checks/train_parity.py`` does) and tokenized by
  ``webtext-build tokenize`` with OpenAI's GPT-2 BPE files (``../shared/data/gpt2-bpe``, vocab
  50257), 10% of the documents in ``val/``. Cached: rebuilt only when missing or made by another
  version of this file.
- :func:`synthetic_tokens`: seeded Zipf-distributed token ids (vocab 50257, documents of 1-16k
  tokens, each ending in ``<|endoftext|>``) written with ``webtext.tokenize.shards.write_shard``
  plus a ``_manifest.json`` listing the files, for machines without the shared data or a
  tokenizer (the GPU benchmark). Unigram-skewed so the loss visibly falls from ln(50257) ~ 10.8.

    python benchmarks/_train_data.py synthetic --out DIR [--tokens 50000000]
    python benchmarks/_train_data.py shakespeare --out DIR
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

log = logging.getLogger("benchmarks.train.data")

VERSION = 1  # bump when a generator changes: cached datasets of another version are rebuilt
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
GPT2_VOCAB, GPT2_EOT = 50257, 50256
DOC_CHARS = 3000


def _marker(out: Path, key: dict) -> bool:
    """True when ``out`` is a finished dataset made with ``key``."""
    marker = out / "benchmark-key.json"
    return (out / "_manifest.json").exists() and marker.exists() and json.loads(marker.read_text()) == key


def shakespeare_tokens(out: Path, data: Path = DATA) -> Path:
    """Tiny Shakespeare as a tokens dataset in ``out`` (GPT-2 BPE); reused when already there."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    key = {"version": VERSION, "kind": "shakespeare", "doc_chars": DOC_CHARS}
    if _marker(out, key):
        return out
    shutil.rmtree(out, ignore_errors=True)
    docs = out.parent / f"{out.name}-docs"
    shutil.rmtree(docs, ignore_errors=True)
    docs.mkdir(parents=True)
    text = (data / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    chunks = [text[i:i + DOC_CHARS] for i in range(0, len(text), DOC_CHARS)]
    pq.write_table(pa.table({"id": [f"s{i:04d}" for i in range(len(chunks))], "text": chunks}),
                   docs / "part-00000.parquet")
    from webtext.cli import main as cli

    code = cli(["-q", "tokenize", str(docs), "--tokenizer", str(data / "gpt2-bpe"), "--out", str(out),
                "--val-fraction", "0.1", "--runner", "local"])
    if code:
        raise SystemExit(f"webtext-build tokenize exited with {code}")
    shutil.rmtree(docs, ignore_errors=True)
    (out / "benchmark-key.json").write_text(json.dumps(key))
    log.info("tokenized Tiny Shakespeare into %s", out)
    return out


def synthetic_tokens(out: Path, n_tokens: int, seed: int = 0, vocab: int = GPT2_VOCAB) -> Path:
    """``n_tokens`` seeded synthetic tokens (train split) as a tokens dataset in ``out``."""
    from webtext.data import Manifest, file_sha256
    from webtext.tokenize.shards import write_shard

    key = {"version": VERSION, "kind": "synthetic", "tokens": n_tokens, "seed": seed, "vocab": vocab}
    if _marker(out, key):
        return out
    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(seed)
    eot = vocab - 1
    flat = ((rng.zipf(1.2, n_tokens) - 1) % (vocab - 1)).astype(np.uint16 if vocab <= 65536 else np.uint32)
    lengths = rng.integers(1024, 16384, size=n_tokens // 1024 + 1)
    ends = np.cumsum(lengths)
    ends = np.concatenate([ends[ends < n_tokens], [n_tokens]])
    flat[ends - 1] = eot  # every document ends with <|endoftext|>, as the tokenize stage writes them
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    ids = [f"syn{i:07d}" for i in range(len(ends))]
    tok = SimpleNamespace(content_hash=f"synthetic-zipf-v{VERSION}-{vocab}", source="synthetic", vocab_size=vocab,
                          eot_id=eot)
    files = []
    for split, (split_ids, split_flat, split_offsets) in {
        "train": (ids, flat, offsets),
        "val": (ids[:1], flat[:offsets[1]], offsets[:2]),  # a token val split, for eval-loss
    }.items():
        path = out / split / "tokens-00000.arrow"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_shard(path, split_ids, split_flat, split_offsets, tok, split)
        digest, size = file_sha256(path)
        files.append({"path": f"{split}/{path.name}", "rows": len(split_ids), "bytes": size, "sha256": digest})
    Manifest(stage="tokenize", fingerprint=f"synthetic-{seed}-{n_tokens}", config={"synthetic": key}, inputs=[],
             shards=[{"index": 0, "files": files}], stats={"train_tokens": n_tokens}).write(out)
    (out / "benchmark-key.json").write_text(json.dumps(key))
    log.info("wrote %s synthetic tokens into %s", f"{n_tokens:,}", out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("kind", choices=["synthetic", "shakespeare"])
    parser.add_argument("--out", type=Path, required=True, help="the tokens dataset folder")
    parser.add_argument("--tokens", type=int, default=50_000_000, help="synthetic: tokens in the train split")
    parser.add_argument("--seed", type=int, default=0, help="synthetic: seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if args.kind == "synthetic":
        synthetic_tokens(args.out.resolve(), args.tokens, args.seed)
    else:
        shakespeare_tokens(args.out.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
