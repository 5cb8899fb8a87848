"""Byte-level BPE tokenizers as GPT-2 defined them: load, train, save, encode.

One in-memory form, ``BpeTokenizer`` (token bytes -> id, merges in order, special tokens, the
pre-tokenisation pattern), loaded from a ``tokenizer.json``, from OpenAI's ``encoder.json`` +
``vocab.bpe`` or from the Hugging Face ``vocab.json`` + ``merges.txt``. Two engines encode it:
**tokenizers** (the reference, also used to train) and **tiktoken** (built from the same ranks,
~4x faster). ``encode_batch`` uses tiktoken once it has produced the same ids as tokenizers on
real text (``check_engines``); otherwise tokenizers. ``content_hash`` identifies a tokenizer
whatever file format it came in.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webtext.errors import ConfigError
from webtext.paths import file_stamp

log = logging.getLogger(__name__)

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT = "<|endoftext|>"


@functools.cache
def byte_decoder() -> dict[str, int]:
    """GPT-2's printable-character stand-ins for bytes, inverted (``bytes_to_unicode``)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


@functools.cache
def _to_bytes_table() -> dict[int, int]:
    return {ord(c): b for c, b in byte_decoder().items()}


@functools.cache
def _to_unicode_table() -> dict[int, int]:
    return {b: ord(c) for c, b in byte_decoder().items()}


def _to_bytes(token: str) -> bytes:
    table = _to_bytes_table()
    try:
        return bytes(table[ord(ch)] for ch in token)
    except KeyError as exc:
        raise ConfigError("--tokenizer", f"token {token!r} is not byte-level BPE (GPT-2's byte alphabet)") from exc


def _to_unicode(token: bytes) -> str:
    return token.decode("latin-1").translate(_to_unicode_table())


