"""Token shards checked by sha256 before a run first uses them, and remembered so a resume does not re-hash.

A shard's size alone says nothing about its bytes: a same-size flip changes token ids and nothing
else notices (the Arrow IPC file still opens). So the trainer and ``eval-loss`` recompute the
sha256 of every shard of the split they read and compare it with the tokens dataset's manifest.
A run remembers what it verified in ``RUN/verified-shards.json`` (path, bytes, mtime, sha256); a
later start of that run (a resume) hashes again only the shards whose size or mtime changed since.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from webtext.errors import InputError
from webtext.paths import MANIFEST, atomic_write_bytes

log = logging.getLogger(__name__)

MEMO = "verified-shards.json"


def _read_memo(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
        return {str(k): dict(v) for k, v in data["shards"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.warning("ignoring unreadable %s: every shard is hashed again", path)
        return {}


def verify_token_shards(tokens: Path, split: str, run: Path | None = None) -> int:
    """Check every ``split/`` shard of tokens dataset ``tokens`` against its manifest's sha256 (shards that
    ``run``'s memo says were verified in their current size and mtime are not hashed again); return how many
    were hashed. A missing or different shard is an InputError naming it and the fix."""
    from webtext.data import Manifest, file_sha256

    tokens = Path(tokens)
    manifest = Manifest.read(tokens)
    if manifest is None:
        raise InputError(f"{tokens} has no {MANIFEST}: the tokenize stage did not finish there; rerun "
                         f"`webtext-build tokenize` into it", path=str(tokens))
    memo_path = Path(run) / MEMO if run is not None else None
    memo = _read_memo(memo_path) if memo_path is not None else {}
    fix = f"rerun `webtext-build tokenize` into {tokens}"
    verified: dict[str, dict[str, Any]] = {}
    hashed = 0
    for entry in sorted((e for e in manifest.files() if e.path.startswith(f"{split}/")), key=lambda e: e.path):
        path = tokens / entry.path
        try:
            st = path.stat()
        except FileNotFoundError:
            raise InputError(f"{path} is listed in {tokens / MANIFEST} but missing: {fix}", path=str(path)) from None
        state = {"bytes": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": entry.sha256}
        key = str(path.resolve())
        if memo.get(key) != state:
            if st.st_size != entry.bytes:
                raise InputError(f"{path} has {st.st_size:,} bytes, its manifest says {entry.bytes:,}: {fix}",
                                 path=str(path))
            digest, _ = file_sha256(path)
            hashed += 1
            if digest != entry.sha256:
                raise InputError(f"{path} has sha256 {digest[:16]}..., its manifest says {entry.sha256[:16]}... "
                                 f"(its token ids changed): {fix}", path=str(path))
        verified[key] = state
    if memo_path is not None and hashed:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        kept = {k: v for k, v in memo.items() if k not in verified}  # other splits stay remembered
        atomic_write_bytes(memo_path, json.dumps({"shards": {**kept, **verified}}, indent=1, sort_keys=True).encode())
    if hashed:
        log.info("verified the sha256 of %d %s shard(s) of %s", hashed, split, tokens)
    return hashed
