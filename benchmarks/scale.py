"""The full WebText recipe's cost, on paper, from each stage's measured per-core throughput.

``--measure`` runs every corpus-sized stage once, whole (its CLI, ``--runner local``, one worker),
on a small real input built by that stage's own benchmark (``benchmarks/<stage>.py`` and its
``_*_corpus.py``), and writes ``benchmarks/results/scale.json``: per stage the records and bytes in
and out, the process tree's CPU seconds, the tasks' seconds from the stage's manifests (the
single-task passes apart), and the tree's peak memory; plus the per-host URL distribution of the
``urls`` stage's output on the real score >= 3 URL lists of 2005-06 .. 2007-12 in the shared data.
Without ``--measure`` the script only reads that JSON and prints the projection (fast).

The projection (``project``) scales each stage to the recipe's size (``RECIPE``, every constant
with its source): core-hours, wall time on 1, 8 and 64 nodes of 32 cores, disk written, peak memory
per task, and the stage that limits scaling. Wall time is the parallel work over the cores the
stage can use, plus its single-task passes (which no node count shortens), and never below a
floor that cores do not move: for ``crawl`` the largest host's pages times the per-host delay.
``train`` is GPU-bound and left out of the CPU table; a note converts a measured GPU rate.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
RESULTS = HERE / "results" / "scale.json"
NODE_COUNTS = (1, 8, 64)
CORES_PER_NODE = 32

log = logging.getLogger("benchmarks.scale")

# The recipe's sizes. GPT-2 = Radford et al. 2019, "Language Models are Unsupervised Multitask
# Learners", section 2.1.
RECIPE: dict[str, Any] = {
    # Baumgartner et al. 2020, "The Pushshift Reddit Dataset" (arXiv:2001.08435): 651,778,198
    # submissions up to April 2019 -- an upper bound for GPT-2's dumps, which end in Dec 2017.
    "submissions": 651_778_198,
    # Monthly RS_YYYY-MM dumps June 2005 .. Dec 2017 (GPT-2: no links created after Dec 2017):
    # 7 + 12 x 12 = 151 files, each one zstd stream read by one task.
    "dump_files": 151,
    # GPT-2: "the text subset of these 45 million links". Every URL is fetched once.
    "urls": 45_000_000,
    # GPT-2: "slightly over 8 million documents for a total of 40 GB of text" (after de-duplication
    # and heuristic cleaning).
    "documents": 8_000_000,
    "text_bytes": 40 * 10**9,
    # The crawl's own default (webtext/crawl/config.py: ``delay``, randomised 0.5-1.5x, mean 1 s)
    # with one request at a time per host (``concurrency_per_host`` 1).
    "crawl_delay_s": 1.0,
    "sources": {
        "submissions": "Pushshift paper (Baumgartner et al. 2020): 651,778,198 submissions to Apr 2019 (upper bound)",
        "dump_files": "monthly Pushshift RS dumps 2005-06 .. 2017-12 = 151 files",
        "urls": "GPT-2 paper sec. 2.1: 45 million links",
        "documents": "GPT-2 paper sec. 2.1: slightly over 8 million documents",
        "text_bytes": "GPT-2 paper sec. 2.1: 40 GB of text",
        "crawl_delay_s": "webtext crawl default delay 1 s per host, 1 request at a time",
    },
}


# ---------------------------------------------------------------------------------------------
# The projection: pure arithmetic over the measurement dict (tested without timing)


@dataclass(frozen=True)
class Projection:
    """One stage at the recipe's size."""

    stage: str
    unit: str  # what the stage's work scales with
    units: float  # how many of them in the recipe
    core_hours: float
    wall_hours: dict[int, float]  # nodes -> hours
    disk_bytes: float
    peak_memory: float  # bytes per task, as measured (shard-bounded tasks)
    corpus_task_memory: float | None  # projected bytes of a task that holds a whole-corpus structure
    limit: str  # what bounds its wall time at the largest node count