@dataclass
class BpeTokenizer:
    ranks: dict[bytes, int]  # every non-special token -> id (for GPT-2's files: id == merge rank)
    merges: list[tuple[bytes, bytes]]
    specials: dict[str, int]
    pattern: str = GPT2_PATTERN
    source: str = ""
    _engine: str | None = field(default=None, repr=False)

    @property
    def vocab_size(self) -> int:
        return max([*self.ranks.values(), *self.specials.values()]) + 1

    @property
    def eot_id(self) -> int:
        if EOT not in self.specials:
            raise ConfigError("--tokenizer", f"{self.source} has no {EOT} token")
        return self.specials[EOT]

    @functools.cached_property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        h.update(json.dumps({"pattern": self.pattern, "specials": sorted(self.specials.items())}).encode())
        for token, i in sorted(self.ranks.items(), key=lambda kv: kv[1]):
            h.update(i.to_bytes(4, "little") + len(token).to_bytes(2, "little") + token)
        for a, b in self.merges:
            h.update(len(a).to_bytes(2, "little") + a + len(b).to_bytes(2, "little") + b)
        return h.hexdigest()

    @property
    def token_dtype(self) -> Any:
        return np.uint16 if self.vocab_size <= 65536 else np.uint32

    # -- engines ----------------------------------------------------------------------------

    def _hf_tokenizer(self, with_specials: bool) -> Any:
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

        vocab = {_to_unicode(t): i for t, i in self.ranks.items()}
        vocab.update(self.specials)
        merges = [(_to_unicode(a), _to_unicode(b)) for a, b in self.merges]
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
        if self.pattern != GPT2_PATTERN:
            raise ConfigError("--tokenizer", "only GPT-2's pre-tokenisation pattern is supported")
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        tok.decoder = decoders.ByteLevel()
        if with_specials:
            tok.add_special_tokens([AddedToken(name, special=True, normalized=False)
                                    for name, _ in sorted(self.specials.items(), key=lambda kv: kv[1])])
        return tok

    @functools.cached_property
    def hf(self) -> Any:
        """tokenizers' form with the special tokens registered (what ``save`` writes, for other tools)."""
        return self._hf_tokenizer(with_specials=True)

    @functools.cached_property
    def hf_ordinary(self) -> Any:
        """tokenizers' form that reads ``<|endoftext|>`` in text as ordinary text, as GPT-2's
        ``encode_ordinary`` does: the engine the stage encodes with."""
        return self._hf_tokenizer(with_specials=False)

    @functools.cached_property
    def tiktoken(self) -> Any:
        import tiktoken

        return tiktoken.Encoding(name=f"webtext-{self.content_hash[:12]}", pat_str=self.pattern,
                                 mergeable_ranks=self.ranks, special_tokens=self.specials)

    def check_engines(self, texts: Sequence[str]) -> str:
        """Pick the engine: tiktoken if it gives tokenizers' ids on ``texts`` (real text), else tokenizers."""
        if self._engine is None or self._engine == "tiktoken":
            sample = [t for t in texts if t][:32]
            fast = self.tiktoken.encode_ordinary_batch(sample, num_threads=1)
            ref = [e.ids for e in self.hf_ordinary.encode_batch(sample, add_special_tokens=False)]
            if fast == ref:
                self._engine = "tiktoken"
            else:
                log.warning("tiktoken and tokenizers disagree on %s: encoding with tokenizers (slower)", self.source)
                self._engine = "tokenizers"
        return self._engine

    def encode_batch(self, texts: Sequence[str], threads: int = 1) -> list[list[int]]:
        """Token ids of each text (no special tokens interpreted, none added)."""
        if self._engine is None:
            self.check_engines(texts)
        if self._engine == "tiktoken":
            return self.tiktoken.encode_ordinary_batch(list(texts), num_threads=threads)
        return [e.ids for e in self.hf_ordinary.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=False)

    # -- files --------------------------------------------------------------------------------

    def gpt2_files(self) -> tuple[bytes, bytes]:
        """GPT-2's two files: the vocabulary (``encoder.json``, Hugging Face's ``vocab.json``) and
        the merges (``vocab.bpe``, Hugging Face's ``merges.txt``); same content, two names each."""
        encoder = {_to_unicode(t): i for t, i in sorted(self.ranks.items(), key=lambda kv: kv[1])}
        encoder.update(self.specials)
        merges = "#version: 0.2\n" + "".join(f"{_to_unicode(a)} {_to_unicode(b)}\n" for a, b in self.merges)
        return json.dumps(encoder, ensure_ascii=False).encode(), merges.encode()

    def save(self, folder: Path) -> list[Path]:
        """``tokenizer.json`` plus GPT-2's own pair (``encoder.json``, ``vocab.bpe``)."""
        from webtext.paths import atomic_write_bytes

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        encoder, merges = self.gpt2_files()
        files = {"tokenizer.json": self.hf.to_str(pretty=False).encode(), "encoder.json": encoder, "vocab.bpe": merges}
        for name, data in files.items():
            atomic_write_bytes(folder / name, data)
        return [folder / n for n in files]


def _from_vocab_merges(vocab: dict[str, int], merge_lines: Iterable[str], source: str,
                       specials: Iterable[str] = (EOT,)) -> BpeTokenizer:
    """``specials``: the vocab entries that are special tokens (GPT-2's files: ``<|endoftext|>``)."""
    if not vocab:
        raise ConfigError("--tokenizer", f"{source}: empty vocabulary")
    merges = []
    for line in merge_lines:
        if not line.strip() or line.startswith("#version"):
            continue
        a, _, b = line.rstrip("\n").partition(" ")
        merges.append((_to_bytes(a), _to_bytes(b)))
    special = {t: vocab[t] for t in specials if t in vocab}
    ranks = {_to_bytes(t): i for t, i in vocab.items() if t not in special}
    if not ranks:
        raise ConfigError("--tokenizer", f"{source}: no ordinary tokens")
    return BpeTokenizer(ranks, merges, special, source=source)


