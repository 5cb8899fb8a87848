"""Benchmark of the ``extract`` stage against calling ``trafilatura.extract`` directly, on real pages.

Pages: every page of ``../shared/data/article-extraction-benchmark`` (``html/*.html.gz``, the keys
of ``ground-truth.json``) and ``../shared/data/trafilatura-eval`` (``evaldata.json``: url ->
``html_gz``), about 770 real news/blog pages, read as ``../shared/checks/extract_quality.py``
reads them. They are packed once (cached) into 2 gzipped WARC files of about equal HTML bytes, with
``warcio`` under ``--workdir`` (default ``benchmarks/out/extract``, git-ignored).

The **peer** is ``trafilatura.extract`` as a user would run it: ``_trafilatura_loop.py`` (beside this script), one
Python process that reads the same WARC files with warcio and calls ``trafilatura.extract(body.decode("utf-8",
errors="replace"))`` (trafilatura's defaults) on every response record. Three figures, in one run:

1. **Throughput, one worker** -- pages/s (WARC response records processed per second) of
   ``webtext-build extract WARCS --out DIR --runner local`` against the peer's, both timed as whole child processes
   (interpreter start-up to exit, nothing subtracted), alternated. Target: stage >= 1.0x peer (issue #19). Shown
   beside it (unless ``--no-refs``), so a reader can see how much is trafilatura settings and how much is the
   stage's own overhead, all in this process and warm: the peer's loop over the pages in memory,
   ``trafilatura.bare_extraction`` in a loop with the stage's settings (``with_metadata=True,
   include_comments=False, include_tables=True, deduplicate=False``, url given), the same without metadata, the
   stage's watchdog ``Extractor`` (trafilatura in a child process, one pipe round trip per page) driven from this
   process, and the stage's own time from its manifest (``wall_seconds``, no interpreter start).
2. **Scaling** -- ``run_extract`` on the same 2 WARC files (= 2 shards) in this process with 2 Ray
   workers (``RayRunner(num_cpus=2, dashboard=False)``) against the local runner (shards one after
   another). Ray is started and warmed up before the clock starts; its start-up is printed but
   excluded. The end-to-end ``webtext-build extract --runner ray --num-cpus 2 --no-dashboard``
   time (Ray start-up included) is printed as well. Target: >= 1.7x on 2 cores.
3. **Memory** -- peak RSS (``VmHWM`` from ``/proc/<pid>/status``, sampled while it runs) of the
   ``webtext-build`` process and of its extraction child processes (local runner), and of each
   Ray worker and its extraction child (Ray runner).

Medians of ``--repeats`` runs (alternated); the two target ratios are medians of per-repetition ratios (each stage
run against the peer run, or the local runner's run, of its own repetition). Every stage run writes into a fresh
folder (the stage skips work already done in a folder), removed afterwards unless ``--keep``.

    python benchmarks/extract.py            # all ~770 pages, 2 repetitions
    python benchmarks/extract.py --quick    # smoke run: 150 pages, 1 repetition
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _report import (
    FreshOut,
    Row,
    TreeMemory,
    begin,
    finish,
    mib,
    ray_kind,  # benchmarks/_report.py, beside this script
    timed_child,
    verdict,
)

log = logging.getLogger("benchmarks.extract")

TARGET_THROUGHPUT = 1.0  # stage pages/s (one worker) / peer pages/s, both whole processes (issue #19)
TARGET_SPEEDUP = 1.7  # 2 WARC files: 2 Ray workers / local runner
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
WARC_FILES = 2
PEER = Path(__file__).resolve().parent / "_trafilatura_loop.py"
WARMUP_PAGES = 16


# ---------------------------------------------------------------------------------------------
# The pages and their WARC files


def load_pages(data: Path, limit: int | None) -> dict[str, bytes]:
    """url -> HTML bytes of every benchmark page (``limit``: that many, spread evenly over both sets)."""
    pages: dict[str, bytes] = {}
    aeb = data / "article-extraction-benchmark"
    for key in json.loads((aeb / "ground-truth.json").read_text()):
        pages[f"http://aeb.example/{key}"] = gzip.decompress((aeb / "html" / f"{key}.html.gz").read_bytes())
    te = data / "trafilatura-eval"
    for url, item in json.loads((te / "evaldata.json").read_text()).items():
        pages[url] = gzip.decompress((te / item["html_gz"]).read_bytes())
    if limit is not None and limit < len(pages):
        items = list(pages.items())
        pages = dict(items[i * len(items) // limit] for i in range(limit))
    return pages


def write_warc(pages: dict[str, bytes], path: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, body in pages.items():
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))


def balanced_split(pages: dict[str, bytes], files: int) -> list[list[str]]:
    """The URLs in ``files`` groups of about equal HTML bytes (largest page first into the lightest
    group; page order kept within a group): the scaling figure then measures the runner, not an
    uneven split of the work."""
    groups: list[list[str]] = [[] for _ in range(files)]
    load = [0] * files
    for url in sorted(pages, key=lambda u: -len(pages[u])):
        i = load.index(min(load))
        groups[i].append(url)
        load[i] += len(pages[url])
    order = {u: k for k, u in enumerate(pages)}
    return [sorted(g, key=order.__getitem__) for g in groups]


def packed(pages: dict[str, bytes], folder: Path, files: int = WARC_FILES) -> Path:
    """``folder`` holding ``pages`` as ``files`` WARC files of about equal HTML bytes; reused if already there."""
    marker = folder / "pages.json"
    groups = balanced_split(pages, files)
    if marker.exists() and json.loads(marker.read_text()) == groups:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.warc.gz"):
        old.unlink()
    for i, chunk in enumerate(groups):
        tmp = folder / f".pages-{i:05d}.warc.gz.tmp"
        write_warc({u: pages[u] for u in chunk}, tmp)
        tmp.rename(folder / f"pages-{i:05d}.warc.gz")
    marker.write_text(json.dumps(groups))
    log.info("packed %d pages into %d WARC files of %s MB in %s", len(pages), files,
             " / ".join(f"{sum(len(pages[u]) for u in g) / 1e6:.1f}" for g in groups), folder)
    return folder


# ---------------------------------------------------------------------------------------------
# Process-tree memory


def kind_of(cmdline: str) -> str:
    """``extraction`` (the watchdog child), ``ray-worker``, ``ray`` (its daemons) or ``other``."""
    if "webtext.extract.worker" in cmdline:  # python -c "... from webtext.extract.worker import _child_main ..."
        return "extraction"
    if "multiprocessing.spawn" in cmdline or "--multiprocessing-fork" in cmdline:  # the child before it was exec'd
        return "extraction" if "resource_tracker" not in cmdline else "other"
    return ray_kind(cmdline)


# ---------------------------------------------------------------------------------------------
# The timed runs


@dataclass
class Run:
    """One timed pass: wall seconds, pages processed, the stage's own seconds, memory."""

    seconds: float
    pages: int
    stage_seconds: float | None = None
    memory: TreeMemory | None = None
    kept: int | None = None
    waited: float | None = None  # the stage's time blocked on its extraction child (manifest extract_wait_seconds)

    @property
    def rate(self) -> float:
        return self.pages / self.seconds


