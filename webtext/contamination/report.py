"""The contamination report: overlap per benchmark (GPT-2's Table 6 layout), per-example
overlap, the most contaminated documents and benchmark examples, the Bloom filter's own check,
written as ``report.json`` (``benchmarks.<NAME>.overlap_percent`` is the headline figure),
``report.md`` and ``report.html`` (the same page: ``report_page``) with SVG plots
(``report_plots``), plus ``examples/NAME.parquet``.

Overlap % = share of the test set's n-gram *occurrences* whose n-gram occurs in the corpus.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from webtext.arrays import sorted_unique
from webtext.contamination.config import ContaminationConfig
from webtext.contamination.table import NgramTable, load_grams, save_npz
from webtext.contamination.tasks import ReportInput
from webtext.data import read_parquet, write_parquet
from webtext.paths import atomic_write_bytes, side_dir
from webtext.runner import ShardOutput, ShardTask

log = logging.getLogger(__name__)

TOP_EXAMPLES = 5  # most contaminated examples per benchmark shown in the report (all are in examples/NAME.parquet)


def examples_schema():
    import pyarrow as pa

    return pa.schema([("example", pa.int64()), ("n_ngrams", pa.int64()), ("n_found", pa.int64()),
                      ("overlap_percent", pa.float64()), ("train_overlap_percent", pa.float64()),
                      ("text", pa.string())])


def found_slots(out: Path, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """(found flag per table slot, documents per slot) summed over the scan's shards."""
    found = np.zeros(capacity, dtype=bool)
    doc_freq = np.zeros(capacity, dtype=np.int64)
    for f in sorted(side_dir(out / "hits", "found").glob("*.npz")):
        with np.load(f) as z:
            found[z["slots"]] = True
            np.add.at(doc_freq, z["slots"], z["doc_freq"])
    return found, doc_freq


def merged_bloom(cfg: ContaminationConfig, out: Path):
    """(corpus filter, its file in OUT or None, that file's sha256 or None): the saved one
    (``--bloom``) or the OR of the bloom pass's filters."""
    from webtext.contamination.bloom import BloomFilter
    from webtext.data import Manifest

    if cfg.bloom:
        return BloomFilter.load(Path(cfg.bloom)), None, None
    parts = sorted((out / "bloom").glob("part-*.bloom"))
    merged = BloomFilter.load(parts[0])
    target = out / "corpus.bloom"
    if len(parts) == 1 and merged.whole:  # nothing to merge: the part is the filter (a hard link, not a copy)
        tmp = target.with_name(f".tmp-link-{target.name}")
        tmp.unlink(missing_ok=True)
        try:
            os.link(parts[0], tmp)
        except OSError:
            return merged, target, merged.save(target)
        os.replace(tmp, target)
        manifest = Manifest.read(out / "bloom")
        known = {e.path: e.sha256 for e in manifest.files()} if manifest else {}
        return merged, target, known.get(parts[0].name)  # loading it just checked its bits
    if not merged.whole:  # slices: merged into a whole filter
        first = merged
        merged = BloomFilter.empty(first.m, first.k, first.ngram)
        merged.merge(first)
    for p in parts[1:]:
        merged.merge(BloomFilter.load(p))
    return merged, target, merged.save(target)


def per_example(counts: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Found n-gram occurrences per example (examples without n-grams: 0)."""
    example = np.repeat(np.arange(len(counts)), counts)
    return np.bincount(example, weights=found.astype(np.float64), minlength=len(counts)).astype(np.int64)


_PREFETCHED: dict[tuple[int, int], Future[np.ndarray]] = {}


def prefetch_random_strings(samples: int, ngram: int) -> None:
    """Start drawing the random strings' hashes now, in a thread of this process, for a report task that runs in
    this process later (the local runner): they need neither the corpus nor the filter, and drawing them (~0.1 s,
    compiled code that releases the GIL) on the second core while the benchmarks are read and the corpus scanned
    takes them off a small run's critical path. ``random_strings_ahead`` is the scoped form."""
    from webtext.contamination.bloom import random_string_hashes

    if (samples, ngram) not in _PREFETCHED:
        pool = ThreadPoolExecutor(1, thread_name_prefix="random-strings")
        _PREFETCHED[(samples, ngram)] = pool.submit(random_string_hashes, samples, ngram)
        pool.shutdown(wait=False)  # the thread ends with its one job


@contextlib.contextmanager
def random_strings_ahead(samples: int, ngram: int) -> Iterator[None]:
    """``prefetch_random_strings`` for the run inside the block: strings its report did not take (the run failed,
    or its report was already done) are dropped when it ends."""
    prefetch_random_strings(samples, ngram)
    try:
        yield
    finally:
        _PREFETCHED.pop((samples, ngram), None)


class RandomCheck:
    """GPT-2's check of the filter (``bloom.random_string_check``, ~0.2 s for 1M strings, in compiled code that
    releases the GIL) in a thread beside the report's other work: its random n-grams need no filter, so they are
    drawn while the filter is loaded (or were drawn earlier: ``prefetch_random_strings``), and looked up while the
    per-benchmark figures are computed."""

    def __init__(self, samples: int, ngram: int) -> None:
        from webtext.contamination.bloom import random_string_hashes

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="random-check")
        drawn = _PREFETCHED.pop((samples, ngram), None)
        self._hashes = drawn if drawn is not None else self._pool.submit(random_string_hashes, samples, ngram)
        self._hits: Future[int] | None = None

    def start(self, bloom: Any) -> None:
        """Look the strings up in ``bloom`` once they are drawn."""
        self._hits = self._pool.submit(lambda: int(bloom.contains(self._hashes.result()).sum()))
        self._pool.shutdown(wait=False)  # the thread ends with its jobs

    def hits(self) -> int:
        """How many random strings the filter says it holds."""
        assert self._hits is not None, "start() first"
        return self._hits.result()


