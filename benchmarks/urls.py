"""Benchmark of the ``urls`` stage on generated Pushshift dumps (>= 1M records by default).

Three figures, all measured in the same run:

1. **Throughput on one worker** -- records/s of the whole stage (both passes, local runner) on one
   ``--records``-record ``.zst`` dump, against the **baseline**: the same dump streamed through
   ``zstandard`` (``ZstdDecompressor(max_window_size=2**31).decompressobj()``, 256 KiB reads,
   split on newlines) with ``orjson.loads`` on every line and nothing else -- what a plain reader
   of the dump pays (the stage decodes only the fields it reads, so it can beat it). Target: stage
   >= 1.0x baseline. ``--repeats`` rounds, each a baseline run then a stage run (alternated, so a
   machine whose speed drifts weighs on both alike); the ratio is the median of the per-round
   ratios, printed with their min and max, the rates are medians.
2. **Scaling** -- the stage on two dumps of ``--records`` records each: two Ray workers
   (``RayRunner(num_cpus=2, dashboard=False)``) against one worker (local runner). Ray is started
   and warmed up (a tiny stage run) *before* the clock starts; its start-up time is printed but
   excluded. Target: >= 1.7x on 2 cores.
3. **Memory** -- peak RSS of the stage (one worker, ``webtext-build urls --runner local`` in a
   fresh child process, read with ``os.wait4``) on a ``--records`` dump against a ``4 x --records``
   dump. Target: growth < 20%.

Generated dumps are cached in ``--workdir`` (default ``benchmarks/out/``, git-ignored), so reruns
only measure; delete the folder to regenerate. Every measurement writes into a fresh output folder
(the stage skips work already done in a folder), removed afterwards.

    python benchmarks/urls.py            # default: 1M records (4M for the memory figure)
    python benchmarks/urls.py --quick    # smoke run: 50k records (200k for the memory figure)
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _report import FreshOut, Row, check_parts, finish, setup, verdict  # benchmarks/_report.py, beside this script

log = logging.getLogger("benchmarks.urls")

ZSTD_MAX_WINDOW = 2**31  # what modern (--long=31) Pushshift dumps need, and what the stage uses
READ_SIZE = 1 << 18
WARMUP_RECORDS = 2_000

TARGET_THROUGHPUT = 1.0  # stage / baseline, one worker
TARGET_SPEEDUP = 1.7  # 2 Ray workers / 1 local worker, 2 files
TARGET_RSS_GROWTH = 20.0  # percent, 1x -> 4x records

PARTS = ("throughput", "scaling", "memory")


# ---------------------------------------------------------------------------------------------
# Inputs


def dump_path(workdir: Path, records: int, seed: int, long_window: bool) -> Path:
    suffix = "-long31" if long_window else ""
    return workdir / "dumps" / f"RS_bench-{records}-seed{seed}{suffix}.zst"


def ensure_dump(workdir: Path, records: int, seed: int, long_window: bool) -> Path:
    """The cached dump for (records, seed), generated once (atomically) if missing."""
    from webtext.demo.sample_dump import write_sample_dump

    path = dump_path(workdir, records, seed, long_window)
    if path.exists():
        log.info("using cached dump %s (%.0f MB)", path, path.stat().st_size / 1e6)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.zst")
    log.info("generating %s (%d records)...", path, records)
    start = time.perf_counter()
    write_sample_dump(tmp, records, seed=seed, long_window=long_window)
    os.replace(tmp, path)
    log.info("generated %s in %.1f s (%.0f MB)", path.name, time.perf_counter() - start,
             path.stat().st_size / 1e6)
    return path




# ---------------------------------------------------------------------------------------------
# Measurements


def baseline(path: Path) -> int:
    """Decompress ``path`` (streaming zstd, 2 GiB max window) and ``orjson.loads`` every line."""
    import orjson
    import zstandard

    loads = orjson.loads
    lines = 0
    rest = b""
    decoder = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).decompressobj()
    with open(path, "rb") as f:
        while data := f.read(READ_SIZE):
            while data:
                chunk = decoder.decompress(data)
                data = b""
                if decoder.eof:  # next frame, if any
                    data = decoder.unused_data
                    decoder = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW).decompressobj()
                if not chunk:
                    continue
                parts = (rest + chunk).split(b"\n")
                rest = parts.pop()
                for line in parts:
                    loads(line)
                lines += len(parts)
    if rest:
        loads(rest)
        lines += 1
    return lines


def run_stage_once(files: list[Path], workdir: Path, runner: object, label: str) -> int:
    """One ``urls`` stage run into a fresh folder; returns the line count from its manifest."""
    from webtext.crawl.config import UrlsConfig
    from webtext.crawl.url_stage import run_urls

    with FreshOut(workdir, label) as out:
        manifest = run_urls(UrlsConfig(inputs=[str(f) for f in files]), out, runner)  # type: ignore[arg-type]
    return int(manifest.stats["submissions"]["lines"])


def timed_once(fn: Callable[[], int], what: str) -> tuple[float, int]:
    """Wall seconds of one call of ``fn`` and the count it returned, logged."""
    start = time.perf_counter()
    count = fn()
    seconds = time.perf_counter() - start
    log.info("%s: %.2f s (%d records, %.0f rec/s)", what, seconds, count, count / seconds)
    return seconds, count


def timed(fn: Callable[[], int], repeats: int, what: str) -> tuple[float, int]:
    """Median wall seconds of ``repeats`` calls of ``fn`` and the count it returned."""
    runs = [timed_once(fn, f"{what}: run {i + 1}/{repeats}") for i in range(repeats)]
    return statistics.median(t for t, _ in runs), runs[-1][1]


def alternated(variants: dict[str, Callable[[], int]], repeats: int) -> dict[str, list[tuple[float, int]]]:
    """``repeats`` rounds, each running every variant once in order: (seconds, count) per round."""
    runs: dict[str, list[tuple[float, int]]] = {k: [] for k in variants}
    for i in range(repeats):
        for key, fn in variants.items():
            runs[key].append(timed_once(fn, f"round {i + 1}/{repeats}: {key}"))
    return runs


def child_peak_rss(path: Path, workdir: Path) -> tuple[int, float, int]:
    """Run the stage (local runner) on ``path`` in a fresh process; (peak RSS bytes, seconds, rc)."""
    with FreshOut(workdir, "rss") as out:
        cmd = [sys.executable, "-m", "webtext.cli", "-q", "urls", str(path), "--out", str(out),
               "--runner", "local"]
        log.info("memory: %s", " ".join(cmd))
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return usage.ru_maxrss * scale, seconds, proc.returncode


# ---------------------------------------------------------------------------------------------
# Figures


def figure_throughput(args: argparse.Namespace, dump: Path, warm: Path) -> list[Row]:
    from webtext.runner import LocalRunner

    runner = LocalRunner()
    baseline(warm)
    run_stage_once([warm], args.workdir, runner, "warmup")  # imports (pyarrow...) not timed
    runs = alternated({"baseline": lambda: baseline(dump),
                       "stage, 1 worker": lambda: run_stage_once([dump], args.workdir, runner, "local1")},
                      args.repeats)
    base, stage = runs["baseline"], runs["stage, 1 worker"]
    if {c for _, c in stage} != {c for _, c in base}:
        log.warning("the stage counted %s lines, the baseline %s", [c for _, c in stage], [c for _, c in base])
    # Each round's stage run against the baseline run of the same round (seconds apart), then the median.
    ratios = [(sc / st) / (bc / bt) for (bt, bc), (st, sc) in zip(base, stage, strict=True)]
    ratio = statistics.median(ratios)
    b_sec, s_sec = statistics.median(t for t, _ in base), statistics.median(t for t, _ in stage)
    n = f"median of {args.repeats}, alternated"
    return [
        Row(f"1. baseline (zstd stream + orjson.loads), 1 file [{n}]",
            f"{base[0][1] / b_sec:,.0f} rec/s ({b_sec:.2f} s)"),
        Row(f"   stage, 1 worker (local), 1 file [{n}]", f"{stage[0][1] / s_sec:,.0f} rec/s ({s_sec:.2f} s)"),
        Row("   ratio stage / baseline, median of per-round ratios",
            f"{ratio:.2f}x (min {min(ratios):.2f}, max {max(ratios):.2f}; {args.repeats} rounds)",
            f">= {TARGET_THROUGHPUT}x", verdict(ratio >= TARGET_THROUGHPUT)),
    ]


def figure_scaling(args: argparse.Namespace, dumps: list[Path], warms: list[Path]) -> list[Row]:
    import ray

    from webtext.runner import LocalRunner
    from webtext.runner.ray_runner import RayRunner, init_ray

    local = LocalRunner()
    run_stage_once(warms, args.workdir, local, "warmup")
    l_sec, l_lines = timed(lambda: run_stage_once(dumps, args.workdir, local, "local2"), args.scaling_repeats,
                           "stage, 1 worker, 2 files")

    log.info("starting Ray (num_cpus=2, no dashboard) and warming it up; not timed")
    start = time.perf_counter()
    started = init_ray(num_cpus=2, dashboard=False)
    ray_runner = RayRunner(num_cpus=2, dashboard=False)
    try:
        run_stage_once(warms, args.workdir, ray_runner, "raywarmup")
        startup = time.perf_counter() - start
        r_sec, r_lines = timed(lambda: run_stage_once(dumps, args.workdir, ray_runner, "ray2"),
                               args.scaling_repeats, "stage, 2 Ray workers, 2 files")
    finally:
        ray_runner.close()
        if started:
            ray.shutdown()
    if r_lines != l_lines:
        log.warning("Ray counted %d lines, the local runner %d", r_lines, l_lines)
    speedup = l_sec / r_sec
    n = f"median of {args.scaling_repeats}" if args.scaling_repeats > 1 else "1 run"
    return [
        Row(f"2. stage, 1 worker (local), 2 files [{n}]", f"{l_lines / l_sec:,.0f} rec/s ({l_sec:.2f} s)"),
        Row(f"   stage, 2 Ray workers, 2 files [{n}]", f"{r_lines / r_sec:,.0f} rec/s ({r_sec:.2f} s)"),
        Row("   speed-up 2 Ray workers / 1 worker", f"{speedup:.2f}x", f">= {TARGET_SPEEDUP}x",
            verdict(speedup >= TARGET_SPEEDUP)),
        Row("   Ray start-up + warm-up (done first, excluded above)", f"{startup:.1f} s"),
    ]


def figure_memory(args: argparse.Namespace, small: Path, large: Path) -> list[Row]:
    rss: list[int] = []
    rows: list[Row] = []
    for i, (path, n) in enumerate(((small, args.records), (large, args.rss_records))):
        peak, seconds, rc = child_peak_rss(path, args.workdir)
        if rc != 0:
            raise SystemExit(f"the stage failed on {path} (exit code {rc})")
        rss.append(peak)
        prefix = "3." if i == 0 else "  "
        rows.append(Row(f"{prefix} peak RSS, stage, 1 worker, {n:,} records (child process)",
                        f"{peak / 2**20:,.0f} MiB ({seconds:.1f} s wall, {n / seconds:,.0f} rec/s)"))
    growth = 100.0 * (rss[1] - rss[0]) / rss[0]
    rows.append(Row(f"   growth {args.rss_records // args.records}x records", f"{growth:+.1f}%",
                    f"< {TARGET_RSS_GROWTH:.0f}%", verdict(growth < TARGET_RSS_GROWTH)))
    return rows


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=None,
                        help="records per dump (default 1,000,000; 50,000 with --quick)")
    parser.add_argument("--rss-records", type=int, default=None,
                        help="records of the large dump of the memory figure (default 4 x --records)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 50k records, 200k for the memory figure, fewer repetitions")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out",
                        help="cache of generated dumps and scratch outputs (default benchmarks/out/)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="rounds of the throughput figure, each a baseline run then a 1-worker stage "
                        "run; medians taken (default 3; 2 with --quick)")
    parser.add_argument("--scaling-repeats", type=int, default=1,
                        help="runs of each side of the scaling figure (default 1)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated figures to measure (default: {','.join(PARTS)})")
    parser.add_argument("--long-window", action="store_true",
                        help="generate dumps as modern Pushshift does (zstd --long=31, 2 GiB window)")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the stage's own logging")
    args = parser.parse_args(argv)
    if args.records is None:
        args.records = 50_000 if args.quick else 1_000_000
    if args.repeats is None:
        args.repeats = 2 if args.quick else 3
    if args.rss_records is None:
        args.rss_records = 200_000 if args.quick else 4 * args.records
    args.parts = check_parts(parser, args.parts, PARTS)
    if args.records < 1 or args.rss_records < 1 or args.repeats < 1 or args.scaling_repeats < 1:
        parser.error("--records, --rss-records, --repeats and --scaling-repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup(args.verbose)
    args.workdir = args.workdir.resolve()
    started = time.perf_counter()

    lw = args.long_window
    warms = [ensure_dump(args.workdir, WARMUP_RECORDS, seed, lw) for seed in (0, 1)]
    dump0 = ensure_dump(args.workdir, args.records, 0, lw)
    dump1 = ensure_dump(args.workdir, args.records, 1, lw) if "scaling" in args.parts else None
    large = ensure_dump(args.workdir, args.rss_records, 0, lw) if "memory" in args.parts else None

    # Measured in this order so that no Ray process is alive during the 1-worker and memory runs.
    figures: dict[str, list[Row]] = {}
    if "throughput" in args.parts:
        figures["throughput"] = figure_throughput(args, dump0, warms[0])
    if "memory" in args.parts:
        assert large is not None
        figures["memory"] = figure_memory(args, dump0, large)
    if "scaling" in args.parts:
        assert dump1 is not None
        figures["scaling"] = figure_scaling(args, [dump0, dump1], warms)
    rows = [row for part in PARTS for row in figures.get(part, [])]

    header = (
        f"webtext urls stage benchmark: {args.records:,} records per dump"
        f"{' (zstd --long=31)' if lw else ''}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
