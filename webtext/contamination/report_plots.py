"""The contamination report's two plots, as SVG: overlap per benchmark (bars with their values, the
legend beside the axes) and, per benchmark, how many examples have each share of their n-grams in
the corpus, on a linear axis.

Most examples of a benchmark share nothing with a corpus, so a plain histogram is one tall bar at
0 with the rest flat against the axis; the 0 examples are counted in the panel's title instead of
drawn, and the fully contained ones (100%) get a bar of their own colour, so the tail that matters
is what the axis is scaled to.

Drawn by hand (rectangles, lines and texts) instead of with matplotlib: its import and two PNGs
cost ~1.7 s of CPU per report, the largest fixed cost of a small corpus's whole run (issue #19);
these take milliseconds, stay sharp at any zoom, and their text can be searched. Without a font
renderer, text is placed from a width estimate per character (``text_width``, generous for the
sans-serif fonts browsers pick); every element's box is kept (``Drawing.boxes``) so a test can
check that nothing leaves the picture and the legend covers no bar.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from webtext.paths import atomic_write_bytes

BINS = [f"{lo}–{lo + 10}" for lo in range(0, 100, 10)] + ["100"]
PANELS_PER_ROW = 2
PANEL = (484, 396)  # pixels per per-example panel: two side by side = 968 px, the page width
BLUE, ORANGE, RED, INK, GRID = "#1f77b4", "#ff7f0e", "#d62728", "#262626", "#d9d9d9"
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
EM = 0.62  # a character's width in ems, an upper estimate for those fonts (digits ~0.55-0.64)


def overlap_counts(values: list[float | None]) -> tuple[int, np.ndarray]:
    """(examples with no overlap, counts per BINS) of per-example overlap percents; examples
    without n-grams (None) are in neither."""
    v = np.array([x for x in values if x is not None], dtype=np.float64)
    full = v >= 100.0
    partial = v[(v > 0) & ~full]
    counts = np.bincount(np.minimum(partial // 10, 9).astype(np.int64), minlength=10)
    return int((v == 0).sum()), np.append(counts, full.sum())


def plots(out: Path, report: dict[str, Any]) -> list[Path]:
    """Write ``plots/overlap.svg`` and ``plots/per_example_overlap.svg``; returns their paths."""
    files = []
    for name, drawing in (("overlap.svg", overlap_figure(report)), ("per_example_overlap.svg",
                                                                     per_example_figure(report))):
        files.append(out / "plots" / name)
        atomic_write_bytes(files[-1], drawing.svg().encode())
    return files


# ---------------------------------------------------------------------------------------------
# A small SVG canvas that remembers where it drew


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def inside(self, width: float, height: float) -> bool:
        return self.x0 >= 0 and self.y0 >= 0 and self.x1 <= width and self.y1 <= height


def text_width(s: str, size: float, bold: bool = False) -> float:
    return len(s) * size * EM * (1.1 if bold else 1.0)


@dataclass
class Drawing:
    width: int
    height: int
    parts: list[str] = field(default_factory=list)
    boxes: dict[str, list[Box]] = field(default_factory=dict)  # role ("bar", "legend", "text", ...) -> boxes

    def _keep(self, role: str, box: Box) -> None:
        self.boxes.setdefault(role, []).append(box)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, role: str = "shape", **data: Any) -> None:
        attrs = "".join(f' data-{k}="{v}"' for k, v in data.items())
        self.parts.append(f'<rect class="{role}" x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}" '
                          f'fill="{fill}"{attrs}/>')
        self._keep(role, Box(x, y, x + w, y + h))

    def line(self, x0: float, y0: float, x1: float, y1: float, stroke: str = INK, width: float = 1.0) -> None:
        self.parts.append(f'<line x1="{x0:.2f}" y1="{y0:.2f}" x2="{x1:.2f}" y2="{y1:.2f}" stroke="{stroke}" '
                          f'stroke-width="{width}"/>')
        self._keep("line", Box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))

    def text(self, x: float, y: float, s: str, size: float = 11.0, anchor: str = "middle", angle: float = 0.0,
             role: str = "text", bold: bool = False) -> None:
        """``s`` with its baseline at ``y``, anchored at ``x`` ("start", "middle", "end"), turned by
        ``angle`` degrees (clockwise, SVG's sense) around its anchor."""
        turn = f' transform="rotate({angle:g} {x:.2f} {y:.2f})"' if angle else ""
        weight = ' font-weight="bold"' if bold else ""
        self.parts.append(f'<text class="{role}" x="{x:.2f}" y="{y:.2f}" font-size="{size:g}" '
                          f'text-anchor="{anchor}"{weight}{turn}>{html.escape(s)}</text>')
        w = text_width(s, size, bold)
        x0 = {"start": 0.0, "middle": -w / 2, "end": -w}[anchor]
        # the unturned box relative to the anchor: ascent ~0.8 em above the baseline, descent ~0.25 below
        corners = [(x0, -0.8 * size), (x0 + w, -0.8 * size), (x0, 0.25 * size), (x0 + w, 0.25 * size)]
        c, s_ = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        xs = [x + dx * c - dy * s_ for dx, dy in corners]
        ys = [y + dx * s_ + dy * c for dx, dy in corners]
        self._keep(role, Box(min(xs), min(ys), max(xs), max(ys)))

    def svg(self) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{self.height}" '
                f'viewBox="0 0 {self.width} {self.height}" font-family="{FONT}" fill="{INK}">\n'
                f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(self.parts) + "\n</svg>\n")


