"""The model and tokenizer ``eval`` scores with, and the identity results record.

MODEL is a ``webtext-build train`` run folder (its newest valid checkpoint) or one ``step-N``
checkpoint, or a Hugging Face GPT-2 folder (``config.json`` + ``model.safetensors``, mapped onto
webtext's GPT by :func:`webtext.train.export.import_hf`). Weights are read from safetensors or
through the checkpoint's sha256-checked record, never unpickled. The tokenizer is ``--tokenizer``,
else the HF folder's (``tokenizer.json`` or ``vocab.json`` + ``merges.txt``), else the one the
run's tokens dataset was made with; a run's recorded tokenizer hash must match it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtext.errors import ConfigError


@dataclass
class LoadedModel:
    model: Any  # webtext.train.model.GPT, on CPU in fp32
    tokenizer: Any  # webtext.tokenize.bpe.BpeTokenizer
    identity: dict[str, Any]


def _sha256_files(paths: list[Path]) -> str:
    from webtext.data import file_sha256

    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + file_sha256(p)[0].encode())
    return h.hexdigest()


def _is_hf(path: Path) -> bool:
    return (path / "config.json").is_file()


def _load_hf(path: Path) -> tuple[Any, dict[str, Any]]:
    from webtext.train.export import import_hf

    conf = json.loads((path / "config.json").read_text())
    if conf.get("model_type") != "gpt2":
        raise ConfigError("model", f"{path} is a {conf.get('model_type')!r} model, not GPT-2 (config.json "
                                   "model_type must be 'gpt2')")
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ConfigError("model", f"{path} has no model.safetensors (pytorch_model.bin is never unpickled: "
                                   "re-save with save_pretrained(safe_serialization=True))")
    try:
        model = import_hf(path)
    except ConfigError as exc:
        raise ConfigError("model", exc.message) from exc
    identity = {"kind": "huggingface", "path": str(path.resolve()),
                "sha256": _sha256_files([path / "config.json", weights])}
    return model, identity


def _load_run(path: Path) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    from webtext.train import checkpoint
    from webtext.train.export import load_model, resolve_checkpoint

    try:
        ckpt = resolve_checkpoint(path)
    except ConfigError as exc:
        raise ConfigError("model", f"{path} is neither a train run / step-N checkpoint nor a Hugging Face GPT-2 "
                                   "folder (config.json + model.safetensors)") from exc
    model, record = load_model(ckpt)
    identity = {"kind": "checkpoint", "path": str(ckpt.resolve()), "step": record.get("step"),
                "sha256": _sha256_files([ckpt / checkpoint.RECORD])}  # the record holds every file's sha256
    return model, identity, record


def load(model_path: str, tokenizer: str | None = None) -> LoadedModel:
    from webtext.tokenize.bpe import load_tokenizer

    path = Path(model_path)
    if not path.exists():
        raise ConfigError("model", f"{path} not found")
    record: dict[str, Any] = {}
    if _is_hf(path):
        model, identity = _load_hf(path)
        has_own = any((path / n).is_file() for n in ("tokenizer.json", "vocab.json"))
        source = tokenizer or (str(path) if has_own else None)
        if source is None:
            raise ConfigError("tokenizer", f"{path} has no tokenizer.json or vocab.json + merges.txt: give --tokenizer")
        tok = load_tokenizer(source)
    else:
        from webtext.train.hf_folder import checkpoint_tokenizer

        model, identity, record = _load_run(path)
        tok = checkpoint_tokenizer(record, tokenizer)  # given, or the run's tokens dataset's; its hash checked
        source = tokenizer or tok.source
    if tok.vocab_size > model.config.vocab_size:
        raise ConfigError("tokenizer", f"{source} has {tok.vocab_size} tokens, the model only "
                                       f"{model.config.vocab_size}: give the model's own tokenizer")
    identity.update(tokenizer_hash=tok.content_hash, tokenizer_source=str(source), n_layer=model.config.n_layer,
                    n_embd=model.config.n_embd, context=model.config.block_size)
    return LoadedModel(model, tok, identity)
