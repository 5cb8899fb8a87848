"""Benchmark of the ``contamination`` stage (GPT-2's 8-gram overlap) against its naive peer, whole process
against whole process, at several corpus sizes.

Input: for each ``--size`` (default ``24MB,200MB``; ``1GB`` takes a while), that many bytes of UTF-8
text in ~3-5 KB documents drawn from the real text in ``../shared/data`` (``_contamination_corpus.py``),
in ``--shards`` Parquet files (default 4), built once and cached under ``--workdir`` (default
``benchmarks/out/contamination``, git-ignored). Benchmarks: WikiText-2 test and PTB test.

**Peer** (``shared/PEERS.md``, "8-gram overlap, whole process"): ``_naive_contamination.py``, GPT-2's
method written plainly -- regex words, 8-gram strings, a Python ``set`` of the benchmark n-grams and
one of the corpus n-grams -- run as its own process on the same Parquet files.

Figures, all from the same run:

1. **throughput** -- per size, ``--repeats`` rounds (default 3); each round runs the peer, then
   ``webtext-build contamination --runner R`` in every ``--modes`` mode (default ``bloom,exact``),
   each as a child process timed from start to exit (interpreter start, imports, benchmark loading,
   every pass and the report included), so machine noise falls on both sides of each ratio alike.
   Printed: the median whole-process ratio (peer seconds / stage seconds of the same round; the
   lowest and highest round beside it), wall seconds, peak RSS (VmHWM) and the per-pass seconds of
   the stage's manifests. Targets (issue #19): >= 3x at 24 MB, >= 5x from 200 MB. ``--runner``:
   ``local`` (default; one process) or ``ray`` (the CLI's own default: an embedded Ray started and
   stopped inside the run). One stage run per mode before the rounds, not timed, fills numba's
   on-disk cache of compiled kernels (as a user's first run does).
2. **scaling** (largest size) -- 2 Ray workers against 1 local worker: the CLI with ``--runner ray
   --num-cpus 2 --no-dashboard``, then ``run_contamination`` in this process with Ray warm.
3. **memory** (largest size) -- the Bloom filter's resident memory against its m/8 bytes, in a child
   process that builds the filter the bloom run chose and allocates nothing else meanwhile.

Every stage run writes into a fresh folder, removed afterwards unless ``--keep``. The machine has 2
cores: the warning at the start says when it was already busy.

    python benchmarks/contamination.py                        # 24 MB and 200 MB, 3 rounds, both modes
    python benchmarks/contamination.py --size 1GB --repeats 2
    python benchmarks/contamination.py --parts throughput,memory,scaling
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _contamination_corpus import Corpus, cached_corpus  # beside this script
from _report import (
    FreshOut,
    Row,
    TreeMemory,
    begin,
    check_parts,
    finish,
    mib,
    proc_status,
    ray_kind,  # benchmarks/_report.py, beside this script
    timed_child,
    verdict,
)

log = logging.getLogger("benchmarks.contamination")

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
BENCHMARKS = {"wikitext2": DATA / "wikitext-2" / "test.txt", "ptb": DATA / "ptb" / "ptb.test.txt"}
PEER = Path(__file__).resolve().parent / "_naive_contamination.py"
NGRAM = 8
TARGETS = ((200 * 10**6, 5.0), (0, 3.0))  # (from this many text bytes, whole-process ratio): issue #19
TARGET_SPEEDUP = 1.7  # 2 Ray workers / 1 local worker, warm
TARGET_MEMORY = 5.0  # percent, |resident - m/8| / (m/8)
WARMUP_DOCS = 64
PARTS = ("throughput", "scaling", "memory")
MB = 1e6
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(MB|GB)", re.IGNORECASE)


def rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / MB / seconds:,.1f} MB/s ({seconds:.2f} s)"


# ---------------------------------------------------------------------------------------------
# The peer, as its own process


@dataclass
class PeerRun:
    seconds: float
    peak_rss: int
    text_bytes: int
    hits: int
    distinct: int


def run_peer(corpus: Corpus) -> PeerRun:
    """``_naive_contamination.py`` on the corpus's Parquet files, timed from start to exit."""
    cmd = [sys.executable, "-P", str(PEER), str(corpus.folder), *(str(p) for p in BENCHMARKS.values())]
    out = corpus.folder.parent / "runs"
    out.mkdir(parents=True, exist_ok=True)
    seconds, memory = timed_child(cmd, out / "peer.log")
    r = json.loads((out / "peer.log").read_text().strip().splitlines()[-1])
    log.info("peer: %.2f s, %d hits, %s distinct corpus 8-grams", seconds, r["hits"], f"{r['distinct']:,}")
    return PeerRun(seconds, memory.root_peak, int(r["text_bytes"]), int(r["hits"]), int(r["distinct"]))