def recipe_units(stage: str, measured: dict[str, Any], recipe: dict[str, Any]) -> tuple[str, float]:
    """The unit a stage's cost scales with and the recipe's count of it. Stages before dedup scale
    with the 45M URLs (every URL fetched and extracted: the paper gives no count before dedup, so
    this is an upper bound); dedup reads what extract keeps of them (extract's measured text bytes
    per page); contamination and tokenize read the paper's 40 GB."""
    if stage == "urls":
        return "submissions", recipe["submissions"]
    if stage in ("crawl", "extract"):
        return "pages", recipe["urls"]
    if stage == "dedup":
        ext = measured["extract"]
        return "text bytes", recipe["urls"] * ext["bytes_text_out"] / ext["records_in"]
    return "text bytes", recipe["text_bytes"]


def measured_units(stage: str, m: dict[str, Any]) -> float:
    return m["bytes_text_in"] if stage in ("dedup", "contamination", "tokenize") else m["records_in"]


def crawl_floor_hours(hosts: dict[str, Any], recipe: dict[str, Any]) -> tuple[float, float]:
    """(pages of the largest host at the recipe's size, hours they take at one request per delay).
    The largest host's share of the measured URL list is assumed to hold at 45M URLs."""
    pages = recipe["urls"] * hosts["largest_host_urls"] / hosts["urls"]
    return pages, pages * recipe["crawl_delay_s"] / 3600


def project(measured: dict[str, Any], hosts: dict[str, Any], recipe: dict[str, Any] = RECIPE,
            nodes: tuple[int, ...] = NODE_COUNTS, cores_per_node: int = CORES_PER_NODE) -> list[Projection]:
    """Every measured stage at the recipe's size.

    Per stage ``m`` holds ``cpu_s`` (its process tree's CPU seconds), ``wall_s``, ``task_s`` (the
    manifests' task seconds, all passes) and ``serial_s`` (those of single-task passes that see the
    whole corpus). The CPU seconds that belong to the tasks are ``cpu_s * task_s / wall_s`` (the
    interpreter's start-up is a fixed cost per worker, not per record); the serial share of them
    runs on one core whatever the node count."""
    out = []
    for stage, m in measured.items():
        unit, units = recipe_units(stage, measured, recipe)
        scale = units / measured_units(stage, m)
        busy = m["cpu_s"] / m["wall_s"]  # cores the stage's tree kept busy (extract's child: > 1)
        work_core_s = busy * m["task_s"] * scale
        serial_wall_s = m["serial_s"] * scale
        parallel_core_s = busy * (m["task_s"] - m["serial_s"]) * scale
        floor_h, floor_why = 0.0, ""
        if stage == "crawl":
            pages, floor_h = crawl_floor_hours(hosts, recipe)
            floor_why = (f"politeness: largest host {pages:,.0f} pages x {recipe['crawl_delay_s']:g} s "
                         f"(share {hosts['largest_host_urls'] / hosts['urls']:.2%} of the measured URL list)")
        max_tasks = recipe["dump_files"] if stage == "urls" else None
        wall: dict[int, float] = {}
        limit = ""
        for n in nodes:
            cores = n * cores_per_node if max_tasks is None else min(n * cores_per_node, max_tasks)
            compute_h = (parallel_core_s / cores + serial_wall_s) / 3600
            wall[n] = max(compute_h, floor_h)
            if floor_h >= compute_h:
                limit = floor_why
            elif serial_wall_s > parallel_core_s / cores:
                passes = ", ".join(m["serial_passes"])
                limit = f"single-task pass(es) {passes}: {serial_wall_s / 3600:.2f} h on one core"
            elif max_tasks is not None and cores < n * cores_per_node:
                limit = f"{max_tasks} dump files = at most {max_tasks} parallel tasks"
            else:
                limit = "cores (scales with nodes)"
        corpus_mem = None
        if m.get("corpus_bytes_per_unit"):
            corpus_mem = m["corpus_bytes_per_unit"] * units
        out.append(Projection(stage, unit, units, work_core_s / 3600, wall, m["bytes_out"] * scale,
                              m["peak_memory"], corpus_mem, limit))
    return out