def median_run(runs: list[Run]) -> Run:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]


def loop(pages: dict[str, bytes], fn: Callable[[str, bytes], Any]) -> Run:
    start = time.perf_counter()
    for url, body in pages.items():
        fn(url, body)
    return Run(time.perf_counter() - start, len(pages))


def baseline(url: str, body: bytes) -> Any:
    """The peer's loop body (``_trafilatura_loop.py``): trafilatura's defaults on the page decoded as UTF-8."""
    import trafilatura

    return trafilatura.extract(body.decode("utf-8", errors="replace"))


def stage_settings(with_metadata: bool) -> Callable[[str, bytes], Any]:
    """``bare_extraction`` with the settings ``webtext.extract.worker.extract_text`` uses."""
    import trafilatura

    def fn(url: str, body: bytes) -> Any:
        return trafilatura.bare_extraction(
            body.decode("utf-8", errors="replace"), url=url, with_metadata=with_metadata, include_comments=False,
            include_tables=True, favor_precision=False, favor_recall=False, deduplicate=False,
        )

    return fn


def run_extractor(pages: dict[str, bytes]) -> Run:
    """The stage's watchdog ``Extractor`` (child process + pipe) with its charset decoding, driven from here; a
    fresh child, as every shard of the stage gets one, so its one-time dateparser set-up is included."""
    from webtext.extract.decode import decode_html
    from webtext.extract.worker import Extractor, ExtractSettings

    with Extractor(ExtractSettings()) as extractor:
        extractor.extract("<html><body><p>warm-up</p></body></html>")  # child start-up is not timed
        start = time.perf_counter()
        for url, body in pages.items():
            html, _ = decode_html(body, "text/html")
            extractor.extract(html, url)
        return Run(time.perf_counter() - start, len(pages))