# ---------------------------------------------------------------------------------------------
# Stage runs


@dataclass
class Run:
    """One ``webtext-build contamination`` run: whole-process seconds, per-pass seconds, memory."""

    seconds: float
    text_bytes: int
    ngrams: int
    passes: dict[str, float]  # "scan", "bloom", "report" -> the manifest's wall_seconds
    memory: TreeMemory | None = None
    bloom: dict[str, Any] | None = None  # report.json's "bloom"

    def mbps(self, what: str = "process") -> float:
        seconds = self.seconds if what == "process" else self.passes[what]
        return self.text_bytes / MB / seconds


def bench_args() -> list[str]:
    return [a for name, path in BENCHMARKS.items() for a in ("--benchmark", f"{name}={path}")]


def read_run(out: Path, seconds: float, memory: TreeMemory | None) -> Run:
    from webtext.data import Manifest

    passes: dict[str, float] = {}
    stats: dict[str, Any] = {}
    for name, folder in (("scan", out / "hits"), ("bloom", out / "bloom"), ("report", out)):
        manifest = Manifest.read(folder)
        if manifest is not None:
            passes[name] = float(manifest.stats["wall_seconds"])
            if name == "scan":
                stats = manifest.stats
    if "scan" not in passes:
        raise SystemExit(f"no scan manifest in {out / 'hits'}")
    report = json.loads((out / "report.json").read_text())
    return Run(seconds, int(stats["text_bytes"]), int(stats["ngrams"]), passes, memory, report.get("bloom"))


def run_cli(corpus: Corpus, args: argparse.Namespace, mode: str, runner: str, quiet: bool = False) -> Run:
    """``webtext-build contamination`` as a child process, timed from start to exit."""
    with FreshOut(args.workdir, f"{mode}-{runner}", args.keep) as out:
        # -P: the working folder is not put on sys.path (a module there must not shadow the stdlib)
        cmd = [sys.executable, "-P", "-m", "webtext.cli", "-q", "contamination", str(corpus.folder), *bench_args(),
               "--mode", mode, "--out", str(out / "report"), "--runner", runner]
        if args.bloom_parts:
            cmd += ["--bloom-parts", str(args.bloom_parts)]
        if runner == "ray":
            cmd += ["--num-cpus", "2", "--no-dashboard"]
        if not quiet:
            log.info("%s mode, %s runner: %s", mode, runner, " ".join(cmd[cmd.index("--mode"):]))
        seconds, memory = timed_child(cmd, out / "cli.log", ray_kind)
        run = read_run(out / "report", seconds, memory)
    (log.debug if quiet else log.info)("%s mode, %s runner: %.1f s in all (%s); %.1f MB/s", mode, runner, seconds,
             ", ".join(f"{k} {v:.2f} s" for k, v in run.passes.items()), run.mbps())
    return run


