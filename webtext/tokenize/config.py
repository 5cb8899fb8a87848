"""Configs of the ``train-tokenizer`` and ``tokenize`` stages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from webtext.config import inputs_under, opt, subkey, under
from webtext.errors import ConfigError
from webtext.stage_spec import StaticInput, input_paths


@dataclass
class TrainTokenizerConfig:
    """``train-tokenizer``: GPT-2's kind of byte-level BPE, trained with tokenizers on a corpus sample."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a docs dataset, or folders/globs of Parquet files with `id` and `text`", positional=True,
    )
    vocab_size: int = opt(50257, "tokens including the 256 byte tokens and <|endoftext|> (the last id)")
    sample_bytes: int = opt(1_000_000_000, "text it trains on: every k-th document, streamed, up to about this much")
    threads: int = opt(0, "threads the trainer uses (0: all CPUs of this machine)")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        if not 257 <= self.vocab_size <= 2**32:
            raise ConfigError(subkey(key, "vocab_size"), "must be >= 257 (256 bytes + <|endoftext|>)")
        if self.sample_bytes < 1:
            raise ConfigError(subkey(key, "sample_bytes"), "must be >= 1")
        if self.threads < 0:
            raise ConfigError(subkey(key, "threads"), "must be >= 0")

    def static_inputs(self) -> list[StaticInput]:
        return input_paths(self.inputs)

    def resolve_paths(self, base: Path) -> TrainTokenizerConfig:
        return inputs_under(self, base)


@dataclass
class TokenizeConfig:
    """The ``tokenize`` stage: docs -> Arrow token shards (train/ and val/ splits)."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a docs dataset, or folders/globs of Parquet files with `id` and `text`", positional=True,
    )
    tokenizer: str = opt(help="tokenizer.json, or a folder with encoder.json+vocab.bpe (OpenAI's GPT-2 files) or "
                             "vocab.json+merges.txt or tokenizer.json")
    val_fraction: float = opt(0.0005, "share of documents in val/, chosen by a hash of the id (nanoGPT: 0.0005)")
    shard_tokens: int = opt(100_000_000, "target tokens per shard: small docs files are grouped up to about this")
    batch_rows: int = opt(1024, "documents encoded per batch")
    max_chars_per_piece: int = opt(1_000_000, "longer documents are encoded in pieces cut at token boundaries")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        if not self.tokenizer:
            raise ConfigError(subkey(key, "tokenizer"), "give the tokenizer (a file or folder)")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(subkey(key, "val_fraction"), "must be in [0, 1)")
        for name in ("shard_tokens", "batch_rows"):
            if getattr(self, name) < 1:
                raise ConfigError(subkey(key, name), "must be >= 1")
        if self.max_chars_per_piece < 1000:
            raise ConfigError(subkey(key, "max_chars_per_piece"), "must be >= 1000")

    def static_inputs(self) -> list[StaticInput]:
        return [*input_paths(self.inputs), StaticInput("tokenizer", self.tokenizer, "tokenizer")]

    def resolve_paths(self, base: Path) -> TokenizeConfig:
        return inputs_under(self, base, tokenizer=under(base, self.tokenizer))
