"""The tokenize stage's own subcommand: ``export-bin`` (token files for llm.c / nanoGPT-style trainers)."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_export_bin(ns: argparse.Namespace) -> int:
    from webtext.tokenize.export_bin import export_bin

    stats = export_bin(Path(ns.tokens), Path(ns.out), ns.name, ns.shard_tokens)
    print(f"export-bin: {ns.out}: " + "; ".join(
        f"{split} {stats[f'tokens_{split}']:,} tokens in {stats[f'files_{split}']} file(s)"
        for split in ("train", "val") if f"tokens_{split}" in stats))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """``export-bin`` under ``webtext-build``."""
    p = sub.add_parser("export-bin", help="write a tokens dataset as llm.c/nanoGPT .bin token files (uint16 after "
                                          "a 256-int32 header: magic 20240520, version 1, token count)")
    p.add_argument("tokens", help="a tokens dataset (both its train/ and val/ splits are written)")
    p.add_argument("--out", required=True, help="folder for NAME_train_NNNNNN.bin and NAME_val_NNNNNN.bin")
    p.add_argument("--name", default="webtext", help="file-name prefix (default: webtext)")
    p.add_argument("--shard-tokens", type=int, default=100_000_000,
                   help="tokens per file; the last of a split holds the rest (default: 100000000, as llm.c's FineWeb)")
    p.set_defaults(func=cmd_export_bin)