def run_inprocess(corpus_folder: Path, args: argparse.Namespace, mode: str, runner: Any, label: str) -> Run:
    from webtext.contamination.config import ContaminationConfig
    from webtext.contamination.contamination_stage import run_contamination

    extra = {"bloom_parts": args.bloom_parts} if args.bloom_parts else {}
    cfg = ContaminationConfig(inputs=[str(corpus_folder)], benchmarks=[f"{n}={p}" for n, p in BENCHMARKS.items()],
                              mode=mode, **extra)
    with FreshOut(args.workdir, label, args.keep) as out:
        start = time.perf_counter()
        run_contamination(cfg, out / "report", runner)
        seconds = time.perf_counter() - start
        run = read_run(out / "report", seconds, None)
    log.info("in-process %s: %.1f s (%s)", label, seconds, ", ".join(f"{k} {v:.2f} s" for k, v in run.passes.items()))
    return run


def memory_rows(run: Run, label: str) -> list[Row]:
    mem = run.memory
    assert mem is not None
    if run_is_ray(mem):
        worker, n = mem.peak("ray-worker")
        return [Row(f"   peak RSS, {label}: Ray worker (VmHWM, max of {n}) / process tree (sampled sum)",
                    f"{mib(worker)} / {mib(mem.peak_sum)}")]
    return [Row(f"   peak RSS, {label} (VmHWM)", mib(mem.root_peak))]


def run_is_ray(mem: TreeMemory) -> bool:
    return any(k == "ray-worker" for k in mem.kinds.values())


# ---------------------------------------------------------------------------------------------
# The Bloom filter's resident memory, in a child process


def _vm(key: str) -> int:
    return proc_status(os.getpid()).get(key, 0)


def _resident_pages(address: int, nbytes: int) -> int:
    """Bytes of the pages of [address, address + nbytes) that are in RAM (``/proc/self/pagemap`` bit 63)."""
    import numpy as np

    page = os.sysconf("SC_PAGE_SIZE")
    first, last = address // page, (address + nbytes - 1) // page
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(first * 8)
        entries = np.frombuffer(f.read((last - first + 1) * 8), dtype=np.uint64)
    return int(((entries >> np.uint64(63)) & np.uint64(1)).sum()) * page


def bloom_child(spec: str) -> None:
    """Child process: the corpus n-gram hashes first (the stage's batches), then the filter built from
    them with nothing else allocated meanwhile; prints its memory figures as JSON."""
    import numpy as np
    import pyarrow as pa

    from webtext.contamination.bloom import BloomFilter
    from webtext.contamination.config import ContaminationConfig
    from webtext.contamination.ngrams import hash_texts
    from webtext.contamination.scan import doc_batches

    task = json.loads(spec)
    batch_rows = ContaminationConfig.__dataclass_fields__["batch_rows"].default
    first = next(doc_batches(Path(task["files"][0]), WARMUP_DOCS, extra=()))
    hash_texts(first.column("text").to_pylist(), NGRAM)  # imports and compiled code loaded: not timed
    start = time.perf_counter()
    parts = [hash_texts(batch.column("text").to_pylist(), NGRAM).hashes
             for path in task["files"] for batch in doc_batches(Path(path), batch_rows, extra=())]
    hashes = np.concatenate(parts)
    hash_seconds = time.perf_counter() - start
    del parts
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    pa.default_memory_pool().release_unused()
    with open("/proc/self/clear_refs", "w") as f:  # "5": reset VmHWM to the current RSS (Linux >= 4.0)
        f.write("5")
    before = _vm("VmRSS")
    bloom = BloomFilter.empty(task["m"], task["k"], NGRAM)
    allocated = _vm("VmRSS")
    start = time.perf_counter()
    for i in range(0, len(hashes), 1 << 20):
        bloom.add(hashes[i:i + (1 << 20)])
    add_seconds = time.perf_counter() - start
    print(json.dumps({
        "before": before, "allocated": allocated, "after": _vm("VmRSS"), "peak": _vm("VmHWM"),
        "resident_pages": _resident_pages(bloom.bits.ctypes.data, bloom.nbytes), "items": bloom.items,
        "hash_seconds": hash_seconds, "add_seconds": add_seconds,
    }))


