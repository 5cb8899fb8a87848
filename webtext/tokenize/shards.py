"""Token shards: Arrow IPC files of one split, one row per document, and their reader.

A shard ``tokens-NNNNN.arrow`` holds one record batch: ``id`` (string) and ``tokens``
(``list<uint16>``, ``list<uint32>`` when the vocab exceeds 65,536), the document's tokens with
``<|endoftext|>`` appended. Schema metadata (``webtext.*`` keys): format version, tokenizer hash
and source, vocab size, EOT id, token and document counts, split. Uncompressed, so a reader
memory-maps it and the flat token stream is a zero-copy numpy view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from webtext.errors import ConfigError, VerifyError
from webtext.paths import atomic_path

FORMAT = "1"
PREFIX = "webtext."


def shard_metadata(tokenizer: Any, split: str, n_tokens: int, n_documents: int) -> dict[bytes, bytes]:
    # The tokenizer's name only: where it was read from (a cache copy of s3://...) must not change the bytes.
    meta = {
        "format": FORMAT, "tokenizer_hash": tokenizer.content_hash, "tokenizer_source": Path(tokenizer.source).name,
        "vocab_size": str(tokenizer.vocab_size), "eot_id": str(tokenizer.eot_id), "n_tokens": str(n_tokens),
        "n_documents": str(n_documents), "split": split,
    }
    return {f"{PREFIX}{k}".encode(): v.encode() for k, v in meta.items()}


def write_shard(path: Path, ids: list[str], flat: np.ndarray, offsets: np.ndarray, tokenizer: Any,
                split: str) -> int:
    """Write one shard atomically (one record batch); returns its size in bytes."""
    import pyarrow as pa

    values = pa.array(flat, type=pa.from_numpy_dtype(flat.dtype))
    tokens = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)
    meta = shard_metadata(tokenizer, split, len(flat), len(ids))
    batch = pa.record_batch([pa.array(ids, pa.string()), tokens], names=["id", "tokens"])
    schema = batch.schema.with_metadata(meta)
    with atomic_path(Path(path)) as tmp:
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
            writer.write_batch(batch.replace_schema_metadata(meta))
        size = tmp.stat().st_size
    return size


@dataclass
class Shard:
    path: Path
    meta: dict[str, str]
    ids: Any  # pyarrow StringArray
    offsets: np.ndarray  # int32, documents + 1
    tokens: np.ndarray  # flat, memory-mapped

    def document(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]

    def __len__(self) -> int:
        return len(self.offsets) - 1


def open_shard(path: Path) -> Shard:
    """Memory-map a shard; the token stream and offsets are zero-copy views of the file."""
    import pyarrow as pa

    path = Path(path)
    try:
        source = pa.memory_map(str(path), "r")
        reader = pa.ipc.open_file(source)
    except (OSError, pa.ArrowInvalid) as exc:
        raise VerifyError(f"{path} is not a readable Arrow token shard: {exc}") from exc
    meta = {k.decode()[len(PREFIX):]: v.decode() for k, v in (reader.schema.metadata or {}).items()
            if k.startswith(PREFIX.encode())}
    if meta.get("format") != FORMAT:
        raise VerifyError(f"{path}: token shard format {meta.get('format')!r}, this version reads {FORMAT!r}")
    if reader.num_record_batches != 1:
        raise VerifyError(f"{path}: expected one record batch, found {reader.num_record_batches}")
    batch = reader.get_batch(0)
    col = batch.column(batch.schema.get_field_index("tokens"))
    values = col.values
    flat = np.frombuffer(values.buffers()[1], dtype=values.type.to_pandas_dtype(),
                         count=len(values) + values.offset)[values.offset:]
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32, count=len(col) + 1 + col.offset)[col.offset:]
    offsets = offsets - offsets[0] if offsets[0] else offsets
    if int(meta.get("n_tokens", -1)) != len(flat) or int(meta.get("n_documents", -1)) != len(col):
        raise VerifyError(f"{path}: metadata says {meta.get('n_tokens')} tokens / {meta.get('n_documents')} "
                          f"documents, the file holds {len(flat)} / {len(col)}")
    return Shard(path, meta, batch.column(batch.schema.get_field_index("id")), offsets, flat)


class TokenDataset:
    """The shards of one split of a tokens dataset, checked against its manifest and tokenizer.

    ``tokenizer_hash`` (optional): the hash of the tokenizer the caller will decode with; shards
    made with another are refused, with a hint naming the one they were made with.
    ``verify``: ``"size"`` (default: every file present with its manifest size), ``"sha256"``
    (recompute digests) or ``None``.
    """

    def __init__(self, folder: Path, split: str = "train", tokenizer_hash: str | None = None,
                 verify: str | None = "size") -> None:
        from webtext.data import Manifest, file_sha256

        self.folder = Path(folder)
        manifest = Manifest.read(self.folder)
        if manifest is None:
            raise VerifyError(f"{self.folder} has no _manifest.json: the tokenize stage did not finish there")
        entries = sorted((e for e in manifest.files() if e.path.startswith(f"{split}/")), key=lambda e: e.path)
        self.shards: list[Shard] = []
        for e in entries:
            path = self.folder / e.path
            if verify and (not path.exists() or path.stat().st_size != e.bytes):
                raise VerifyError(f"{path}: missing or not the size the manifest records ({e.bytes} bytes)")
            if verify == "sha256" and file_sha256(path)[0] != e.sha256:
                raise VerifyError(f"{path}: sha256 differs from the manifest: the file is corrupt")
            shard = open_shard(path)
            if tokenizer_hash is not None and shard.meta["tokenizer_hash"] != tokenizer_hash:
                raise ConfigError("--tokenizer", (
                    f"{path} was made with tokenizer {shard.meta['tokenizer_hash'][:12]} "
                    f"({shard.meta.get('tokenizer_source')}), not {tokenizer_hash[:12]}. HINT: use that tokenizer, "
                    "or re-run `webtext-build tokenize` with yours"))
            self.shards.append(shard)
        hashes = {s.meta["tokenizer_hash"] for s in self.shards}
        if len(hashes) > 1:
            raise VerifyError(f"{self.folder}/{split} mixes shards of {len(hashes)} tokenizers")
        self.meta = self.shards[0].meta if self.shards else {}
        self.sizes = np.array([len(s.tokens) for s in self.shards], dtype=np.int64)

    @property
    def n_tokens(self) -> int:
        return int(self.sizes.sum())

    @property
    def n_documents(self) -> int:
        return sum(len(s) for s in self.shards)

    @property
    def vocab_size(self) -> int:
        return int(self.meta["vocab_size"])

    @property
    def eot_id(self) -> int:
        return int(self.meta["eot_id"])

    def documents(self):
        """(id, tokens view) of every document, shard by shard."""
        for s in self.shards:
            ids = s.ids.to_pylist()
            for i in range(len(s)):
                yield ids[i], s.document(i)

    def sample_windows(self, rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
        """``batch`` random windows of ``length`` consecutive tokens of the flat stream (documents
        joined by their EOT), a shard chosen in proportion to its tokens; int64, (batch, length)."""
        starts = np.maximum(self.sizes - length + 1, 0)  # window start positions per shard
        if not starts.sum():
            raise ValueError(f"no shard holds {length} tokens")
        shard = rng.choice(len(self.shards), size=batch, p=starts / starts.sum())
        begin = (rng.random(batch) * starts[shard]).astype(np.int64)
        out = np.empty((batch, length), dtype=np.int64)
        offsets = np.arange(length)
        for s in np.unique(shard):
            rows = np.flatnonzero(shard == s)
            out[rows] = self.shards[s].tokens[begin[rows, None] + offsets]
        return out


def describe(folder: Path) -> dict[str, Any]:
    """Token and document counts per split (for summaries)."""
    out = {}
    for split in ("train", "val"):
        try:
            ds = TokenDataset(folder, split, verify=None)
        except VerifyError:
            continue
        out[split] = {"tokens": ds.n_tokens, "documents": ds.n_documents, "shards": len(ds.shards)}
    return out