def _check_tokenizer_json(data: Any, path: Path) -> None:
    """Refuse what this project would not reproduce: only GPT-2's byte-level BPE set-up loads."""
    if not isinstance(data, dict):
        raise ConfigError("--tokenizer", f"{path}: not a tokenizer.json (expected a JSON object)")
    model = data.get("model") or {}
    if not isinstance(model, dict) or model.get("type") != "BPE":
        raise ConfigError("--tokenizer", f"{path}: only byte-level BPE tokenizers are supported (GPT-2's kind)")
    pre = data.get("pre_tokenizer") or {}
    problems = []
    if data.get("normalizer"):
        problems.append(f"a normalizer ({data['normalizer'].get('type')})")
    if not (isinstance(pre, dict) and pre.get("type") == "ByteLevel"):
        problems.append(f"pre-tokenizer {pre.get('type') if isinstance(pre, dict) else pre!r} (need ByteLevel)")
    elif pre.get("add_prefix_space") or not pre.get("use_regex", True):
        problems.append("ByteLevel with add_prefix_space or without GPT-2's regex")
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            problems.append(f"BPE {key}={model[key]!r}")
    if problems:
        raise ConfigError("--tokenizer", f"{path}: GPT-2's byte-level BPE has no {', '.join(problems)}")


def load_tokenizer(path: Path | str) -> BpeTokenizer:
    """A ``tokenizer.json``, or a folder with ``encoder.json`` + ``vocab.bpe`` (OpenAI) or
    ``vocab.json`` + ``merges.txt`` (Hugging Face), or with a ``tokenizer.json``. Memoised per
    process by path, size and mtime: shard tasks in one worker build (and check) it once."""
    path = Path(path).resolve()
    if not path.exists():
        raise ConfigError("--tokenizer", f"{path} not found")
    return _load_tokenizer(path, file_stamp(path))


@functools.lru_cache(maxsize=8)
def _load_tokenizer(path: Path, stamp: tuple) -> BpeTokenizer:
    del stamp  # part of the cache key only
    if path.is_dir():
        for vocab_name, merges_name in (("encoder.json", "vocab.bpe"), ("vocab.json", "merges.txt")):
            if (path / vocab_name).is_file() and (path / merges_name).is_file():
                vocab = json.loads((path / vocab_name).read_text(encoding="utf-8"))
                lines = (path / merges_name).read_text(encoding="utf-8").splitlines()
                return _from_vocab_merges(vocab, lines, str(path))
        if (path / "tokenizer.json").is_file():
            return _load_tokenizer(path / "tokenizer.json", ())
        raise ConfigError("--tokenizer", f"{path} holds none of tokenizer.json, encoder.json+vocab.bpe, "
                                         "vocab.json+merges.txt")
    if not path.is_file():
        raise ConfigError("--tokenizer", f"{path} not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ConfigError("--tokenizer", f"{path} is not JSON: {exc}") from exc
    _check_tokenizer_json(data, path)
    model = data["model"]
    try:
        merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
        vocab = dict(model.get("vocab") or {})
        specials = []
        for added in data.get("added_tokens") or []:
            vocab[added["content"]] = int(added["id"])
            if added.get("special"):
                specials.append(added["content"])
    except (TypeError, KeyError, ValueError) as exc:
        raise ConfigError("--tokenizer", f"{path}: malformed vocab/merges ({exc})") from exc
    return _from_vocab_merges(vocab, merges, str(path), specials=specials or (EOT,))


def train_bpe(texts: Iterable[str], vocab_size: int, length: int | None = None) -> BpeTokenizer:
    """Train GPT-2's kind of tokenizer: byte-level (256 base bytes), GPT-2's pattern, merges in
    order of frequency, ``<|endoftext|>`` as the last id."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < 257:
        raise ConfigError("vocab_size", "must be >= 257 (256 bytes + <|endoftext|>)")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - 1, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[], show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer, length=length)
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    if EOT in vocab:
        raise ConfigError("inputs", f"the corpus made {EOT} a learned token: remove that literal text first")
    vocab[EOT] = max(vocab.values()) + 1
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    return _from_vocab_merges(vocab, merges, "trained")