def dateparser_setup() -> float | None:
    """Seconds of htmldate's first dateparser call in this process: dateparser compiles its per-locale regexes
    then, once per process (so once per extraction child). None if htmldate's internals differ."""
    try:
        from htmldate.extractors import get_external_parser
    except ImportError:
        return None
    start = time.perf_counter()
    get_external_parser().get_date_data("Zzz 12, 2021")  # no locale matches: every locale is set up
    return time.perf_counter() - start


def others(run: Run) -> str:
    return f"; others {run.memory.other_cpu:.1f} CPU-s" if run.memory is not None else ""


def manifest_stats(dataset: Path) -> tuple[int, float | None, int | None, float | None]:
    """(records processed, the stage's wall_seconds, documents kept, seconds waiting for extraction) from the
    dataset's manifest."""
    from webtext.data import Manifest

    manifest = Manifest.read(dataset)
    if manifest is None:
        raise SystemExit(f"no manifest in {dataset}")
    stats = manifest.stats
    return int(stats.get("records", 0)), stats.get("wall_seconds"), stats.get("kept"), stats.get("extract_wait_seconds")


def run_peer(warcs: Path, args: argparse.Namespace) -> Run:
    """``_trafilatura_loop.py`` on the WARC files as a child process, timed from start to exit (as the stage is)."""
    files = sorted(str(p) for p in warcs.glob("*.warc.gz"))
    with FreshOut(args.workdir, "peer", args.keep) as out:
        log_path = out / "peer.log"
        seconds, memory = timed_child([sys.executable, "-P", str(PEER), *files], log_path)
        result = json.loads(log_path.read_text().strip().splitlines()[-1])
    return Run(seconds, int(result["pages"]), memory=memory, kept=int(result["extracted"]))


def stage_cmd(warcs: Path, out: Path, args: argparse.Namespace, runner: str) -> list[str]:
    cmd = [sys.executable, "-m", "webtext.cli", "-q", "extract", str(warcs), "--out", str(out), "--runner", runner]
    if not args.quality_filters:
        cmd.append("--no-quality-filters")
    if runner == "ray":
        cmd += ["--num-cpus", "2", "--no-dashboard"]
    return cmd


def run_stage_cli(warcs: Path, args: argparse.Namespace, label: str, runner: str = "local") -> Run:
    """``webtext-build extract`` as a child process; wall time from start to exit, tree memory sampled."""
    with FreshOut(args.workdir, label, args.keep) as out:
        dataset = out / "docs"
        log_path = out / "cli.log"
        seconds, memory = timed_child(stage_cmd(warcs, dataset, args, runner), log_path, kind_of)
        records, stage_seconds, kept, waited = manifest_stats(dataset)
    return Run(seconds, records, stage_seconds, memory, kept, waited)


