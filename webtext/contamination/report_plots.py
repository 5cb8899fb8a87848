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

That import (~1 s) and the rendering (~0.6 s) are a fixed cost that decides a small corpus's run
time, so :class:`PlotProcess` does both in a child process: started when the stage starts, it
imports matplotlib (and loads its font) while the corpus is scanned on the other core, and renders
while the report does the rest of its work. It runs :func:`plots` itself, so the PNGs are the same
bytes as rendered in this process; if the child is lost they are rendered here instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import numpy as np

from webtext import lifeline
from webtext.paths import atomic_path

log = logging.getLogger(__name__)

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


def _warm_up() -> None:
    """Import the renderer and draw one text off-screen: what the first real figure would pay for
    (imports, the font file, the Agg canvas) is paid before the report needs it."""
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(1, 1))
    fig.text(0.5, 0.5, "0")
    fig.savefig(io.BytesIO(), format="png", dpi=DPI)


_CHILD = ("import json, sys; sys.path[:0] = json.loads(sys.argv[1]); "
          "from webtext.contamination.report_plots import _child_main; _child_main()")


def _child_main() -> None:
    """The child: warm up, then render the one report sent on stdin; answers the files written (or the
    error) as one JSON line. End of input without a report: nothing to do."""
    lifeline.hold()
    _warm_up()
    line = sys.stdin.readline()
    if not line:
        return
    job = json.loads(line)
    try:
        files = plots(Path(job["out"]), job["report"])
        answer: dict[str, Any] = {"files": [str(f) for f in files]}
    except Exception as exc:  # reported to the parent, which renders in-process and raises there
        answer = {"error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


_EARLY: list[PlotProcess] = []  # started by the stage for a report that runs in this process


def start_early() -> PlotProcess:
    """Start this process's plot child now, for the report task to take (``plot_process``)."""
    if not _EARLY:
        _EARLY.append(PlotProcess().start())
    return _EARLY[0]


def end_early() -> None:
    """End this process's early child if the report did not take it (skipped, or failed before)."""
    while _EARLY:
        _EARLY.pop().close()


def plot_process() -> PlotProcess:
    """The child started early in this process (local runner), else a new one (a Ray worker)."""
    return _EARLY.pop() if _EARLY else PlotProcess().start()


class PlotProcess:
    """The report's plots rendered in a child process (see the module's docstring): ``start()`` early,
    ``submit(out, report)`` once the figures' numbers are known, ``wait()`` for the files."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._line: lifeline.Lifeline | None = None
        self._job: tuple[Path, dict[str, Any]] | None = None

    def start(self) -> PlotProcess:
        if self._proc is None:
            # exec'd, never forked (fork is unsafe under Ray's and Arrow's threads)
            self._proc, self._line = lifeline.popen(
                [sys.executable, "-c", _CHILD, json.dumps([str(p) for p in sys.path])],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )
        return self

    def submit(self, out: Path, report: dict[str, Any]) -> None:
        """Hand the child what :func:`plots` reads (``ngram`` and ``benchmarks``)."""
        self.start()
        self._job = (out, {"ngram": report["ngram"], "benchmarks": report["benchmarks"]})
        try:
            stdin = self._stdin()
            stdin.write((json.dumps({"out": str(out), "report": self._job[1]}) + "\n").encode())
            stdin.flush()
        except OSError as exc:  # the child is gone: wait() renders here
            log.debug("plot process lost before its job (%r)", exc)

    def wait(self) -> list[Path]:
        """The plots' files, rendered by the child (or here, if it failed)."""
        assert self._job is not None, "submit() first"
        out, report = self._job
        answer: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            answer = json.loads(self._stdout().readline() or "{}")
        self.close()
        if "files" in answer:
            return [Path(f) for f in answer["files"]]
        log.debug("plot process failed (%s); rendering in this process", answer.get("error", "no answer"))
        return plots(out, report)

    def close(self, kill: bool = False) -> None:
        """End the child (idempotent). One never given a job is killed, not waited for (the report
        was already done, or failed first); so is one told to (``kill``: the report failed)."""
        if self._proc is None:
            return
        if kill or self._job is None:
            self._proc.kill()
        with contextlib.suppress(OSError):
            self._stdin().close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._line is not None:
            self._line.cut()
        self._proc = self._line = None

    def _stdin(self) -> IO[bytes]:
        assert self._proc is not None and self._proc.stdin is not None
        return self._proc.stdin

    def _stdout(self) -> IO[bytes]:
        assert self._proc is not None and self._proc.stdout is not None
        return self._proc.stdout