@dataclass
class Axes:
    """A plot area in pixels with a linear y axis from 0 to ``top``."""

    x0: float
    y0: float
    x1: float
    y1: float
    top: float

    def y(self, v: float) -> float:
        return self.y1 - (self.y1 - self.y0) * v / self.top

    def frame(self, d: Drawing, ticks: list[float], label: str, tick_text: Any = str) -> None:
        """The y grid, ticks and their values, the y label, and the x axis line."""
        for t in ticks:
            y = self.y(t)
            d.line(self.x0, y, self.x1, y, GRID, 0.8)
            d.line(self.x0 - 4, y, self.x0, y)
            d.text(self.x0 - 7, y + 4, tick_text(t), 10, anchor="end")
        d.line(self.x0, self.y0, self.x0, self.y1)
        d.line(self.x0, self.y1, self.x1, self.y1)
        d.text(self.x0 - 12 - max(text_width(tick_text(t), 10) for t in ticks), (self.y0 + self.y1) / 2, label, 11,
               angle=-90)


def nice_ticks(top: float, integer: bool = False, most: int = 6) -> list[float]:
    """Round tick values from 0 to at most ``top``: steps of 1, 2 or 5 times a power of ten."""
    if top <= 0:
        return [0.0]
    raw = top / most
    step = next(m * 10 ** math.floor(math.log10(raw)) for m in (1, 2, 5, 10)
                if m * 10 ** math.floor(math.log10(raw)) >= raw)
    if integer:
        step = max(1.0, math.ceil(step))
    return [i * step for i in range(int(top / step + 1e-9) + 1)]


def _tick_text(t: float) -> str:
    return f"{t:,.0f}" if float(t).is_integer() else f"{t:g}"


# ---------------------------------------------------------------------------------------------
# The two figures


def overlap_figure(report: dict[str, Any]) -> Drawing:
    b = report["benchmarks"]
    names = list(b)
    has_train = any("train_overlap_percent" in e for e in b.values())
    left, right, top_margin, bottom = 82, 200, 44, 48  # right: the legend
    slot = 130
    d = Drawing(max(620, slot * len(names) + left + right), 374)
    series = [("this corpus", BLUE, [b[n]["overlap_percent"] for n in names])]
    if has_train:
        series.append(("own training split", ORANGE, [b[n].get("train_overlap_percent", 0.0) for n in names]))
    highest = max((v for _, _, vals in series for v in vals), default=0.0)
    ax = Axes(left, top_margin, d.width - right, d.height - bottom, highest * 1.18 if highest > 0 else 1.0)
    ax.frame(d, nice_ticks(ax.top), f"% of test {report['ngram']}-grams found", _tick_text)
    group = (ax.x1 - ax.x0) / max(len(names), 1)
    width = group * (0.38 if has_train else 0.6)
    for i, name in enumerate(names):
        center = ax.x0 + group * (i + 0.5)
        for j, (_, colour, vals) in enumerate(series):
            x = center + (j - (len(series) - 1) / 2) * width - width / 2
            y = ax.y(vals[i])
            d.rect(x, y, width, ax.y1 - y, colour, role="bar", value=f"{vals[i]:.6g}")
            d.text(x + width / 2, y - 3, f"{vals[i]:.2f}%", 10)
        size = min(11.0, group * 0.95 / max(EM * len(name), 1e-9))  # a long name gets smaller, not cut
        d.text(center, ax.y1 + 17, name, size, role="xtick")
    d.text(d.width / 2 - right / 2 + left / 2, 26, "Benchmark overlap (GPT-2 Table 6 layout)", 13, bold=True)
    for j, (label, colour, _) in enumerate(series):  # beside the axes, never over a bar
        y = ax.y0 + 8 + 22 * j
        d.rect(ax.x1 + 14, y - 10, 14, 14, colour, role="legend")
        d.text(ax.x1 + 34, y + 2, label, 11, anchor="start", role="legend")
    return d


def per_example_figure(report: dict[str, Any]) -> Drawing:
    b = report["benchmarks"]
    names = list(b)
    cols = max(1, min(len(names), PANELS_PER_ROW))
    rows = math.ceil(len(names) / cols)
    pw, ph = PANEL
    d = Drawing(pw * cols, ph * rows)
    left, right, top_margin, bottom = 78, 16, 62, 96  # top: two-line title; bottom: 45° ticks and the label
    for k, name in enumerate(names):
        ox, oy = pw * (k % cols), ph * (k // cols)
        values = b[name]["per_example_overlap"]
        zero, counts = overlap_counts(values)
        total = zero + int(counts.sum())
        short = len(values) - total
        ax = Axes(ox + left, oy + top_margin, ox + pw - right, oy + ph - bottom, max(1, int(counts.max())) * 1.15)
        ax.frame(d, nice_ticks(ax.top, integer=True), "examples", _tick_text)
        step = (ax.x1 - ax.x0) / len(BINS)
        for i, (label, c) in enumerate(zip(BINS, counts.tolist(), strict=True)):
            x = ax.x0 + step * (i + 0.1)
            y = ax.y(c)
            d.rect(x, y, step * 0.8, ax.y1 - y, RED if i == len(BINS) - 1 else BLUE, role="bar", count=c,
                   panel=k)
            if c:
                d.text(x + step * 0.4, y - 3, f"{c:,}", 9)
            d.text(x + step * 0.55, ax.y1 + 12, label, 9, anchor="end", angle=-45, role="xtick")
        d.text((ax.x0 + ax.x1) / 2, ax.y1 + 66, "% of the example's n-grams in the corpus", 11)
        note = f"({zero:,} with none, not drawn" + (f"; {short:,} under {report['ngram']} words" if short else "") + ")"
        title = f"{name}: {total - zero:,} of {total:,} examples overlap"
        cx = ox + pw / 2
        for line, y in ((title, oy + 24), (note, oy + 42)):
            size = min(12.0, (pw - 8) / max(EM * len(line), 1e-9))
            d.text(cx, y, line, size, role="title")
    return d
