"""The contamination report: overlap per benchmark (GPT-2's Table 6 layout), per-example
overlap, the most contaminated documents, the Bloom filter's own check, written as
``report.json`` (``benchmarks.<NAME>.overlap_percent`` is the headline figure), ``report.md``
and ``report.html`` with PNG plots, plus ``examples/NAME.parquet``.

Overlap % = share of the test set's n-gram *occurrences* whose n-gram occurs in the corpus.
"""

from __future__ import annotations

import html
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from webtext.contamination.config import ContaminationConfig
from webtext.contamination.table import NgramTable, load_grams, save_npz
from webtext.contamination.tasks import ReportInput
from webtext.data import read_parquet, write_parquet
from webtext.paths import atomic_write_bytes
from webtext.runner import ShardOutput, ShardTask

log = logging.getLogger(__name__)


def examples_schema():
    import pyarrow as pa

    return pa.schema([("example", pa.int64()), ("n_ngrams", pa.int64()), ("n_found", pa.int64()),
                      ("overlap_percent", pa.float64()), ("train_overlap_percent", pa.float64()),
                      ("text", pa.string())])


def found_slots(out: Path, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """(found flag per table slot, documents per slot) summed over the scan's shards."""
    found = np.zeros(capacity, dtype=bool)
    doc_freq = np.zeros(capacity, dtype=np.int64)
    for f in sorted((out / "hits" / "found").glob("*.npz")):
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


def report_task(cfg: ContaminationConfig, out: Path, task: ShardTask[ReportInput]) -> ShardOutput:
    import pyarrow as pa

    out = Path(out)
    names, trains = list(task.payload.names), list(task.payload.train)
    table = NgramTable.load(out / "ngrams" / "table.npz")
    found, doc_freq = found_slots(out, len(table.slots))
    files: list[Path] = []
    bloom, bloom_file, bloom_digest = merged_bloom(cfg, out) if cfg.mode == "bloom" else (None, None, None)
    digests: dict[str, str] = {}
    if bloom_file is not None:
        files.append(bloom_file)
        if bloom_digest:
            digests[str(bloom_file)] = bloom_digest
    examples_text = json.loads((out / "ngrams" / "examples.json").read_text())
    results: dict[str, Any] = {}
    for name in names:
        grams = load_grams(out / "ngrams" / f"{name}.npz")
        slots = table.lookup(grams.hashes)
        exact_hit = found[slots]
        hit = bloom.contains(grams.hashes) if bloom is not None else exact_hit
        n = len(grams.hashes)
        entry: dict[str, Any] = {
            "examples": len(grams.counts), "ngrams": n, "distinct_ngrams": len(np.unique(grams.hashes)),
            "found": int(hit.sum()), "overlap_percent": 100.0 * hit.sum() / n if n else 0.0,
            "exact_overlap_percent": 100.0 * exact_hit.sum() / n if n else 0.0,
        }
        per_ex = per_example(grams.counts, hit)
        train_per_ex = np.full(len(grams.counts), np.nan)
        if name in trains:
            train = load_grams(out / "ngrams" / f"train-{name}.npz")
            in_train = np.isin(grams.hashes, np.unique(train.hashes))
            entry["train_overlap_percent"] = 100.0 * in_train.sum() / n if n else 0.0
            entry["train_ngrams"] = len(train.hashes)
            with np.errstate(invalid="ignore", divide="ignore"):
                train_per_ex = 100.0 * per_example(grams.counts, in_train) / grams.counts
        with np.errstate(invalid="ignore", divide="ignore"):
            overlap_ex = np.where(grams.counts > 0, 100.0 * per_ex / np.maximum(grams.counts, 1), np.nan)
        entry["contaminated_examples"] = int((per_ex > 0).sum())
        ex_file = out / "examples" / f"{name}.parquet"
        write_parquet(ex_file, pa.table({
            "example": np.arange(len(grams.counts)), "n_ngrams": grams.counts, "n_found": per_ex,
            "overlap_percent": overlap_ex, "train_overlap_percent": train_per_ex, "text": examples_text[name],
        }, schema=examples_schema()))
        files.append(ex_file)
        entry["per_example_overlap"] = [None if np.isnan(v) else float(v) for v in overlap_ex]
        results[name] = entry
    save_npz(out / "ngrams" / "doc_freq.npz", doc_freq=doc_freq)
    files.append(out / "ngrams" / "doc_freq.npz")
    hits = _read_hits(out)
    report: dict[str, Any] = {
        "mode": cfg.mode, "ngram": cfg.ngram, "normalisation": "GPT-2: lower-cased [a-z0-9]+ words, single spaces",
        "overlap_definition": "share of the test set's n-gram occurrences whose n-gram occurs in the corpus",
        "corpus": _corpus_stats(out, hits), "benchmarks": results,
    }
    if bloom is not None:
        from webtext.contamination.bloom import false_positive_bound, random_string_check

        fp_hits = random_string_check(bloom, cfg.random_check) if cfg.random_check else None
        report["bloom"] = {
            "m_bits": bloom.m, "k": bloom.k, "bytes": bloom.nbytes, "items": bloom.items,
            "planned_distinct": bloom.planned or None,
            "fp_rate_target": cfg.fp_rate,
            "fp_bound": false_positive_bound(bloom.m, bloom.k, max(bloom.bound_items, 1)),
            "fill_ratio": bloom.fill_ratio(), "random_strings": cfg.random_check, "random_string_hits": fp_hits,
            "file": str(bloom_file or cfg.bloom),
        }
    report["top_documents"] = _top_documents(hits, cfg.top_documents)
    files += write_report(out, report)
    slim = {k: ({n: {kk: vv for kk, vv in e.items() if kk != "per_example_overlap"} for n, e in v.items()}
                if k == "benchmarks" else v) for k, v in report.items()}
    files.append(_write(out / "report.json", json.dumps(slim, indent=2, sort_keys=True)))
    counts = {f"overlap_ppm_{n}": round(results[n]["overlap_percent"] * 1e4) for n in names}
    counts["total"] = counts["kept"] = len(names)  # the books count benchmarks reported
    return ShardOutput(files=files, counts=counts, digests=digests)


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


def _top_documents(hits, n: int) -> list[dict[str, Any]]:
    if not hits.num_rows or not n:
        return []
    return hits.sort_by([("n_hits", "descending"), ("id", "ascending")]).slice(0, n).to_pylist()


def _write(path: Path, text: str) -> Path:
    atomic_write_bytes(path, text.encode())
    return path


# ---------------------------------------------------------------------------------------------
# Markdown, HTML, plots


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}%"