def report_task(cfg: ContaminationConfig, out: Path, task: ShardTask[ReportInput]) -> ShardOutput:
    import pyarrow as pa

    out = Path(out)
    names, trains = list(task.payload.names), list(task.payload.train)
    table = NgramTable.load(out / "ngrams" / "table.npz")
    found, doc_freq = found_slots(out, len(table.slots))
    files: list[Path] = []
    fp_check = RandomCheck(cfg.random_check, cfg.ngram) if cfg.mode == "bloom" and cfg.random_check else None
    bloom, bloom_file, bloom_digest = merged_bloom(cfg, out) if cfg.mode == "bloom" else (None, None, None)
    if fp_check is not None:
        fp_check.start(bloom)
    digests: dict[str, str] = {}
    if bloom_file is not None:
        files.append(bloom_file)
        if bloom_digest:
            digests[str(bloom_file)] = bloom_digest
    examples_text = json.loads((out / "ngrams" / "examples.json").read_text())
    results: dict[str, Any] = {}
    per_example_columns: dict[str, dict[str, Any]] = {}  # examples/NAME.parquet
    examples_top: list[dict[str, Any]] = []
    for name in names:
        grams = load_grams(out / "ngrams" / f"{name}.npz")
        slots = table.lookup(grams.hashes)
        exact_hit = found[slots]
        hit = bloom.contains(grams.hashes) if bloom is not None else exact_hit
        n = len(grams.hashes)
        entry: dict[str, Any] = {
            "examples": len(grams.counts), "ngrams": n, "distinct_ngrams": table.distinct(name),
            "found": int(hit.sum()), "overlap_percent": 100.0 * hit.sum() / n if n else 0.0,
            "exact_overlap_percent": 100.0 * exact_hit.sum() / n if n else 0.0,
        }
        per_ex = per_example(grams.counts, hit)
        train_per_ex = np.full(len(grams.counts), np.nan)
        if name in trains:
            train = load_grams(out / "ngrams" / f"train-{name}.npz")
            in_train = np.isin(grams.hashes, sorted_unique(train.hashes))
            entry["train_overlap_percent"] = 100.0 * in_train.sum() / n if n else 0.0
            entry["train_ngrams"] = len(train.hashes)
            with np.errstate(invalid="ignore", divide="ignore"):
                train_per_ex = 100.0 * per_example(grams.counts, in_train) / grams.counts
        with np.errstate(invalid="ignore", divide="ignore"):
            overlap_ex = np.where(grams.counts > 0, 100.0 * per_ex / np.maximum(grams.counts, 1), np.nan)
        entry["contaminated_examples"] = int((per_ex > 0).sum())
        per_example_columns[name] = {
            "example": np.arange(len(grams.counts)), "n_ngrams": grams.counts, "n_found": per_ex,
            "overlap_percent": overlap_ex, "train_overlap_percent": train_per_ex, "text": examples_text[name],
        }
        entry["per_example_overlap"] = [None if np.isnan(v) else float(v) for v in overlap_ex]
        results[name] = entry
        examples_top += top_examples(name, per_ex, grams.counts, overlap_ex, examples_text[name])
    for name, columns in per_example_columns.items():
        ex_file = out / "examples" / f"{name}.parquet"
        write_parquet(ex_file, pa.table(columns, schema=examples_schema()))
        files.append(ex_file)
    files += _finish_report(cfg, out, results, examples_top, doc_freq, bloom, bloom_file, fp_check)
    counts = {f"overlap_ppm_{n}": round(results[n]["overlap_percent"] * 1e4) for n in names}
    counts["total"] = counts["kept"] = len(names)  # the books count benchmarks reported
    return ShardOutput(files=files, counts=counts, digests=digests)


