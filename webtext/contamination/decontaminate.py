"""``decontaminate``: remove benchmark text that a contamination report found, from a docs table.

Two methods, per docs shard, keeping the input's schema:
- ``drop``: documents whose share of n-grams found in some benchmark exceeds ``max_fraction``
  (0: any hit) are removed.
- ``gpt3`` (Brown et al., 2020, appendix C): each colliding n-gram is cut out with
  ``context_chars`` characters on each side; pieces shorter than ``min_piece_chars`` are
  dropped; a document split into more than ``max_pieces`` pieces is dropped; n-grams found in
  more than ``max_ngram_docs`` documents are ignored (common phrases, not leaked test text).
  The remaining pieces are joined by blank lines.
Everything removed goes to ``__removed/``: ``id``, ``reason``, ``benchmarks``, ``removed_chars``,
``removed_text`` (the whole text of a dropped document, the cut spans of a trimmed one).
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

import numpy as np

from webtext.config import to_dict
from webtext.contamination.config import DecontaminateConfig
from webtext.contamination.ngrams import hash_texts
from webtext.contamination.table import NgramTable
from webtext.contamination.tasks import DecontaminateInput
from webtext.data import Manifest, ParquetStreamWriter, open_stream, read_parquet, stream_batches, write_parquet
from webtext.docsets import check_columns, input_identities
from webtext.errors import ConfigError
from webtext.inputs import parquet_files
from webtext.paths import part_name, side_dir, side_name
from webtext.runner import Runner, ShardOutput, ShardTask, input_identity, run_stage
from webtext.textforms import GPT2_WORD


def removed_schema():
    import pyarrow as pa

    return pa.schema([("id", pa.string()), ("reason", pa.string()), ("benchmarks", pa.list_(pa.string())),
                      ("removed_chars", pa.int64()), ("removed_text", pa.string())])


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans (in ``text``) of GPT-2's words, found in ``text.lower()``."""
    lowered = text.lower()
    spans = [m.span() for m in GPT2_WORD.finditer(lowered)]
    if len(lowered) == len(text):
        return spans
    # Lower-casing changed the length (e.g. 'İ' -> 'i̇'): map positions back to the original.
    back = np.zeros(len(lowered) + 1, dtype=np.int64)
    at = 0
    for i, ch in enumerate(text):
        n = len(ch.lower())
        back[at:at + n] = i
        at += n
    back[at] = len(text)
    return [(int(back[s]), int(back[e - 1]) + 1) for s, e in spans]


def cut_collisions(text: str, colliding: np.ndarray, n: int, cfg: DecontaminateConfig) -> tuple[list[str], str]:
    """GPT-3's cut: (kept pieces, removed text) for the n-grams starting at word indices ``colliding``."""
    spans = word_spans(text)
    cuts = sorted((max(0, spans[i][0] - cfg.context_chars), min(len(text), spans[i + n - 1][1] + cfg.context_chars))
                  for i in colliding)
    merged: list[list[int]] = []
    for s, e in cuts:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    pieces, removed, at = [], [], 0
    for s, e in merged:
        pieces.append(text[at:s])
        removed.append(text[s:e])
        at = e
    pieces.append(text[at:])
    return [p for p in pieces if len(p.strip()) >= cfg.min_piece_chars], "\n…\n".join(removed)


