"""Benchmark of the ``contamination`` stage (GPT-2's 8-gram overlap) on >= 200 MB of real-sentence text.

Corpus: ``--megabytes`` MB (10**6 bytes of UTF-8 text; default 200) of ~3-5 KB documents drawn from
the real text in ``../shared/data`` (see ``_contamination_corpus.py``), in ``--shards`` Parquet
files (default 4), built once and cached under ``--workdir`` (default
``benchmarks/out/contamination``, git-ignored). Benchmarks: WikiText-2 test and PTB test (one
example per non-empty line), as ``--benchmark wikitext2=... --benchmark ptb=...``.

The **baseline** is GPT-2's method written plainly, in this process, on a ``--baseline-mb``
subsample (default 25 MB: the first documents of the first shard, already in memory, so reading
Parquet is not counted): for each document ``re.findall(r"[a-z0-9]+", text.lower())``, its 8-gram
strings (words joined by single spaces), each looked up in a Python ``set`` of the benchmark
8-gram strings (hits counted) and added to a Python ``set`` of the corpus n-grams (GPT-2 built a
set / Bloom filter of the corpus n-grams). ``shared/PEERS.md`` measured ~11-13 MB/s for it on an
idle machine. Figures, all measured in the same run:

1. **Corpus MB/s per worker** (local runner: one process, shards one after another), exact and
   Bloom mode, of ``webtext-build contamination ... --runner local`` as a child process: text bytes
   / wall time of the whole process (interpreter start, imports, benchmark loading and the report
   included), and per pass from the manifests' ``wall_seconds`` (``hits/``: the scan, done in both
   modes; ``bloom/``: building the corpus filters, Bloom mode). Ratios against the baseline;
   target >= 3x, aim 5x. Shown beside them: webtext's compiled kernels called in this process on the
   baseline's subsample (``hash_texts`` + the table scan; ``hash_texts`` + ``BloomFilter.add``) --
   the ceiling of a worker -- and whether their hit count equals the baseline's.
2. **Scaling, 2 Ray workers** against the local runner (1 worker): the same CLI runs with
   ``--runner ray --num-cpus 2 --no-dashboard`` (Ray's start-up, inside the first pass, included),
   ratios of the whole process and of each pass; then ``run_contamination`` in this process with a
   ``RayRunner(num_cpus=2)`` started and warmed up first (a tiny run, not timed) against a
   ``LocalRunner``, ratios of each pass's ``wall_seconds``. Target: >= 1.7x on 2 cores (warm).
3. **Bloom filter memory** -- a child process hashes every corpus n-gram (the stage's batches),
   then builds ``BloomFilter.empty(m, k, 8)`` with the m, k the Bloom run chose and adds them all,
   allocating nothing else meanwhile; the filter's resident memory is the growth of ``VmRSS``
   (after the adds minus right before allocating), against the theoretical m/8 bytes. Target:
   within 5%. Also printed: the peak growth while building it (``VmHWM``, reset first), the
   filter's own pages in RAM (``/proc/self/pagemap``), and the peak RSS (``VmHWM``, sampled) of
   every webtext run's processes.

Every stage run writes into a fresh folder (the stage skips work already done), removed afterwards
unless ``--keep``. The machine has 2 cores: the warning at the start says when it was already busy.

    python benchmarks/contamination.py            # 200 MB corpus, 25 MB baseline subsample
    python benchmarks/contamination.py --quick    # smoke run: 30 MB corpus, 5 MB subsample
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
NGRAM = 8
TARGET_RATIO, AIM_RATIO = 3.0, 5.0  # stage MB/s per worker / baseline MB/s
TARGET_SPEEDUP = 1.7  # 2 Ray workers / 1 local worker, warm
TARGET_MEMORY = 5.0  # percent, |resident - m/8| / (m/8)
WARMUP_DOCS = 64
PARTS = ("throughput", "scaling", "memory")
WORD = re.compile(r"[a-z0-9]+")
MB = 1e6


def rate(nbytes: int, seconds: float) -> str:
    return f"{nbytes / MB / seconds:,.1f} MB/s ({seconds:.2f} s)"


# ---------------------------------------------------------------------------------------------
# The baseline and webtext's kernels, in this process


def subsample(corpus: Corpus, megabytes: float) -> list[str]:
    """The first documents of the corpus, ``megabytes`` MB of text in all."""
    import pyarrow.parquet as pq

    texts: list[str] = []
    size = 0
    for path in corpus.files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024, columns=["text"]):
            for text in batch.column("text").to_pylist():
                texts.append(text)
                size += len(text.encode())
                if size >= megabytes * MB:
                    return texts
    return texts


def naive_benchmark_grams() -> set[str]:
    grams: set[str] = set()
    for path in BENCHMARKS.values():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                w = WORD.findall(line.lower())
                grams.update(" ".join(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1))
    return grams


def naive(texts: list[str], bench: set[str]) -> tuple[float, int, int]:
    """The baseline over ``texts``: (seconds, benchmark hits, distinct corpus n-grams)."""
    findall = WORD.findall
    seen: set[str] = set()
    hits = 0
    start = time.perf_counter()
    for text in texts:
        w = findall(text.lower())
        grams = [" ".join(w[i:i + NGRAM]) for i in range(len(w) - NGRAM + 1)]
        hits += sum(1 for g in grams if g in bench)
        seen.update(grams)
    return time.perf_counter() - start, hits, len(seen)


def kernels(texts: list[str]) -> tuple[float, int, float]:
    """webtext's kernels over ``texts`` in this process, as a worker calls them (compiled code loaded
    first, not timed): (seconds of hash_texts + the table scan, n-gram occurrences found in any
    benchmark -- counted afterwards, untimed, to compare with the baseline --, seconds of
    hash_texts + BloomFilter.add)."""
    import numpy as np

    from webtext.contamination.benchmarks import load_benchmark
    from webtext.contamination.bloom import BloomFilter, bloom_size
    from webtext.contamination.kernels import scan_documents, table_lookup
    from webtext.contamination.ngrams import hash_texts
    from webtext.contamination.table import benchmark_ngrams, build_table

    table = build_table(benchmark_ngrams([load_benchmark(f"{n}={p}", "--benchmark") for n, p in BENCHMARKS.items()],
                                         NGRAM))
    n_bench, slots = len(table.names), len(table.slots)
    batch = 2048  # the stage's default --batch-rows

    def scan(docs: list[str]) -> None:
        found, doc_freq = np.zeros(slots, dtype=np.bool_), np.zeros(slots, dtype=np.int64)
        last_doc = np.full(slots, -1, dtype=np.int64)
        for i in range(0, len(docs), batch):
            grams = hash_texts(docs[i:i + batch], NGRAM)
            hits = np.zeros((len(grams.counts), n_bench), dtype=np.int64)
            scan_documents(grams.hashes, grams.counts, table.slots, table.values, n_bench, i, found, doc_freq,
                           last_doc, hits)

    scan(texts[:WARMUP_DOCS])
    start = time.perf_counter()
    scan(texts)
    scan_seconds = time.perf_counter() - start
    found = sum(int((table_lookup(table.slots, hash_texts(texts[i:i + batch], NGRAM).hashes) >= 0).sum())
                for i in range(0, len(texts), batch))
    m, k = bloom_size(sum(len(t) for t in texts) // 5, 1e-8)  # ~6 bytes of text per n-gram here: sized generously
    bloom = BloomFilter.empty(m, k, NGRAM)
    bloom.add(hash_texts(texts[:WARMUP_DOCS], NGRAM).hashes)
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        bloom.add(hash_texts(texts[i:i + batch], NGRAM).hashes)
    return scan_seconds, found, time.perf_counter() - start


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


def run_cli(corpus: Corpus, args: argparse.Namespace, mode: str, runner: str) -> Run:
    """``webtext-build contamination`` as a child process, timed from start to exit."""
    with FreshOut(args.workdir, f"{mode}-{runner}", args.keep) as out:
        # -P: the working folder is not put on sys.path (a module there must not shadow the stdlib)
        cmd = [sys.executable, "-P", "-m", "webtext.cli", "-q", "contamination", str(corpus.folder), *bench_args(),
               "--mode", mode, "--out", str(out / "report"), "--runner", runner]
        if args.bloom_parts:
            cmd += ["--bloom-parts", str(args.bloom_parts)]
        if runner == "ray":
            cmd += ["--num-cpus", "2", "--no-dashboard"]
        log.info("%s mode, %s runner: %s", mode, runner, " ".join(cmd[cmd.index("--mode"):]))
        seconds, memory = timed_child(cmd, out / "cli.log", ray_kind)
        run = read_run(out / "report", seconds, memory)
    log.info("%s mode, %s runner: %.1f s in all (%s); %.1f MB/s", mode, runner, seconds,
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


def figure_throughput(args: argparse.Namespace, corpus: Corpus, runs: dict[str, Run]) -> list[Row]:
    texts = subsample(corpus, args.baseline_mb)
    sub_bytes = sum(len(t.encode()) for t in texts)
    bench = naive_benchmark_grams()
    naive(texts[:WARMUP_DOCS], bench)
    log.info("baseline: %d documents, %.1f MB, %d benchmark 8-grams...", len(texts), sub_bytes / MB, len(bench))
    b_sec, b_hits, b_seen = naive(texts, bench)
    base = sub_bytes / MB / b_sec
    log.info("baseline: %.2f s, %.1f MB/s, %d hits, %d distinct corpus 8-grams", b_sec, base, b_hits, b_seen)
    k_scan, k_hits, k_bloom = kernels(texts)
    log.info("kernels: scan %.2f s (%d hits), Bloom %.2f s", k_scan, k_hits, k_bloom)
    del texts
    gc.collect()

    runs["exact-local"] = exact = run_cli(corpus, args, "exact", "local")
    runs["bloom-local"] = bloom = run_cli(corpus, args, "bloom", "local")

    def ratio_row(label: str, mbps: float) -> Row:
        r = mbps / base
        return Row(f"   {label}: / baseline", f"{r:.2f}x", f">= {TARGET_RATIO:.0f}x",
                   verdict(r >= TARGET_RATIO) + (f" (aim {AIM_RATIO:.0f}x: met)" if r >= AIM_RATIO else ""))

    sub = f"{sub_bytes / MB:.0f} MB subsample"
    full = f"{exact.text_bytes / MB:.0f} MB"
    scan_and_bloom = bloom.passes["scan"] + bloom.passes["bloom"]
    return [
        Row(f"1. baseline: regex + Python sets of 8-gram strings, in-process, {sub}", rate(sub_bytes, b_sec)),
        Row(f"   webtext kernels in-process, {sub}: hash_texts + table scan", rate(sub_bytes, k_scan)),
        Row("   ... n-grams found in a benchmark, webtext vs baseline", f"{k_hits:,} vs {b_hits:,}", "equal",
            "PASS" if k_hits == b_hits else "MISMATCH"),
        Row(f"   webtext kernels in-process, {sub}: hash_texts + BloomFilter.add", rate(sub_bytes, k_bloom)),
        Row(f"   exact mode, 1 worker, {full}: whole process", rate(exact.text_bytes, exact.seconds)),
        ratio_row("exact, whole process", exact.mbps()),
        Row("   exact mode, 1 worker: scan pass alone (manifest)", rate(exact.text_bytes, exact.passes["scan"])),
        ratio_row("exact, scan pass", exact.mbps("scan")),
        Row(f"   bloom mode, 1 worker, {full}: whole process", rate(bloom.text_bytes, bloom.seconds)),
        ratio_row("bloom, whole process", bloom.mbps()),
        Row("   bloom mode, 1 worker: bloom pass alone (manifest)", rate(bloom.text_bytes, bloom.passes["bloom"])),
        ratio_row("bloom, bloom pass", bloom.mbps("bloom")),
        Row("   bloom mode, 1 worker: scan + bloom passes", rate(bloom.text_bytes, scan_and_bloom)),
        Row("   report pass (exact / bloom: merge filters, 1M random strings...)",
            f"{exact.passes['report']:.2f} s / {bloom.passes['report']:.2f} s"),
        *memory_rows(exact, "exact mode, local"),
        *memory_rows(bloom, "bloom mode, local"),
    ]


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=None, help="corpus size, MB of text (default 200; 30 --quick)")
    parser.add_argument("--shards", type=int, default=4, help="Parquet files of the corpus (default 4)")
    parser.add_argument("--baseline-mb", type=float, default=None,
                        help="MB of text the baseline and the in-process kernels run on (default 25; 5 --quick)")
    parser.add_argument("--bloom-parts", type=int, default=None,
                        help="--bloom-parts of the stage (default: the stage's own default)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 MB corpus, 5 MB baseline subsample")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out" / "contamination",
                        help="cached corpora and scratch outputs (default benchmarks/out/contamination/)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated figures to measure (default: {','.join(PARTS)})")
    parser.add_argument("--keep", action="store_true", help="keep the stage's output folders")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the stage's own logging")
    args = parser.parse_args(argv)
    if args.megabytes is None:
        args.megabytes = 30 if args.quick else 200
    if args.baseline_mb is None:
        args.baseline_mb = 5.0 if args.quick else 25.0
    args.parts = check_parts(parser, args.parts, PARTS)
    if args.megabytes < 1 or args.shards < 1 or args.baseline_mb <= 0:
        parser.error("--megabytes, --shards and --baseline-mb must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = begin(args, log)

    corpus = cached_corpus(DATA, args.workdir, args.megabytes, args.shards)
    runs: dict[str, Run] = {}
    figures: dict[str, list[Row]] = {}
    # Ray last: no Ray process is alive during the 1-worker runs and the memory child.
    if "throughput" in args.parts:
        figures["throughput"] = figure_throughput(args, corpus, runs)
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

    header = (
        f"webtext contamination benchmark: {corpus.text_bytes / MB:,.0f} MB of text, {corpus.documents:,} documents "
        f"in {len(corpus.files)} shards, {NGRAM}-grams, benchmarks {' + '.join(BENCHMARKS)}; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
