"""The contamination report's two PNG plots: overlap per benchmark (bars with their values, the
legend beside the axes) and, per benchmark, how many examples have each share of their n-grams
in the corpus, on a linear axis.

Most examples of a benchmark share nothing with a corpus, so a plain histogram is one tall bar at
0 with the rest flat against the axis; the 0 examples are counted in the panel's title instead of
drawn, and the fully contained ones (100%) get a bar of their own colour, so the tail that matters
is what the axis is scaled to.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot: cheaper to import, no global
state, no GUI backend) with margins fixed in inches around every panel, wide enough for the
labels (a test checks that everything drawn lies inside the figure): a layout engine would measure
every text first, the largest cost of a small report after matplotlib's import.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from webtext.paths import atomic_path

BINS = [f"{lo}–{lo + 10}" for lo in range(0, 100, 10)] + ["100"]
PANELS_PER_ROW = 2  # 2 x 4.4 in at 110 dpi: 968 px, the page width without scaling
DPI = 110
PANEL = (4.4, 3.6)  # inches per per-example panel


def overlap_counts(values: list[float | None]) -> tuple[int, np.ndarray]:
    """(examples with no overlap, counts per BINS) of per-example overlap percents; examples
    without n-grams (None) are in neither."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    full = v >= 100.0
    partial = v[(v > 0) & ~full]
    counts = np.bincount(np.minimum(partial // 10, 9).astype(np.int64), minlength=10)
    return int((v == 0).sum()), np.append(counts, full.sum())


def plots(out: Path, report: dict[str, Any]) -> list[Path]:
    return [_save(overlap_figure(report), out / "plots" / "overlap.png"),
            _save(per_example_figure(report), out / "plots" / "per_example_overlap.png")]


def overlap_figure(report: dict[str, Any]):
    from matplotlib.figure import Figure

    b = report["benchmarks"]
    names = list(b)
    has_train = any("train_overlap_percent" in e for e in b.values())
    fig = Figure(figsize=(max(5.6, 1.3 * len(names) + 3.7), 3.4))
    _margins(fig, 1, 1, left=0.75, right=2.0, top=0.4, bottom=0.45)  # right: the legend
    ax = fig.add_subplot()
    x = np.arange(len(names))
    width = 0.38 if has_train else 0.6
    series = [("this corpus", [b[n]["overlap_percent"] for n in names])]
    if has_train:
        series.append(("own training split", [b[n].get("train_overlap_percent", 0.0) for n in names]))
    for i, (label, vals) in enumerate(series):
        shift = (i - (len(series) - 1) / 2) * width
        bars = ax.bar(x + shift, vals, width, label=label)
        ax.bar_label(bars, labels=[f"{v:.2f}%" for v in vals], padding=2, fontsize=8)
    top = max((v for _, vals in series for v in vals), default=0.0)
    ax.set_ylim(0, top * 1.18 if top > 0 else 1.0)  # room for the value labels
    ax.set_xticks(x, names)
    ax.set_ylabel(f"% of test {report['ngram']}-grams found")
    ax.set_title("Benchmark overlap (GPT-2 Table 6 layout)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside the axes, never on a bar
    return fig


def per_example_figure(report: dict[str, Any]):
    from matplotlib.figure import Figure

    b = report["benchmarks"]
    names = list(b)
    cols = min(len(names), PANELS_PER_ROW)
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(PANEL[0] * cols, PANEL[1] * rows))
    _margins(fig, cols, rows, left=0.7, right=0.15, top=0.55, bottom=0.85)  # top: two-line title; bottom: 45° ticks
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    x = np.arange(len(BINS))
    for ax, name in zip(axes, names, strict=False):
        values = b[name]["per_example_overlap"]
        zero, counts = overlap_counts(values)
        total = zero + int(counts.sum())
        short = len(values) - total
        colors = ["tab:blue"] * (len(BINS) - 1) + ["tab:red"]
        bars = ax.bar(x, counts, 0.8, color=colors)
        ax.bar_label(bars, labels=[f"{c:,}" if c else "" for c in counts], padding=1, fontsize=7)
        ax.set_ylim(0, max(1, int(counts.max())) * 1.15)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_xticks(x, BINS, rotation=45, ha="right", rotation_mode="anchor", fontsize=7)
        ax.set_xlabel("% of the example's n-grams in the corpus")
        ax.set_ylabel("examples")
        ax.set_title(f"{name}: {total - zero:,} of {total:,} examples overlap\n({zero:,} with none, not drawn"
                     + (f"; {short:,} under {report['ngram']} words" if short else "") + ")", fontsize=9)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return fig


def _margins(fig, cols: int, rows: int, left: float, right: float, top: float, bottom: float) -> None:
    """Margins in inches around each of a grid's panels."""
    w, h = fig.get_size_inches()
    aw, ah = w / cols - left - right, h / rows - top - bottom
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h,
                        wspace=(left + right) / aw, hspace=(top + bottom) / ah)


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return path