def table6_rows(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """GPT-2's Table 6: a row for the benchmarks' own training splits (when given), one for this corpus."""
    b = report["benchmarks"]
    rows = []
    if any("train_overlap_percent" in e for e in b.values()):
        rows.append(("own training split", [_pct(e.get("train_overlap_percent")) for e in b.values()]))
    rows.append(("this corpus", [_pct(e["overlap_percent"]) for e in b.values()]))
    return rows


def plots(out: Path, report: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    names = list(report["benchmarks"])
    b = report["benchmarks"]
    fig, ax = plt.subplots(figsize=(max(4, 1.4 * len(names) + 2), 3.2))
    x = np.arange(len(names))
    has_train = any("train_overlap_percent" in e for e in b.values())
    width = 0.38 if has_train else 0.6
    ax.bar(x - (width / 2 if has_train else 0), [b[n]["overlap_percent"] for n in names], width, label="this corpus")
    if has_train:
        ax.bar(x + width / 2, [b[n].get("train_overlap_percent", 0) for n in names], width, label="own training split")
    ax.set_xticks(x, names)
    ax.set_ylabel(f"% of test {report['ngram']}-grams found")
    ax.set_title("Benchmark overlap (GPT-2 Table 6 layout)")
    ax.legend()
    fig.tight_layout()
    path = out / "plots" / "overlap.png"
    written.append(_save(fig, path))
    plt.close(fig)
    fig, axes = plt.subplots(1, len(names), figsize=(3.6 * len(names), 3), squeeze=False)
    for ax, n in zip(axes[0], names, strict=True):
        vals = [v for v in b[n]["per_example_overlap"] if v is not None]
        ax.hist(vals, bins=20, range=(0, 100))
        ax.set_title(n)
        ax.set_xlabel("% of the example's n-grams in the corpus")
        if vals:
            ax.set_yscale("log")
    axes[0][0].set_ylabel("examples")
    fig.tight_layout()
    written.append(_save(fig, out / "plots" / "per_example_overlap.png"))
    plt.close(fig)
    return written


def _save(fig, path: Path) -> Path:
    from webtext.paths import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def markdown(report: dict[str, Any]) -> str:
    names = list(report["benchmarks"])
    b = report["benchmarks"]
    lines = [f"# Benchmark contamination ({report['ngram']}-gram overlap, {report['mode']} mode)", "",
             f"Normalisation: {report['normalisation']}. Overlap: {report['overlap_definition']}.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    lines += [f"| {label} | " + " | ".join(vals) + " |" for label, vals in table6_rows(report)]
    c = report["corpus"]
    lines += ["", f"Corpus: {c['documents']:,} documents, {c['ngrams']:,} n-grams, {c['text_bytes'] / 1e6:,.1f} MB; "
              f"{c['contaminated_documents']:,} documents share n-grams with a benchmark.", ""]
    lines += ["| benchmark | examples | n-grams | found | contaminated examples |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {b[n]['examples']:,} | {b[n]['ngrams']:,} | {b[n]['found']:,} | "
              f"{b[n]['contaminated_examples']:,} |" for n in names]
    if "bloom" in report:
        bl = report["bloom"]
        lines += ["", f"Bloom filter: m = {bl['m_bits']:,} bits ({bl['bytes'] / 2**20:.1f} MiB), k = {bl['k']}, "
                  f"{bl['items']:,} n-grams inserted"
                  + (f" (sized for {bl['planned_distinct']:,} distinct)" if bl.get("planned_distinct") else "")
                  + f", false-positive bound {bl['fp_bound']:.2e} "
                  f"(target {bl['fp_rate_target']:g}); {bl['random_string_hits']} of {bl['random_strings']:,} random "
                  f"strings reported present. Exact overlap from the scan: "
                  + ", ".join(f"{n} {_pct(b[n]['exact_overlap_percent'])}" for n in names) + "."]
    lines += ["", "![overlap](plots/overlap.png)", "", "![per-example overlap](plots/per_example_overlap.png)", "",
              "## Most contaminated documents", "", "| id | benchmark | n-gram hits | fraction | karma | url |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {d['id']} | {d['benchmark']} | {d['n_hits']:,} | {d['fraction']:.3f} | {d['karma']} | "
              f"{d['url'] or ''} |" for d in report["top_documents"]]
    lines += ["", "Contaminated benchmark examples (every example with its overlap): `examples/<benchmark>.parquet`; "
              "per-document hits: `hits/`.", ""]
    return "\n".join(lines)


def html_page(report: dict[str, Any]) -> str:
    names = list(report["benchmarks"])
    e = html.escape
    head = "".join(f"<th>{e(n)}</th>" for n in names)
    rows = "".join(f"<tr><th>{e(label)}</th>" + "".join(f"<td>{v}</td>" for v in vals) + "</tr>"
                   for label, vals in table6_rows(report))
    docs = "".join(
        f"<tr><td>{e(str(d['id']))}</td><td>{e(d['benchmark'])}</td><td>{d['n_hits']:,}</td>"
        f"<td>{d['fraction']:.3f}</td><td>{d['karma'] if d['karma'] is not None else ''}</td>"
        f"<td>{e(d['url'] or '')}</td></tr>" for d in report["top_documents"])
    bloom = ""
    if "bloom" in report:
        bl = report["bloom"]
        bloom = (f"<p>Bloom filter: m = {bl['m_bits']:,} bits, k = {bl['k']}, FP bound {bl['fp_bound']:.2e}; "
                 f"{bl['random_string_hits']} of {bl['random_strings']:,} random strings reported present.</p>")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Benchmark contamination</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}td:last-child{{text-align:left}}</style></head>
<body><h1>Benchmark contamination: {report['ngram']}-gram overlap ({e(report['mode'])} mode)</h1>
<p>{e(report['normalisation'])}. Overlap: {e(report['overlap_definition'])}.</p>
<table><tr><th></th>{head}</tr>{rows}</table>{bloom}
<img src="plots/overlap.png" alt="overlap per benchmark">
<img src="plots/per_example_overlap.png" alt="per-example overlap">
<h2>Most contaminated documents</h2>
<table><tr><th>id</th><th>benchmark</th><th>hits</th><th>fraction</th><th>karma</th><th>url</th></tr>{docs}</table>
</body></html>
"""


def write_report(out: Path, report: dict[str, Any]) -> list[Path]:
    files = plots(out, report)
    files.append(_write(out / "report.md", markdown(report)))
    files.append(_write(out / "report.html", html_page(report)))
    return files