def decontaminate_shard(cfg: DecontaminateConfig, report: Path, ngram: int, dataset: Path,
                        task: ShardTask[DecontaminateInput]) -> ShardOutput:
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(task.payload.path)
    hits = read_parquet(report / "hits" / part_name(task.payload.report_index))
    flagged: dict[str, list[str]] = {}
    for row in hits.select(["id", "benchmark", "fraction"]).to_pylist():
        if cfg.method == "gpt3" or row["fraction"] > cfg.max_fraction:
            flagged.setdefault(row["id"], []).append(row["benchmark"])
    table = NgramTable.load(report / "ngrams" / "table.npz") if cfg.method == "gpt3" else None
    if table is not None:
        with np.load(report / "ngrams" / "doc_freq.npz") as z:
            common = z["doc_freq"] > cfg.max_ngram_docs
    counts: Counter[str] = Counter()
    removed: dict[str, list] = {k: [] for k in removed_schema().names}

    def note(doc_id: str, reason: str, chars: int, text: str) -> None:
        counts[reason] += 1
        for k, v in zip(removed, (doc_id, reason, sorted(set(flagged[doc_id])), chars, text), strict=True):
            removed[k].append(v)

    main = Path(dataset) / part_name(task.index)
    source = open_stream(path)
    writer = ParquetStreamWriter(main, source.schema_arrow)
    try:
        for batch in stream_batches(source, max_rows=4096):
            counts["documents"] += len(batch)
            ids = batch.column("id").to_pylist()
            hit_rows = [i for i, d in enumerate(ids) if d in flagged]
            if not hit_rows:
                writer.write(pa.Table.from_batches([batch]))
                continue
            keep = np.ones(len(batch), dtype=bool)
            texts = batch.column("text").to_pylist()
            new_texts = list(texts)
            for i in hit_rows:
                text = texts[i] or ""
                if table is None:
                    keep[i] = False
                    note(ids[i], "dropped_contaminated", len(text), text)
                    continue
                grams = hash_texts([text], ngram)
                slots = table.lookup(grams.hashes)
                colliding = np.flatnonzero((slots >= 0) & ~common[np.maximum(slots, 0)])
                if not len(colliding):
                    counts["kept_common_ngrams_only"] += 1
                    continue
                pieces, cut = cut_collisions(text, colliding, ngram, cfg)
                if len(pieces) > cfg.max_pieces or not pieces:
                    keep[i] = False
                    note(ids[i], "dropped_too_many_pieces" if pieces else "dropped_nothing_left", len(text), text)
                    continue
                new_texts[i] = "\n\n".join(p.strip() for p in pieces)
                note(ids[i], "trimmed", len(text) - len(new_texts[i]), cut)
            t = pa.Table.from_batches([batch])
            if table is not None:
                col = t.schema.get_field_index("text")
                t = t.set_column(col, t.schema.field(col), pa.array(new_texts, t.schema.field(col).type))
            writer.write(t.filter(pa.array(keep)))
        writer.close()
    except BaseException:
        writer.abort()
        raise
    side = side_dir(dataset, "removed") / part_name(task.index)
    write_parquet(side, pa.Table.from_pydict(removed, schema=removed_schema()))
    counts["kept"] = writer.rows
    counts["total"] = counts["documents"]  # trimmed documents are kept; kept_common_ngrams_only ones untouched
    counts["removed_chars"] = int(pc.sum(pa.array(removed["removed_chars"], pa.int64())).as_py() or 0)
    return ShardOutput(files=[main, side], counts=dict(counts), rows={str(main): writer.rows,
                                                                       str(side): len(removed["id"])})


def run_decontaminate(cfg: DecontaminateConfig, out: Path, runner: Runner) -> Manifest:
    report = Path(cfg.report)
    scan = Manifest.read(report / "hits")
    if scan is None:
        raise ConfigError("report", f"{report}/hits has no manifest: the contamination run did not finish")
    files = parquet_files(cfg.inputs)
    check_columns(files)
    scanned = {str(Path(p).resolve()): i for i, p in enumerate(scan.config.get("files", []))}
    tasks = []
    for i, f in enumerate(files):
        index = scanned.get(str(f.resolve()))
        if index is None:
            raise ConfigError("inputs", f"{f} was not scanned by the report in {report}: use the same docs")
        tasks.append(ShardTask(i, f.name, DecontaminateInput(str(f), index)))
    ngram = int(scan.config["ngram"])
    return run_stage(
        stage="decontaminate", dataset=Path(out), config=to_dict(cfg),
        inputs=[*input_identities(files), input_identity(report)], tasks=tasks,
        shard_fn=functools.partial(decontaminate_shard, cfg, report, ngram, Path(out)), runner=runner,
        side_dirs=[side_name("removed")],
    )

