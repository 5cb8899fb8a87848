"""Clean vs dirty (GPT-2 section 4 on LAMBADA; GPT-3 appendix C, Table C.1): a task's metrics on
all, clean (no n-gram found in the corpus), dirty (any) and heavily contaminated (overlap above a
threshold) examples, and the clean-minus-all delta with a bootstrap 95% interval.

The bootstrap: ``rng = np.random.default_rng(seed)``; each of ``B`` resamples draws ``n`` example
indices with replacement (``rng.integers(0, n, n)``); its delta is the metric over the resample's
clean rows minus the metric over all its rows (a resample without clean rows is left out); the
interval is the 2.5th and 97.5th percentile of the deltas (``np.percentile``, linear).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from webtext.errors import ConfigError
from webtext.eval.metrics import aggregate

SUBSETS = ("all", "clean", "dirty", "heavy")
SUM_COLUMNS = ("n_tokens", "n_words", "n_bytes")


def join(ev: dict[str, np.ndarray], co: dict[str, np.ndarray], eval_file: Path, report_file: Path) -> np.ndarray:
    """Overlap percent per eval row; the two tables must hold the same examples one to one."""
    a, b = ev["example"], co["example"]
    if len(np.unique(a)) != len(a) or len(a) != len(b) or not np.array_equal(np.sort(a), np.sort(b)):
        raise ConfigError("eval", f"{eval_file} ({len(a)} examples) and {report_file} ({len(b)} examples) do not "
                                  "hold the same examples one to one: evaluate and measure contamination on the same "
                                  "benchmark file")
    order = np.argsort(b)
    return co["overlap_percent"][order][np.searchsorted(b[order], a)].astype(np.float64)


def masks(overlap_percent: np.ndarray, heavy_overlap: float) -> dict[str, np.ndarray]:
    """Row masks of each subset: dirty = any n-gram found (``overlap_percent > 0``; NaN, an example
    without n-grams, is clean), heavy = ``overlap_percent > 100 * heavy_overlap``."""
    with np.errstate(invalid="ignore"):
        dirty = np.nan_to_num(overlap_percent, nan=0.0) > 0
        heavy = np.nan_to_num(overlap_percent, nan=0.0) > 100.0 * heavy_overlap
    return {"all": np.ones(len(overlap_percent), dtype=bool), "clean": ~dirty, "dirty": dirty, "heavy": heavy}


def _rows(cols: dict[str, np.ndarray], sel: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[sel] for k, v in cols.items()}


def subset_summary(kind: str, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    n = len(cols["loglikelihood"])
    out: dict[str, Any] = {"n": n, "loglikelihood_sum": float(np.sum(cols["loglikelihood"], dtype=np.float64))}
    for c in SUM_COLUMNS:
        out[c] = int(np.sum(cols[c])) if c in cols else None
    out.update(aggregate(kind, cols))
    return out


def bootstrap_delta(kind: str, cols: dict[str, np.ndarray], clean: np.ndarray, resamples: int,
                    seed: int) -> dict[str, dict[str, float | None]]:
    """Per metric: clean-minus-all ``value`` and its bootstrap 95% interval (``ci_low``, ``ci_high``)."""
    whole = aggregate(kind, cols)
    metrics = list(whole)
    cleaned = aggregate(kind, _rows(cols, clean))
    out: dict[str, dict[str, float | None]] = {}
    draws: dict[str, list[float]] = {m: [] for m in metrics}
    n = len(cols["loglikelihood"])
    if n and clean.any():
        rng = np.random.default_rng(seed)
        for _ in range(resamples):
            idx = rng.integers(0, n, n)
            sel = clean[idx]
            if not sel.any():
                continue
            sample = _rows(cols, idx)
            a, c = aggregate(kind, sample), aggregate(kind, _rows(sample, sel))
            for m in metrics:
                if a.get(m) is not None and c.get(m) is not None:
                    draws[m].append(c[m] - a[m])  # type: ignore[operator]
    for m in metrics:
        value = None if whole.get(m) is None or cleaned.get(m) is None else cleaned[m] - whole[m]  # type: ignore
        lo = hi = None
        if draws[m]:
            lo, hi = (float(x) for x in np.percentile(np.asarray(draws[m]), [2.5, 97.5]))
        out[m] = {"value": value, "ci_low": lo, "ci_high": hi}
    return out


def task_report(kind: str, cols: dict[str, np.ndarray], overlap: np.ndarray, heavy_overlap: float,
                resamples: int, seed: int) -> dict[str, Any]:
    """``clean_vs_dirty.<TASK>`` of report.json."""
    sel = masks(overlap, heavy_overlap)
    out: dict[str, Any] = {name: subset_summary(kind, _rows(cols, m)) for name, m in sel.items()}
    out["delta"] = bootstrap_delta(kind, cols, sel["clean"], resamples, seed)
    out["kind"] = kind
    out["heavy_threshold_percent"] = 100.0 * heavy_overlap
    return out


def joined_table(cols: dict[str, np.ndarray], overlap: np.ndarray, heavy_overlap: float):
    """The per-example table written beside the report (``clean_vs_dirty/<TASK>.parquet``)."""
    import pyarrow as pa

    sel = masks(overlap, heavy_overlap)
    data = {"example": cols["example"].astype(np.int64), "loglikelihood": cols["loglikelihood"].astype(np.float64)}
    for c in SUM_COLUMNS:
        if c in cols:
            data[c] = cols[c].astype(np.int64)
    for c in ("correct", "correct_stopword_filter"):
        if c in cols:
            data[c] = cols[c].astype(bool)
    data["overlap_percent"] = overlap
    data["dirty"] = sel["dirty"]
    data["heavy"] = sel["heavy"]
    return pa.table(data)
