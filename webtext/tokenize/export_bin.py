"""``export-bin``: a tokens dataset as llm.c's (and modded-nanoGPT's) flat ``.bin`` token files.

A file is 256 little-endian ``int32`` (``[0]`` magic 20240520, ``[1]`` version 1: ``uint16``
tokens, ``[2]`` the token count, the rest 0) followed by the tokens as ``uint16``: the flat token
stream of a split, documents joined by the ``<|endoftext|>`` our shards end each one with. Files
are cut every ``shard_tokens`` tokens and named ``{name}_{split}_{NNNNNN}.bin`` (llm.c's
``fineweb_train_000001.bin``), so its ``-i``/``-j`` globs pick a split. Each file appears whole
(temporary + rename), 0644; ``_manifest.json`` comes last and a rerun of the same export finds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from webtext.errors import ConfigError

log = logging.getLogger(__name__)

MAGIC = 20240520  # llm.c's GPT-2 token files (dev/data/data_common.py)
VERSION = 1  # uint16 tokens
HEADER_INTS = 256
MAX_FILE_TOKENS = 2**31 - 1  # llm.c keeps the count in an int32
SPLITS = ("train", "val")


def header(n_tokens: int) -> bytes:
    head = np.zeros(HEADER_INTS, dtype="<i4")
    head[:3] = (MAGIC, VERSION, n_tokens)
    return head.tobytes()


def file_name(name: str, split: str, index: int) -> str:
    return f"{name}_{split}_{index:06d}.bin"


def _chunks(streams: list[np.ndarray], per_file: int):
    """Successive lists of array slices holding ``per_file`` tokens each (the last fewer)."""
    pending: list[np.ndarray] = []
    have = 0
    for stream in streams:
        pos = 0
        while pos < len(stream):
            take = min(per_file - have, len(stream) - pos)
            pending.append(stream[pos:pos + take])
            have += take
            pos += take
            if have == per_file:
                yield pending
                pending, have = [], 0
    if have:
        yield pending


def export_bin(tokens: Path, out: Path, name: str = "webtext", shard_tokens: int = 100_000_000) -> dict[str, Any]:
    """Write the ``.bin`` files of every split of ``tokens`` into ``out``; returns the manifest's stats."""
    from webtext.data import Manifest, describe_file, manifest_digest
    from webtext.paths import atomic_path
    from webtext.tokenize.shards import TokenDataset

    tokens, out = Path(tokens), Path(out)
    if not 1 <= shard_tokens <= MAX_FILE_TOKENS:
        raise ConfigError("--shard-tokens", f"must be in [1, {MAX_FILE_TOKENS}] (llm.c counts tokens in an int32)")
    if not name or "/" in name or name.startswith((".", "_")):
        raise ConfigError("--name", f"{name!r}: give a plain file-name prefix such as webtext")
    if Manifest.read(tokens) is None:
        raise ConfigError("tokens", f"{tokens} has no _manifest.json: give a finished tokens dataset "
                                    "(`webtext-build tokenize` writes one)")
    fingerprint = hashlib.sha256(json.dumps([manifest_digest(tokens), name, shard_tokens, MAGIC, VERSION])
                                 .encode()).hexdigest()
    done = Manifest.read(out)
    if done is not None and done.stage == "export-bin" and done.fingerprint == fingerprint:
        log.info("export-bin: %s already holds this export (its manifest matches): nothing to do", out)
        return done.stats
    splits = {s: TokenDataset(tokens, s) for s in SPLITS}
    if not any(ds.shards for ds in splits.values()):
        raise ConfigError("tokens", f"{tokens} has no train/ or val/ shards")
    for ds in splits.values():
        if ds.shards and ds.vocab_size > 65536:
            raise ConfigError("tokens", f"{tokens}: vocab {ds.vocab_size:,} does not fit llm.c's uint16 token files")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(f"{name}_*.bin"):  # a previous export with other settings: never mix
        old.unlink()
    entries, stats = [], {"tokenizer_hash": next(ds.meta["tokenizer_hash"] for ds in splits.values() if ds.shards)}
    for split, ds in splits.items():
        n_files = 0
        for i, pieces in enumerate(_chunks([s.tokens for s in ds.shards], shard_tokens)):
            path = out / file_name(name, split, i)
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                f.write(header(sum(len(p) for p in pieces)))
                for p in pieces:
                    f.write(np.ascontiguousarray(p, dtype="<u2").tobytes())
                tmp.chmod(0o644)
            entries.append(describe_file(out, path))
            n_files += 1
        stats[f"tokens_{split}"] = ds.n_tokens
        stats[f"files_{split}"] = n_files
    from webtext.runner import input_identity

    manifest = Manifest(stage="export-bin", fingerprint=fingerprint,
                        config={"name": name, "shard_tokens": shard_tokens, "magic": MAGIC, "version": VERSION},
                        inputs=[input_identity(tokens)], shards=[{"index": 0, "files": [e.__dict__ for e in entries]}],
                        stats=stats)
    manifest.write(out)
    return stats
