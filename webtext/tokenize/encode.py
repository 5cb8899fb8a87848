"""The ``tokenize`` stage (docs -> token shards) and ``train-tokenizer``.

Tasks are groups of consecutive docs files of about ``shard_tokens`` tokens (estimated from the
text column's size in the Parquet footers); each writes ``train/tokens-NNNNN.arrow`` and
``val/tokens-NNNNN.arrow``. A document goes to val/ when a hash of its id falls under
``val_fraction``, so the split is stable as the corpus grows. Empty and whitespace-only texts
are skipped and counted; text that is not valid UTF-8 is decoded with replacement characters
and counted; a document longer than ``max_chars_per_piece`` is encoded in pieces cut where
GPT-2's pre-tokeniser splits anyway, each piece's tokens turned into a numpy array at once, so a
50 MB document never becomes one 12M-element Python list.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import regex

from webtext.config import to_dict
from webtext.data import Manifest, column_bytes, open_stream, stream_batches
from webtext.docsets import check_columns, input_identities
from webtext.errors import ShardError
from webtext.inputs import parquet_files
from webtext.runner import Runner, ShardOutput, ShardTask, run_stage
from webtext.tokenize.bpe import BpeTokenizer, load_tokenizer, train_bpe
from webtext.tokenize.config import TokenizeConfig, TrainTokenizerConfig

log = logging.getLogger(__name__)

BYTES_PER_TOKEN = 4.0  # English web text under GPT-2's BPE, for planning shard groups only
# Positions where GPT-2's pattern always starts the same pre-token in a piece as in the whole
# text: before the last whitespace character of a run that a non-space follows. (In the whole
# text `\s+(?!\S)` takes the run but its last character, which joins or precedes the next word;
# a piece ending there sees the same run end.) Same \s as tiktoken's: Unicode White_Space.
_LAST_SAFE_CUT = regex.compile(r"(?r)(?=\s\S)")  # searches backwards
_NEXT_SAFE_CUT = regex.compile(r"(?=\s\S)")


def in_val(doc_id: str, fraction: float) -> bool:
    if fraction <= 0:
        return False
    h = int.from_bytes(hashlib.blake2b(doc_id.encode(), digest_size=8).digest(), "little")
    return h < fraction * 2**64


def pieces(text: str, limit: int) -> list[str]:
    """``text`` cut into pieces of about ``limit`` characters (more where no safe cut is near)
    at positions where GPT-2's pre-tokenisation, hence the tokens, are unchanged."""
    if len(text) <= limit:
        return [text]
    out, start = [], 0
    while len(text) - start > limit:
        last = _LAST_SAFE_CUT.search(text, start + limit // 2, start + limit)
        cut = last.start() if last is not None else None  # the last safe position within the limit
        if cut is None or cut <= start:
            m = _NEXT_SAFE_CUT.search(text, start + limit)  # none near: the next one, however far
            if m is None:
                break
            cut = m.start()
        out.append(text[start:cut])
        start = cut
    out.append(text[start:])
    return out


def text_batches(path: Path, batch_rows: int, counts: Counter[str]
                 ) -> Iterator[tuple[list[str], list[str], list[int]]]:
    """(ids, texts, stored UTF-8 bytes of each text) batches; invalid UTF-8 decoded with
    replacement (counted)."""
    import pyarrow as pa

    try:
        source = open_stream(path)
        for batch in stream_batches(source, ["id", "text"], max_rows=batch_rows):
            ids = batch.column("id").cast(pa.string()).to_pylist()
            raw = batch.column("text").cast(pa.large_binary()).to_pylist()
            texts = []
            for b in raw:
                if b is None:
                    texts.append("")
                    continue
                try:
                    texts.append(b.decode("utf-8"))
                except UnicodeDecodeError:
                    counts["invalid_unicode_documents"] += 1
                    texts.append(b.decode("utf-8", errors="replace"))
            yield ids, texts, [len(b) if b is not None else 0 for b in raw]
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise ShardError(f"cannot read documents: {exc}", path=str(path)) from exc


class SplitBuffer:
    """Encoded documents of one split, waiting to be written as one shard."""

    def __init__(self, dtype) -> None:
        self.ids: list[str] = []
        self.arrays: list[np.ndarray] = []
        self.dtype = dtype

    def add(self, doc_ids: list[str], docs: list[np.ndarray], eot: int) -> int:
        """Append documents (token arrays, without EOT); returns the tokens added (EOT included)."""
        lengths = np.fromiter((len(t) + 1 for t in docs), dtype=np.int64, count=len(docs))
        flat = np.empty(int(lengths.sum()), dtype=self.dtype)
        at = 0
        for t in docs:
            flat[at:at + len(t)] = t
            flat[at + len(t)] = eot
            at += len(t) + 1
        self.ids.extend(doc_ids)
        self.arrays.append(lengths)
        self.arrays.append(flat)
        return len(flat)

    def flat_and_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        lengths = np.concatenate(self.arrays[0::2]) if self.arrays else np.empty(0, np.int64)
        flat = np.concatenate(self.arrays[1::2]) if self.arrays else np.empty(0, self.dtype)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if offsets[-1] >= 2**31:
            raise ShardError(f"a shard of {offsets[-1]:,} tokens exceeds Arrow's int32 list offsets; lower "
                             "shard_tokens")
        return flat, offsets.astype(np.int32)


@dataclass(frozen=True)
class FilesInput:
    """A tokenize task: the docs files grouped into one token shard."""

    paths: tuple[str, ...]


def encode_shard(cfg: TokenizeConfig, dataset: Path, task: ShardTask[FilesInput]) -> ShardOutput:
    from webtext.tokenize.shards import write_shard

    tok = load_tokenizer(cfg.tokenizer)
    eot, dtype = tok.eot_id, tok.token_dtype
    counts: Counter[str] = Counter()
    buffers = {"train": SplitBuffer(dtype), "val": SplitBuffer(dtype)}
    checked = False
    for path in task.payload.paths:
        for ids, texts, sizes in text_batches(Path(path), cfg.batch_rows, counts):
            counts["documents_in"] += len(ids)
            keep = [i for i, t in enumerate(texts) if t.strip()]
            counts["empty_documents"] += len(ids) - len(keep)
            if keep and not checked:  # prove the fast engine on this shard's own text first
                tok.check_engines([texts[i][:20_000] for i in keep[:32]])
                checked = True
            short = [i for i in keep if len(texts[i]) <= cfg.max_chars_per_piece]
            encoded = {i: np.asarray(t, dtype=dtype)
                       for i, t in zip(short, tok.encode_batch([texts[i] for i in short]), strict=True)}
            for i in keep:
                if i not in encoded:  # a long document, in pieces, each turned into an array at once
                    counts["long_documents"] += 1
                    parts = [np.asarray(tok.encode_batch([p])[0], dtype=dtype)
                             for p in pieces(texts[i], cfg.max_chars_per_piece)]
                    encoded[i] = np.concatenate(parts)
            val = {i for i in keep if in_val(ids[i], cfg.val_fraction)}
            for split, rows in (("train", [i for i in keep if i not in val]), ("val", sorted(val))):
                if rows:
                    n = buffers[split].add([ids[i] for i in rows], [encoded[i] for i in rows], eot)
                    counts[f"{split}_tokens"] += n
                    counts[f"{split}_documents"] += len(rows)
            counts["text_bytes"] += sum(sizes[i] for i in keep)
    files, rows_of = [], {}
    for split, buf in buffers.items():
        flat, offsets = buf.flat_and_offsets()
        path = Path(dataset) / split / f"tokens-{task.index:05d}.arrow"
        write_shard(path, buf.ids, flat, offsets, tok, split)
        files.append(path)
        rows_of[str(path)] = len(buf.ids)
    counts["engine_tiktoken"] = int(tok._engine == "tiktoken")
    # The books: documents in -> kept (split into train_documents and val_documents) or dropped empty.
    counts["total"] = counts["documents_in"]
    counts["kept"] = counts["train_documents"] + counts["val_documents"]
    counts["dropped_empty"] = counts["empty_documents"]
    return ShardOutput(files=files, counts=dict(counts), rows=rows_of)


def plan_groups(files: list[Path], shard_tokens: int) -> list[list[Path]]:
    """Consecutive docs files grouped to about ``shard_tokens`` tokens each (from footer sizes)."""
    import pyarrow.parquet as pq

    groups: list[list[Path]] = [[]]
    tokens = 0.0
    for f in files:
        estimate = column_bytes(pq.ParquetFile(f).metadata, ["text"]) / BYTES_PER_TOKEN
        if groups[-1] and tokens + estimate > shard_tokens:
            groups.append([])
            tokens = 0.0
        groups[-1].append(f)
        tokens += estimate
    return [g for g in groups if g]


def run_tokenize(cfg: TokenizeConfig, out: Path, runner: Runner) -> Manifest:
    tok = load_tokenizer(cfg.tokenizer)
    files = parquet_files(cfg.inputs)
    check_columns(files, integer_columns=(), binary_text=True)
    groups = plan_groups(files, cfg.shard_tokens)
    log.info("tokenize: %d docs file(s) -> %d shard(s) per split; tokenizer %s (vocab %d, EOT %d, hash %s)",
             len(files), len(groups), tok.source, tok.vocab_size, tok.eot_id, tok.content_hash[:12])
    config = {**to_dict(cfg), "tokenizer_hash": tok.content_hash}
    tasks = [ShardTask(i, g[0].name if len(g) == 1 else f"{g[0].name}..{g[-1].name}",
                       FilesInput(tuple(str(p) for p in g))) for i, g in enumerate(groups)]
    return run_stage(
        stage="tokenize", dataset=Path(out), config=config, inputs=input_identities(files), tasks=tasks,
        shard_fn=functools.partial(encode_shard, cfg, Path(out)), runner=runner, side_dirs=["train", "val"],
        extra_stats={"vocab_size": tok.vocab_size, "eot_id": tok.eot_id},
    )


# ---------------------------------------------------------------------------------------------
# train-tokenizer


def sample_texts(files: list[Path], sample_bytes: int) -> tuple[Iterator[str], int]:
    """Every k-th document of the corpus, k chosen from the footers so about ``sample_bytes``
    of text are read; streamed. Returns (texts, expected count)."""
    import pyarrow.parquet as pq

    total_bytes = total_rows = 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        total_bytes += column_bytes(meta, ["text"])
        total_rows += meta.num_rows
    stride = max(1, round(total_bytes / max(sample_bytes, 1)))

    def gen() -> Iterator[str]:
        n = 0
        for f in files:
            for _, texts, _ in text_batches(f, 1024, Counter()):
                for t in texts:
                    if n % stride == 0 and t.strip():
                        yield t
                    n += 1

    return gen(), total_rows // stride


def run_train_tokenizer(cfg: TrainTokenizerConfig, out: Path, runner: Runner | None = None) -> Manifest:
    """Train and save a tokenizer into ``out`` (tokenizer.json, encoder.json, vocab.bpe). Runs in
    this process whatever the runner: the trainer is one multi-threaded (Rust) job."""
    from webtext.runner.local import LocalRunner

    files = parquet_files(cfg.inputs)
    check_columns(files, integer_columns=(), binary_text=True)
    config = to_dict(cfg)

    def train(task: ShardTask) -> ShardOutput:
        if cfg.threads:
            os.environ["RAYON_NUM_THREADS"] = str(cfg.threads)  # tokenizers reads it (not RAYON_RS_NUM_THREADS)
        texts, expected = sample_texts(files, cfg.sample_bytes)
        sampled = 0

        def counted() -> Iterator[str]:
            nonlocal sampled
            for t in texts:
                sampled += 1
                yield t

        tok: BpeTokenizer = train_bpe(counted(), cfg.vocab_size, length=expected)
        if tok.vocab_size < cfg.vocab_size:
            log.warning("the sample only supported %d tokens (asked for %d): train on more text",
                        tok.vocab_size, cfg.vocab_size)
        written = tok.save(Path(out))
        return ShardOutput(files=written, counts={"vocab_size": tok.vocab_size, "eot_id": tok.eot_id,
                                                         "total": sampled, "kept": sampled})  # documents trained on

    return run_stage(stage="train-tokenizer", dataset=Path(out), config=config, inputs=input_identities(files),
                     tasks=[ShardTask(0, "train")], shard_fn=train, runner=LocalRunner(),
                     side_dirs=["tokenizer.json", "encoder.json", "vocab.bpe"])