def run_stage_inprocess(warcs: Path, args: argparse.Namespace, runner: Any, label: str,
                        memory: bool = False) -> Run:
    """``run_extract`` on ``runner`` in this process; wall seconds of the call."""
    from webtext.extract.config import ExtractConfig
    from webtext.extract.extract_stage import run_extract

    cfg = ExtractConfig(inputs=[str(warcs)], quality_filters=args.quality_filters)
    with FreshOut(args.workdir, label, args.keep) as out:
        dataset = out / "docs"
        tree = TreeMemory(os.getpid(), kind_of) if memory else None
        start = time.perf_counter()
        if tree is not None:
            with tree:
                run_extract(cfg, dataset, runner)
        else:
            run_extract(cfg, dataset, runner)
        seconds = time.perf_counter() - start
        records, stage_seconds, kept, waited = manifest_stats(dataset)
    return Run(seconds, records, stage_seconds, tree, kept, waited)


def logged(fn: Callable[[], Run], what: str) -> Run:
    run = fn()
    extra = f" (manifest wall_seconds {run.stage_seconds:.2f} s)" if run.stage_seconds else ""
    if run.memory is not None:
        extra += f"; other processes used {run.memory.other_cpu:.1f} CPU-s meanwhile"
    log.info("%s: %.2f s, %d pages, %.1f pages/s%s", what, run.seconds, run.pages, run.rate, extra)
    return run


# ---------------------------------------------------------------------------------------------
# Figures


def rate(run: Run) -> str:
    return f"{run.rate:,.1f} docs/s ({run.seconds:.1f} s)"


def figure_throughput(args: argparse.Namespace, pages: dict[str, bytes], warcs: Path,
                      warm: tuple[dict[str, bytes], Path]) -> tuple[list[Row], list[Row]]:
    warm_pages, warm_warcs = warm
    setup = dateparser_setup()
    log.info("htmldate/dateparser one-time set-up in this process: %s s", f"{setup:.2f}" if setup else "?")
    log.info("warm-up (not timed): every variant on %d pages, the stage once", len(warm_pages))
    for fn in (baseline, stage_settings(True), stage_settings(False)):
        loop(warm_pages, fn)
    run_stage_cli(warm_warcs, args, "warm-stage")
    run_peer(warm_warcs, args)

    # The peer and the stage as whole processes side by side in each repetition (the target's ratio); the in-process
    # references (warm: no start-up, pages in memory) split the stage's cost into trafilatura settings and overhead.
    variants: dict[str, Callable[[], Run]] = {
        "peer": lambda: run_peer(warcs, args),
        "stage": lambda: run_stage_cli(warcs, args, "local"),
    }
    if args.refs:
        variants |= {
            "baseline": lambda: loop(pages, baseline),
            "bare_meta": lambda: loop(pages, stage_settings(True)),
            "bare_nometa": lambda: loop(pages, stage_settings(False)),
            "extractor": lambda: run_extractor(pages),
        }
    runs: dict[str, list[Run]] = {k: [] for k in variants}
    for i in range(args.repeats):
        for key, fn in variants.items():
            runs[key].append(logged(fn, f"[{i + 1}/{args.repeats}] {key}"))
    m = {k: median_run(v) for k, v in runs.items()}
    stage, peer = m["stage"], m["peer"]
    if stage.pages != len(pages) or peer.pages != len(pages):
        log.warning("the stage processed %d records, the peer %d, of %d pages", stage.pages, peer.pages, len(pages))
    # Each repetition's stage run against the peer run of the same repetition (seconds apart), then the median:
    # a ratio of two separately chosen medians mixes runs far apart in time on a machine whose speed drifts.
    pairs = [s.rate / b.rate for s, b in zip(runs["stage"], runs["peer"], strict=True)]
    ratio = statistics.median(pairs)
    rows = [Row("1. peer: trafilatura.extract loop over the WARC files (whole process, defaults)",
                f"{rate(peer)}, {peer.kept} with text")]
    if args.refs:
        base = m["baseline"]
        rows += [
            Row("   ref: the same loop in this process, warm (no start-up, pages in memory)",
                f"{rate(base)} = {base.rate / peer.rate:.2f}x"),
            Row("   ref: bare_extraction in this process, stage settings (with_metadata=True)",
                f"{rate(m['bare_meta'])} = {m['bare_meta'].rate / peer.rate:.2f}x"),
            Row("   ref: bare_extraction in this process, stage settings, with_metadata=False",
                f"{rate(m['bare_nometa'])} = {m['bare_nometa'].rate / peer.rate:.2f}x"),
            Row("   ref: stage's Extractor (fresh watchdog child + pipe) from here",
                f"{rate(m['extractor'])} = {m['extractor'].rate / peer.rate:.2f}x"),
        ]
    rows.append(Row("   stage: webtext-build extract --runner local (whole process)",
                    f"{stage.rate:,.1f} pages/s ({stage.seconds:.1f} s, {stage.pages:,} records, {stage.kept} kept"
                    f"{others(stage)})"))
    if stage.stage_seconds:
        rows.append(Row("   stage's own time (manifest wall_seconds)",
                        f"{stage.pages / stage.stage_seconds:,.1f} pages/s ({stage.stage_seconds:.1f} s) = "
                        f"{stage.pages / stage.stage_seconds / peer.rate:.2f}x"))
    if stage.stage_seconds and stage.waited is not None:
        # Blocked on the child nearly all the time: trafilatura is the bottleneck and the stage's own work (reading,
        # decoding, cleaning, language identification) overlapped with it; the rest is that work not overlapped.
        rows.append(Row("   of which blocked on the extraction child",
                        f"{stage.waited:.1f} s; own work not overlapped: {stage.stage_seconds - stage.waited:.1f} s"))
    if setup:
        rows.append(Row("   one-time per process: htmldate's first dateparser call",
                        f"{setup:.1f} s (excluded from the refs; with_metadata=True pays it, the stage does not: "
                        "it never asks htmldate for an extensive search)"))
    rows.append(Row("   stage (whole process) / peer (whole process), median of repetitions",
                    f"{ratio:.2f}x ({', '.join(f'{p:.2f}' for p in pairs)})", f">= {TARGET_THROUGHPUT}x",
                    verdict(ratio >= TARGET_THROUGHPUT)))
    mem = stage.memory
    assert mem is not None
    child, n_child = mem.peak("extraction")
    memory = [
        Row("3. peak RSS, extraction child process (VmHWM), local runner",
            f"{mib(child)} (max of {n_child} process{'es' if n_child != 1 else ''})"),
        Row("   peak RSS, webtext-build process itself (VmHWM)", mib(mem.hwm.get(mem.root, 0))),
        Row("   peak RSS, whole webtext-build tree (sampled sum)", mib(mem.peak_sum)),
    ]
    return rows, memory