def _finish_report(cfg: ContaminationConfig, out: Path, results: dict[str, Any], examples_top: list[dict[str, Any]],
                   doc_freq: np.ndarray, bloom: Any, bloom_file: Path | None,
                   fp_check: RandomCheck | None) -> list[Path]:
    """What follows the per-benchmark figures: the filter's check, the top documents, the report's
    pages, plots and report.json; returns the files written."""
    files: list[Path] = []
    save_npz(out / "ngrams" / "doc_freq.npz", doc_freq=doc_freq)
    files.append(out / "ngrams" / "doc_freq.npz")
    hits = _read_hits(out)
    report: dict[str, Any] = {
        "mode": cfg.mode, "ngram": cfg.ngram, "normalisation": "GPT-2: lower-cased [a-z0-9]+ words, single spaces",
        "overlap_definition": "share of the test set's n-gram occurrences whose n-gram occurs in the corpus",
        "corpus": _corpus_stats(out, hits), "benchmarks": results,
    }
    if bloom is not None:
        from webtext.contamination.bloom import false_positive_bound

        fp_hits = fp_check.hits() if fp_check is not None else None
        report["bloom"] = {
            "m_bits": bloom.m, "k": bloom.k, "bytes": bloom.nbytes, "items": bloom.items,
            "planned_distinct": bloom.planned or None,
            "fp_rate_target": cfg.fp_rate,
            "fp_bound": false_positive_bound(bloom.m, bloom.k, max(bloom.bound_items, 1)),
            "fill_ratio": bloom.fill_ratio(), "random_strings": cfg.random_check, "random_string_hits": fp_hits,
            # a filter built here is named relative to the report, which stays true wherever the folder is
            # copied or published (object storage); a saved one as the path this run read it from
            "file": bloom_file.name if bloom_file is not None else str(cfg.bloom),
        }
    report["top_documents"] = top_documents(hits, cfg.top_documents)
    report["top_examples"] = examples_top
    files += write_report(out, report)
    slim = {k: ({n: {kk: vv for kk, vv in e.items() if kk != "per_example_overlap"} for n, e in v.items()}
                if k == "benchmarks" else v) for k, v in report.items()}
    files.append(_write(out / "report.json", json.dumps(slim, indent=2, sort_keys=True)))
    return files


def _read_hits(out: Path):
    import pyarrow as pa

    from webtext.contamination.scan import hits_schema

    parts = [read_parquet(p) for p in sorted((out / "hits").glob("part-*.parquet"))]
    return pa.concat_tables(parts) if parts else hits_schema().empty_table()


def _corpus_stats(out: Path, hits) -> dict[str, Any]:
    from webtext.data import Manifest

    m = Manifest.read(out / "hits")
    stats = m.stats if m else {}
    return {"documents": stats.get("documents", 0), "ngrams": stats.get("ngrams", 0),
            "text_bytes": stats.get("text_bytes", 0), "contaminated_documents": len(set(hits["id"].to_pylist()))}


def top_documents(hits, n: int) -> list[dict[str, Any]]:
    """The ``n`` hit rows with the most hits, ties by id, then in table order: ``hits.sort_by([("n_hits",
    "descending"), ("id", "ascending")])[:n]`` without ``Table.sort_by``, whose pyarrow.compute import (~0.07 s) is
    a noticeable share of a small run. Only the rows at or above the n-th largest count are sorted."""
    if not hits.num_rows or not n:
        return []
    counts = hits.column("n_hits").to_numpy()
    rows = np.arange(len(counts))
    if len(counts) > n:
        rows = np.flatnonzero(counts >= np.partition(counts, len(counts) - n)[len(counts) - n])
    ids = hits.column("id")
    best = sorted(rows.tolist(), key=lambda i: (-int(counts[i]), ids[i].as_py()))[:n]  # stable: ties keep order
    return [hits.slice(i, 1).to_pylist()[0] for i in best]


def _write(path: Path, text: str) -> Path:
    atomic_write_bytes(path, text.encode())
    return path


def top_examples(name: str, per_ex: np.ndarray, counts: np.ndarray, overlap: np.ndarray, texts: list[str],
                 n: int = TOP_EXAMPLES) -> list[dict[str, Any]]:
    """A benchmark's most contaminated examples: highest overlap first, then most n-grams found."""
    hit = np.flatnonzero(per_ex > 0)
    order = hit[np.lexsort((hit, -per_ex[hit], -overlap[hit]))][:n]
    return [{"benchmark": name, "example": int(i), "n_ngrams": int(counts[i]), "n_found": int(per_ex[i]),
             "overlap_percent": float(overlap[i]), "text": texts[i]} for i in order]


def write_report(out: Path, report: dict[str, Any]) -> list[Path]:
    """The plots, report.md and report.html."""
    from webtext.contamination.report_page import html_page, markdown, page
    from webtext.contamination.report_plots import plots

    p = page(report)
    md, html = markdown(p), html_page(p)
    files = plots(out, report)
    files.append(_write(out / "report.md", md))
    files.append(_write(out / "report.html", html))
    return files