def limiting_stage(projections: list[Projection], nodes: int = NODE_COUNTS[-1]) -> Projection:
    """The stage with the longest wall time on ``nodes`` nodes."""
    return max(projections, key=lambda p: p.wall_hours[nodes])


# ---------------------------------------------------------------------------------------------
# Printing


def human_hours(h: float) -> str:
    if h < 1 / 60:
        return f"{h * 3600:.0f} s"
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} d"


def human_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"


def table(projections: list[Projection], nodes: tuple[int, ...] = NODE_COUNTS) -> str:
    head = ["stage", "scales with", "core-hours", *(f"wall, {n} x {CORES_PER_NODE}" for n in nodes),
            "disk written", "peak RSS / task", "bound at 64 nodes"]
    rows = [head, ["---"] * len(head)]
    for p in projections:
        mem = f"{p.peak_memory / 2**20:,.0f} MiB"
        if p.corpus_task_memory is not None:
            mem += f" (corpus-wide task: {human_bytes(p.corpus_task_memory)})"
        rows.append([p.stage, f"{p.units:,.3g} {p.unit}", f"{p.core_hours:,.0f}",
                     *(human_hours(p.wall_hours[n]) for n in nodes), human_bytes(p.disk_bytes), mem, p.limit])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def report(results: dict[str, Any], recipe: dict[str, Any] = RECIPE) -> str:
    measured, hosts = results["stages"], results["hosts"]
    projections = project(measured, hosts, recipe)
    worst = limiting_stage(projections)
    total_core_h = sum(p.core_hours for p in projections)
    lines = [
        f"WebText recipe on paper, from measurements of {results['date']} on {results['machine']}",
        "",
        table(projections),
        "",
        f"Total: {total_core_h:,.0f} core-hours, {human_bytes(sum(p.disk_bytes for p in projections))} written. "
        f"Limiting stage at {NODE_COUNTS[-1]} nodes: **{worst.stage}** "
        f"({human_hours(worst.wall_hours[NODE_COUNTS[-1]])}): {worst.limit}.",
        "",
        "Measured per stage (one worker, whole stage, --runner local):",
    ]
    for stage, m in measured.items():
        per = m["records_in"] / (m["cpu_s"] * m["task_s"] / m["wall_s"])
        lines.append(f"- {stage}: {m['input']}; {m['records_in']:,} records in, {m['records_out']:,} out; "
                     f"{per:,.1f} records per core-second; {m['bytes_in'] / m['records_in']:,.0f} B/record in, "
                     f"{m['bytes_out'] / m['records_in']:,.0f} B/record written; wall {m['wall_s']:.1f} s, "
                     f"tasks {m['task_s']:.1f} s (single-task passes {m['serial_s']:.2f} s), CPU {m['cpu_s']:.1f} s")
    lines.append(f"- hosts: the urls stage on {hosts['input']}: {hosts['urls']:,} URLs on {hosts['hosts']:,} hosts; "
                 f"largest {hosts['largest_host']} with {hosts['largest_host_urls']:,} "
                 f"({hosts['largest_host_urls'] / hosts['urls']:.2%}); scaled to 45M URLs at that share")
    lines += ["", "Recipe constants:"] + [f"- {k} = {recipe[k]:,}: {v}" for k, v in recipe["sources"].items()]
    tok = measured.get("tokenize")
    gpu = results.get("gpu_train")
    if tok and gpu:
        tokens = recipe["text_bytes"] * tok["tokens"] / tok["bytes_text_in"]
        lines += ["", f"train (not in the CPU table: GPU-bound): 40 GB = {tokens / 1e9:,.1f}B tokens at the measured "
                      f"{tok['bytes_text_in'] / tok['tokens']:.2f} bytes/token; one epoch of GPT-2 124M at "
                      f"{gpu['tokens_per_s']:,} tokens/s ({gpu['source']}) = "
                      f"{tokens / gpu['tokens_per_s'] / 3600:,.1f} GPU-hours. eval and memorization read the "
                      f"benchmarks and a sample of documents, not the corpus: their cost does not grow with it."]
    lines += ["", "Not modelled: network bandwidth and DNS/robots.txt latency of a real crawl (the loopback crawl "
                  "measures CPU only), object-storage throughput, Ray scheduling overhead."]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Measurement (imports the stage benchmarks' input builders; only with --measure). A ``tag`` names
# one run's output folder, ``runs/<stage><tag>`` (benchmarks/growth.py runs each stage at several sizes).


def tree_cpu_seconds(memory: Any) -> float:
    """CPU seconds of every process of a timed child's tree (``_report.TreeMemory``)."""
    return sum(memory.ticks.values()) / os.sysconf("SC_CLK_TCK")


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def manifests(folder: Path) -> list[dict[str, Any]]:
    """Every pass's manifest under a stage's output folder."""
    return [json.loads(p.read_text()) for p in sorted(folder.rglob("_manifest.json"))]


def task_seconds(folder: Path, serial: tuple[str, ...]) -> tuple[float, float, list[str]]:
    """(all tasks' seconds, those of the named single-task passes, their names) from the manifests."""
    total = serial_s = 0.0
    names = []
    for m in manifests(folder):
        seconds = sum(float(s.get("seconds", 0.0)) for s in m["shards"])
        total += seconds
        if m["stage"] in serial:
            serial_s += seconds
            names.append(m["stage"])
    return total, serial_s, names


def run_measured(cmd: list[str], out: Path, serial: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run a stage's command line to completion; its time, CPU, memory and output size.
    ``peak_memory`` is the tree's (every process at once); ``process_peak_memory`` the largest
    single process's VmHWM (with ``--runner local`` the stage process that runs every task, or
    extract's watchdog child)."""
    from _report import timed_child

    log.info("%s", " ".join(cmd[3:]))
    seconds, memory = timed_child(cmd, out.parent / f"{out.name}.log")
    task_s, serial_s, names = task_seconds(out, serial)
    return {"wall_s": round(seconds, 3), "cpu_s": round(tree_cpu_seconds(memory), 3), "task_s": round(task_s, 3),
            "serial_s": round(serial_s, 3), "serial_passes": names, "peak_memory": memory.peak_sum,
            "process_peak_memory": max(memory.hwm.values(), default=0), "bytes_out": folder_bytes(out)}


def cli(*args: str, runner: bool = True) -> list[str]:
    """``webtext-build ARGS --runner local`` (``runner=False``: for the stages without a runner, train and eval)."""
    # -P: the benchmarks folder is not put on sys.path inside the stage
    return [sys.executable, "-P", "-m", "webtext.cli", "-q", *args, *(("--runner", "local") if runner else ())]


def parquet_rows_and_text(folder: Path) -> tuple[int, int]:
    """(rows, UTF-8 bytes of ``text``) of a docs dataset's main table."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rows = nbytes = 0
    for f in sorted(folder.glob("part-*.parquet")):
        t = pq.read_table(f, columns=["text"])
        rows += t.num_rows
        nbytes += int(pc.sum(pc.binary_length(t["text"].cast("binary"))).as_py() or 0)
    return rows, nbytes


def measure_urls(work: Path, records: int, tag: str = "") -> dict[str, Any]:
    from urls import ensure_dump

    dump = ensure_dump(work / "urls", records, seed=0, long_window=False)
    out = work / "runs" / f"urls{tag}"
    m = run_measured(cli("urls", str(dump), "--out", str(out)), out)
    kept = json.loads((out / "_manifest.json").read_text())["stats"]["kept"]
    return {**m, "input": f"generated Pushshift-format dump ({records:,} records, benchmarks/urls.py)",
            "records_in": records, "records_out": int(kept), "bytes_in": dump.stat().st_size}


def measure_crawl(work: Path, pages: int, n_hosts: int, tag: str = "", partitions: int | None = None
                  ) -> dict[str, Any]:
    """``partitions``: the stage's ``--partitions`` (default: its own, 8); each is one crawl process."""
    from crawl import LoopbackWeb, make_urls, pick_hosts, stored_pages

    hosts = pick_hosts(n_hosts)
    out = work / "runs" / f"crawl{tag}"
    with LoopbackWeb(hosts) as web:
        urls_file = work / f"crawl-urls{tag}.txt"
        urls_file.write_text("\n".join(make_urls(hosts, web.port, pages)) + "\n")
        m = run_measured(cli("crawl", str(urls_file), "--out", str(out), "--allow-network", "127.0.0.0/8",
                             "--concurrency", "32", "--concurrency-per-host", "1", "--delay", "0",
                             "--no-autothrottle", *(("--partitions", str(partitions)) if partitions else ())), out)
    split = f", {partitions} partitions" if partitions else ""
    return {**m, "input": f"{pages:,} pages of 20-60 KB on {n_hosts} loopback hosts{split}, delay 0 "
                          "(benchmarks/crawl.py)",
            "records_in": pages, "records_out": stored_pages(out), "bytes_in": urls_file.stat().st_size}


def measure_extract(work: Path, pages: int, tag: str = "", copies: int = 1) -> dict[str, Any]:
    """``pages`` real pages in one WARC file; ``copies`` > 1: that page set repeated ``copies`` times
    in the same file (``?copy=N`` added to the URLs), so a larger input has the same page mix."""
    from extract import load_pages, packed

    base = load_pages(DATA, pages)
    repeated = {f"{url}?copy={i}" if i else url: body for i in range(copies) for url, body in base.items()}
    warcs = packed(repeated, work / f"extract-warcs{tag}", files=1)
    out = work / "runs" / f"extract{tag}"
    m = run_measured(cli("extract", str(warcs), "--out", str(out)), out)
    rows, text = parquet_rows_and_text(out)
    copied = f", repeated {copies} times" if copies > 1 else ""
    return {**m, "input": f"{pages} real pages{copied} (article-extraction-benchmark + trafilatura-eval) in 1 WARC "
                          "(benchmarks/extract.py)",
            "records_in": pages * copies, "records_out": rows, "bytes_text_out": text,
            "bytes_in": sum(f.stat().st_size for f in warcs.glob("*.warc.gz"))}


def measure_dedup(work: Path, docs: int, tag: str = "") -> dict[str, Any]:
    from _dedup_corpus import cached_corpus

    corpus = cached_corpus(work / "dedup", docs, 1, DATA)
    out = work / "runs" / f"dedup{tag}"
    m = run_measured(cli("dedup", str(corpus.folder), "--out", str(out)), out, serial=("dedup.clusters",))
    rows, _ = parquet_rows_and_text(out)
    _, text_in = parquet_rows_and_text(corpus.folder)
    return {**m, "input": f"{docs:,} documents of real sentences, 10% planted copies (benchmarks/_dedup_corpus.py)",
            "records_in": corpus.documents, "records_out": rows, "bytes_text_in": text_in,
            "bytes_in": sum(f.stat().st_size for f in corpus.files)}


def measure_contamination(work: Path, megabytes: int, tag: str = "") -> dict[str, Any]:
    from _contamination_corpus import cached_corpus
    from contamination import bench_args

    corpus = cached_corpus(DATA, work / "contamination", megabytes, 2)
    out = work / "runs" / f"contamination{tag}"
    # The report task merges the Bloom slices of the whole corpus: a single-task pass.
    m = run_measured(cli("contamination", str(corpus.folder), *bench_args(), "--mode", "bloom", "--out", str(out)),
                     out, serial=("contamination",))
    bloom = json.loads((out / "report.json").read_text())["bloom"]
    return {**m, "input": f"{megabytes} MB of real-sentence documents, WikiText-2 + PTB test "
                          "(benchmarks/_contamination_corpus.py)",
            "records_in": corpus.documents, "records_out": corpus.documents, "bytes_text_in": corpus.text_bytes,
            "bytes_in": sum(f.stat().st_size for f in corpus.files),
            # The report task holds the whole Bloom filter (fp 1e-8): its bytes per text byte.
            "corpus_bytes_per_unit": bloom["bytes"] / corpus.text_bytes}


def measure_tokenize(work: Path, megabytes: int, tag: str = "") -> dict[str, Any]:
    from _tokenize_corpus import cached_corpus

    corpus = cached_corpus(DATA, work / "tokenize", megabytes * 10**6, 2, 1)
    out = work / "runs" / f"tokenize{tag}"
    m = run_measured(cli("tokenize", str(corpus.folder), "--tokenizer", str(DATA / "gpt2-bpe"), "--out", str(out)),
                     out)
    stats = json.loads((out / "_manifest.json").read_text())["stats"]
    tokens = int(stats["train_tokens"]) + int(stats["val_tokens"])
    return {**m, "input": f"{megabytes} MB of real paragraphs, GPT-2's BPE (benchmarks/_tokenize_corpus.py)",
            "records_in": corpus.documents, "records_out": corpus.documents, "bytes_text_in": corpus.total_bytes,
            "bytes_in": sum(f.stat().st_size for f in corpus.files), "tokens": tokens}


def measure_hosts(work: Path) -> dict[str, Any]:
    """Per-host URL counts of the ``urls`` stage's output on the real score >= 3 URL lists."""
    import pyarrow.parquet as pq

    from webtext.crawl.urls import url_host

    lists = sorted((DATA / "reddit-webtext-urls").glob("RS_v2_*.urk.json-00.gz"))
    out = work / "runs" / "hosts"
    run_measured(cli("urls", *map(str, lists), "--out", str(out)), out)
    urls = pq.read_table(sorted(out.glob("part-*.parquet")), columns=["url"])["url"].to_pylist()
    counts = Counter(url_host(u) for u in urls)
    (host, top), = counts.most_common(1)
    return {"input": f"{len(lists)} real score>=3 URL lists 2005-06..2007-12 (shared data/reddit-webtext-urls)",
            "urls": len(urls), "hosts": len(counts), "largest_host": host, "largest_host_urls": top,
            "top10": counts.most_common(10)}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import shutil

    sys.path.insert(0, str(HERE))  # the stage benchmarks' input builders
    work = args.workdir.resolve()
    shutil.rmtree(work / "runs", ignore_errors=True)
    (work / "runs").mkdir(parents=True)
    started = time.perf_counter()
    stages = {
        "urls": measure_urls(work, args.records),
        "crawl": measure_crawl(work, args.pages, 50),
        "extract": measure_extract(work, args.extract_pages),
        "dedup": measure_dedup(work, args.docs),
        "contamination": measure_contamination(work, args.megabytes),
        "tokenize": measure_tokenize(work, args.tokenize_mb),
    }
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores ({model}), shared, Python {platform.python_version()}",
        "seconds": round(time.perf_counter() - started, 1),
        "stages": stages,
        "hosts": measure_hosts(work),
        # Not re-measured here (needs a GPU): README "Reference numbers", benchmarks/gpu_train.sh.
        "gpu_train": {"tokens_per_s": 495_375,
                      "source": "benchmarks/gpu_train.sh on one H200, GPT-2 124M, micro-batch 64, 2026-12-04"},
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--measure", action="store_true",
                        help="re-measure every stage (a few minutes) and save the JSON")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"the measurements (default {RESULTS})")
    parser.add_argument("--records", type=int, default=200_000, help="urls: dump records (default 200,000)")
    parser.add_argument("--pages", type=int, default=600, help="crawl: loopback pages (default 600)")
    parser.add_argument("--extract-pages", type=int, default=200, help="extract: real pages (default 200)")
    parser.add_argument("--docs", type=int, default=5_000, help="dedup: documents (default 5,000)")
    parser.add_argument("--megabytes", type=int, default=20, help="contamination: MB of text (default 20)")
    parser.add_argument("--tokenize-mb", type=int, default=10, help="tokenize: MB of text (default 10)")
    parser.add_argument("--workdir", type=Path, default=HERE / "out" / "scale", help="inputs and runs (git-ignored)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(HERE))
    from _report import saved_report, setup, warn_if_busy

    if args.measure:
        setup(False)
        warn_if_busy(log)
    return saved_report(args.json, measure(args) if args.measure else None, report,
                        "python benchmarks/scale.py --measure", log)


if __name__ == "__main__":
    sys.exit(main())