def figure_scaling(args: argparse.Namespace, warcs: Path, warm_warcs: Path) -> tuple[list[Row], list[Row]]:
    import ray

    from webtext.runner import LocalRunner
    from webtext.runner.ray_runner import RayRunner, init_ray

    local = LocalRunner()
    run_stage_inprocess(warm_warcs, args, local, "warm-local")
    log.info("starting Ray (num_cpus=2, no dashboard) and warming it up; not timed")
    start = time.perf_counter()
    started = init_ray(num_cpus=2, dashboard=False)
    ray_runner = RayRunner(num_cpus=2, dashboard=False)
    l_runs: list[Run] = []
    r_runs: list[Run] = []
    try:
        run_stage_inprocess(warm_warcs, args, ray_runner, "warm-ray")
        startup = time.perf_counter() - start
        for i in range(args.repeats):
            l_runs.append(logged(lambda: run_stage_inprocess(warcs, args, local, "local2", memory=True),
                                 f"[{i + 1}/{args.repeats}] run_extract, 2 shards, local runner"))
            r_runs.append(logged(lambda: run_stage_inprocess(warcs, args, ray_runner, "ray2", memory=True),
                                 f"[{i + 1}/{args.repeats}] run_extract, 2 shards, 2 Ray workers"))
    finally:
        ray_runner.close()
        if started:
            ray.shutdown()
    cli = logged(lambda: run_stage_cli(warcs, args, "raycli", runner="ray"),
                 "webtext-build extract --runner ray --num-cpus 2 (end to end)")
    l_run, r_run = median_run(l_runs), median_run(r_runs)
    if r_run.pages != l_run.pages:
        log.warning("Ray processed %d records, the local runner %d", r_run.pages, l_run.pages)
    pairs = [lr.seconds / rr.seconds for lr, rr in zip(l_runs, r_runs, strict=True)]  # as for figure 1
    speedup = statistics.median(pairs)
    rows = [
        Row("2. run_extract, 2 WARC files, local runner (sequential)",
            f"{l_run.rate:,.1f} pages/s ({l_run.seconds:.1f} s{others(l_run)})"),
        Row("   run_extract, 2 WARC files, 2 Ray workers",
            f"{r_run.rate:,.1f} pages/s ({r_run.seconds:.1f} s{others(r_run)})"),
        Row("   speed-up 2 Ray workers / local, median of repetitions",
            f"{speedup:.2f}x ({', '.join(f'{p:.2f}' for p in pairs)})", f">= {TARGET_SPEEDUP}x",
            verdict(speedup >= TARGET_SPEEDUP)),
        Row("   Ray start-up + warm-up (done first, excluded above)", f"{startup:.1f} s"),
        Row("   webtext-build extract --runner ray, end to end incl. Ray start",
            f"{cli.rate:,.1f} pages/s ({cli.seconds:.1f} s, {l_run.seconds / cli.seconds:.2f}x local)"),
    ]
    memory: list[Row] = []
    if r_run.memory is not None:
        worker, n_worker = r_run.memory.peak("ray-worker")
        child, n_child = r_run.memory.peak("extraction")
        memory = [
            Row("   peak RSS, Ray worker process (VmHWM), 2 Ray workers", f"{mib(worker)} (max of {n_worker})"),
            Row("   peak RSS, extraction child of a Ray worker (VmHWM)", f"{mib(child)} (max of {n_child})"),
        ]
    return rows, memory


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 150 pages, 1 repetition")
    parser.add_argument("--pages", type=int, default=None, help="pages used (default all ~770; 150 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs of every timed variant, median taken (default 2; 1 with --quick)")
    parser.add_argument("--no-quality-filters", dest="quality_filters", action="store_false",
                        help="run the stage with --no-quality-filters (default: its cleaning rules on)")
    parser.add_argument("--no-scaling", dest="scaling", action="store_false", help="skip figure 2 (Ray)")
    parser.add_argument("--no-refs", dest="refs", action="store_false",
                        help="time only the peer and the stage in figure 1 (skip the in-process references)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the shared data folder (default {DATA})")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out" / "extract",
                        help="WARC files and scratch outputs (default benchmarks/out/extract/)")
    parser.add_argument("--keep", action="store_true", help="keep every run's output folder")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the stage's own logging")
    args = parser.parse_args(argv)
    if args.pages is None and args.quick:
        args.pages = 150
    if args.repeats is None:
        args.repeats = 1 if args.quick else 2
    if (args.pages is not None and args.pages < WARC_FILES) or args.repeats < 1:
        parser.error(f"--pages must be >= {WARC_FILES} and --repeats >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = begin(args, log)

    import trafilatura

    pages = load_pages(args.data, args.pages)
    total_bytes = sum(len(b) for b in pages.values())
    warcs = packed(pages, args.workdir / f"warc-{len(pages)}")
    warm_pages = load_pages(args.data, WARMUP_PAGES)
    warm_warcs = packed(warm_pages, args.workdir / "warc-warmup")
    log.info("%d pages (%.1f MB of HTML) in %s", len(pages), total_bytes / 1e6, warcs)

    rows, memory = figure_throughput(args, pages, warcs, (warm_pages, warm_warcs))
    if args.scaling:
        scaling, ray_memory = figure_scaling(args, warcs, warm_warcs)
        rows += scaling
        memory += ray_memory
    rows += memory

    header = (
        f"webtext extract stage benchmark: {len(pages):,} real pages ({total_bytes / 1e6:.1f} MB HTML, "
        f"article-extraction-benchmark + trafilatura-eval) in {WARC_FILES} WARC files, quality filters "
        f"{'on' if args.quality_filters else 'off'}, median of {args.repeats}, {os.cpu_count()} CPUs, "
        f"trafilatura {trafilatura.__version__}, Python {platform.python_version()}, "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
