"""The train stage's own subcommands: ``export-hf`` and ``eval-loss`` (torch is imported when they run)."""

from __future__ import annotations

import argparse
from pathlib import Path

from webtext.errors import ConfigError


def cmd_export_hf(ns: argparse.Namespace) -> int:
    from webtext.train.export import HF_FILES, export_hf

    out = export_hf(Path(ns.checkpoint), Path(ns.out), ns.tokenizer)
    print(f"export-hf: wrote {out}: {', '.join(HF_FILES)}")
    return 0


def cmd_eval_loss(ns: argparse.Namespace) -> int:
    import json

    from webtext.train.export import eval_loss, load_model, perplexity, split_stream

    model, record = load_model(Path(ns.checkpoint))
    stream, tok_hash = split_stream(Path(ns.tokens), ns.split)
    if record.get("tokenizer_hash") and tok_hash and record["tokenizer_hash"] != tok_hash:
        raise ConfigError("tokens", f"{ns.tokens} was tokenized with {tok_hash[:12]}, the model was trained on "
                                    f"{record['tokenizer_hash'][:12]}")
    loss, n = eval_loss(model, stream, ns.seq_len)
    print(f"eval-loss: {ns.split} loss {loss:.5f} (perplexity {perplexity(loss):.2f}) over {n:,} tokens")
    if ns.json:
        print(json.dumps({"loss": loss, "tokens": n, "split": ns.split}))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """``export-hf`` and ``eval-loss`` under ``webtext-build``."""
    p = sub.add_parser("export-hf", help="write a checkpoint as a transformers GPT2LMHeadModel folder")
    p.add_argument("checkpoint", help="RUN_DIR (its newest valid checkpoint) or RUN_DIR/step-N")
    p.add_argument("--out", required=True, help="the Hugging Face model folder to write (weights, config, tokenizer "
                                                "files, generation_config.json, README.md model card)")
    p.add_argument("--tokenizer", default=None, help="the tokenizer the run's tokens were made with (default: the one "
                                                     "the tokens dataset's manifest names; its hash is checked)")
    p.set_defaults(func=cmd_export_hf)

    p = sub.add_parser("eval-loss", help="mean next-token loss of a checkpoint over a token split")
    p.add_argument("checkpoint", help="RUN_DIR or RUN_DIR/step-N")
    p.add_argument("tokens", help="a tokens dataset")
    p.add_argument("--split", default="val", choices=["train", "val"], help="the split scored (default: val)")
    p.add_argument("--seq-len", type=int, default=None, help="window length (default: the model's context)")
    p.add_argument("--json", action="store_true", help="end with a JSON line {\"loss\": ...}")
    p.set_defaults(func=cmd_eval_loss)