def figure_memory(corpus: Corpus, bloom: dict[str, Any]) -> list[Row]:
    m, k = int(bloom["m_bits"]), int(bloom["k"])
    spec = json.dumps({"m": m, "k": k, "files": [str(f) for f in corpus.files]})
    log.info("Bloom memory: a child process builds BloomFilter.empty(%s, %d, %d) over the corpus", f"{m:,}", k, NGRAM)
    child = (f"import sys; sys.path.append({str(Path(__file__).resolve().parent)!r}); "
             "from contamination import bloom_child; bloom_child(sys.argv[1])")
    done = subprocess.run([sys.executable, "-P", "-c", child, spec], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the Bloom memory child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    theory = m // 8

    def vs(n: int) -> str:
        return f"{n:,} B ({100.0 * (n - theory) / theory:+.2f}%)"

    growth = r["after"] - r["before"]
    off = 100.0 * (growth - theory) / theory
    return [
        Row(f"3. Bloom filter: m = {m:,} bits, k = {k}, {r['items']:,} n-grams; theoretical m/8",
            f"{theory:,} B ({mib(theory)})"),
        Row("   resident growth: VmRSS after all adds - VmRSS before BloomFilter.empty", vs(growth),
            f"<= {TARGET_MEMORY:.0f}%", verdict(abs(off) <= TARGET_MEMORY)),
        Row("   peak growth while building it (VmHWM, reset before, - VmRSS before)", vs(r["peak"] - r["before"])),
        Row("   the filter's own pages in RAM (/proc/self/pagemap)", vs(r["resident_pages"])),
        Row("   right after BloomFilter.empty (zeroed pages not touched yet)", f"{r['allocated'] - r['before']:+,} B"),
        Row("   this child: read + hash_texts, whole corpus", rate(corpus.text_bytes, r["hash_seconds"])),
        Row("   this child: BloomFilter.add, whole corpus",
            f"{r['items'] / r['add_seconds'] / 1e6:,.1f} M n-grams/s ({r['add_seconds']:.2f} s)"),
    ]


# ---------------------------------------------------------------------------------------------
# Figures


def target(text_bytes: int) -> float:
    return next(t for size, t in TARGETS if text_bytes >= size * 0.99)  # "200MB" may hold a few bytes less


def figure_throughput(args: argparse.Namespace, corpus: Corpus, runs: dict[str, Run], first: bool) -> list[Row]:
    """The peer and the stage in each mode, alternated, ``args.repeats`` rounds on ``corpus``."""
    size = f"{corpus.text_bytes / MB:,.0f} MB"
    for mode in args.modes:  # numba's on-disk cache filled (a user's first run), not timed
        run_cli(corpus, args, mode, args.runner, quiet=True)
    peer: list[PeerRun] = []
    stage: dict[str, list[Run]] = {mode: [] for mode in args.modes}
    for r in range(args.repeats):
        log.info("%s, round %d of %d", size, r + 1, args.repeats)
        peer.append(run_peer(corpus))
        for mode in args.modes:
            stage[mode].append(run_cli(corpus, args, mode, args.runner))
    runs.update({f"{mode}-{args.runner}": stage[mode][-1] for mode in args.modes})
    goal = target(corpus.text_bytes)
    p_sec = statistics.median(p.seconds for p in peer)
    rows = [Row(f"{'1.' if first else '  '} {size}, {corpus.documents:,} docs: peer (regex + Python sets, "
                f"_naive_contamination.py), whole process, median of {args.repeats}",
                f"{rate(corpus.text_bytes, p_sec)}; peak RSS {mib(max(p.peak_rss for p in peer))}")]
    for mode in args.modes:
        ratios = sorted(p.seconds / s.seconds for p, s in zip(peer, stage[mode], strict=True))
        mid = statistics.median(ratios)
        s_sec = statistics.median(s.seconds for s in stage[mode])
        peak = max(s.memory.root_peak for s in stage[mode] if s.memory)  # the driver; Ray's workers: figure 2
        rows.append(Row(f"   {size}: webtext-build contamination --mode {mode} --runner {args.runner}, whole process",
                        f"{rate(corpus.text_bytes, s_sec)}; peak RSS {mib(peak)}"))
        rows.append(Row(f"   {size}, {mode}: peer seconds / stage seconds, same round ({args.repeats} rounds)",
                        f"{mid:.2f}x (rounds {ratios[0]:.2f}x-{ratios[-1]:.2f}x)", f">= {goal:.0f}x",
                        verdict(mid >= goal)))
        last = stage[mode][-1]
        rows.append(Row(f"   {size}, {mode}: passes of the last round (manifests' wall_seconds)",
                        ", ".join(f"{k} {v:.2f} s" for k, v in last.passes.items())))
    return rows


def figure_scaling(args: argparse.Namespace, corpus: Corpus, warm: Corpus, runs: dict[str, Run]) -> list[Row]:
    import ray

    from webtext.runner import LocalRunner
    from webtext.runner.ray_runner import RayRunner, init_ray

    for mode in ("exact", "bloom"):
        if f"{mode}-local" not in runs:
            runs[f"{mode}-local"] = run_cli(corpus, args, mode, "local")
        runs[f"{mode}-ray"] = run_cli(corpus, args, mode, "ray")

    local = LocalRunner()
    run_inprocess(warm.folder, args, "bloom", local, "warmup-local")
    warm_runs = {f"{mode}-local": run_inprocess(corpus.folder, args, mode, local, f"{mode}-local")
                 for mode in ("exact", "bloom")}
    log.info("starting Ray (num_cpus=2, no dashboard) and warming it up; not timed")
    start = time.perf_counter()
    started = init_ray(num_cpus=2, dashboard=False)
    ray_runner = RayRunner(num_cpus=2, dashboard=False)
    try:
        run_inprocess(warm.folder, args, "bloom", ray_runner, "warmup-ray")
        startup = time.perf_counter() - start
        for mode in ("exact", "bloom"):
            warm_runs[f"{mode}-ray"] = run_inprocess(corpus.folder, args, mode, ray_runner, f"{mode}-ray")
    finally:
        ray_runner.close()
        if started:
            ray.shutdown()

    rows: list[Row] = []
    for mode in ("exact", "bloom"):
        lo, ra = runs[f"{mode}-local"], runs[f"{mode}-ray"]
        first = "2." if not rows else "  "
        rows.append(Row(f"{first} {mode} mode, CLI, whole process: 2 Ray workers vs 1 local worker",
                        f"{lo.seconds / ra.seconds:.2f}x ({ra.seconds:.1f} s vs {lo.seconds:.1f} s)"))
        for p in [p for p in ("scan", "bloom") if p in lo.passes]:
            note = " (Ray start-up inside)" if p == "scan" else ""
            rows.append(Row(f"   {mode} mode, CLI, {p} pass{note}",
                            f"{lo.passes[p] / ra.passes[p]:.2f}x ({ra.passes[p]:.2f} s vs {lo.passes[p]:.2f} s)"))
        rows += memory_rows(ra, f"{mode} mode, Ray")
    for mode in ("exact", "bloom"):
        lo, ra = warm_runs[f"{mode}-local"], warm_runs[f"{mode}-ray"]
        for p in [p for p in ("scan", "bloom") if p in lo.passes]:
            s = lo.passes[p] / ra.passes[p]
            rows.append(Row(f"   {mode} mode, in-process, Ray warm: {p} pass, 2 workers vs 1",
                            f"{s:.2f}x ({ra.passes[p]:.2f} s vs {lo.passes[p]:.2f} s; "
                            f"{ra.mbps(p) / 2:,.1f} MB/s per worker)",
                            f">= {TARGET_SPEEDUP}x", verdict(s >= TARGET_SPEEDUP)))
        rows.append(Row(f"   {mode} mode, in-process, Ray warm: whole run",
                        f"{lo.seconds / ra.seconds:.2f}x ({ra.seconds:.1f} s vs {lo.seconds:.1f} s)"))
    rows.append(Row("   Ray start-up + warm-up (in-process, excluded above)", f"{startup:.1f} s"))
    return rows


# ---------------------------------------------------------------------------------------------


def megabytes(text: str) -> int:
    """``24MB``, ``200MB``, ``1GB`` -> MB of text (10**6 bytes)."""
    m = SIZE.fullmatch(text.strip())
    if m is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give sizes like 24MB, 200MB, 1GB")
    return round(float(m.group(1)) * (1000 if m.group(2).upper() == "GB" else 1))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="24MB,200MB",
                        help="comma-separated corpus sizes, MB or GB of text (default 24MB,200MB)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated rounds per size (default 3)")
    parser.add_argument("--modes", default="bloom,exact", help="stage modes measured (default bloom,exact)")
    parser.add_argument("--runner", choices=("local", "ray"), default="local",
                        help="the stage's --runner in figure 1 (default local)")
    parser.add_argument("--shards", type=int, default=4, help="Parquet files of each corpus (default 4)")
    parser.add_argument("--bloom-parts", type=int, default=None,
                        help="--bloom-parts of the stage (default: the stage's own default)")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out" / "contamination",
                        help="cached corpora and scratch outputs (default benchmarks/out/contamination/)")
    parser.add_argument("--parts", default="throughput",
                        help=f"comma-separated figures to measure, of {','.join(PARTS)} (default: throughput)")
    parser.add_argument("--keep", action="store_true", help="keep the stage's output folders")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the stage's own logging")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({megabytes(x) for x in args.size.split(",") if x.strip()})
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - {"bloom", "exact"}:
        parser.error("--modes: bloom, exact or both")
    args.parts = check_parts(parser, args.parts, PARTS)
    if not args.sizes or min(args.sizes) < 1 or args.shards < 1 or args.repeats < 1:
        parser.error("--size, --shards and --repeats must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = begin(args, log)

    corpora = [cached_corpus(DATA, args.workdir, mb, args.shards) for mb in args.sizes]
    runs: dict[str, Run] = {}  # of the largest corpus, reused by the figures after the first
    figures: dict[str, list[Row]] = {}
    # Ray last: no Ray process is alive during the 1-worker runs and the memory child.
    if "throughput" in args.parts:
        figures["throughput"] = []
        for corpus in corpora:
            runs.clear()
            figures["throughput"] += figure_throughput(args, corpus, runs, first=not figures["throughput"])
        if args.runner != "local":
            runs.clear()
    corpus = corpora[-1]
    if "memory" in args.parts:
        if "bloom-local" not in runs:
            runs["bloom-local"] = run_cli(corpus, args, "bloom", "local")
        bloom = runs["bloom-local"].bloom
        assert bloom is not None
        figures["memory"] = figure_memory(corpus, bloom)
    if "scaling" in args.parts:
        warm = cached_corpus(DATA, args.workdir, 1, args.shards)
        figures["scaling"] = figure_scaling(args, corpus, warm, runs)
    rows = [row for part in PARTS for row in figures.get(part, [])]

    sizes = ", ".join(f"{c.text_bytes / MB:,.0f} MB ({c.documents:,} documents)" for c in corpora)
    header = (
        f"webtext contamination benchmark: {sizes} of real-sentence text in {args.shards} shards each, {NGRAM}-grams, "
        f"benchmarks {' + '.join(BENCHMARKS)}; peer: _naive_contamination.py; {args.repeats} alternated rounds; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
