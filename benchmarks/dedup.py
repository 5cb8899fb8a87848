"""Benchmark of the ``dedup`` stage: MinHash signatures per worker against datasketch, and the whole
stage against datatrove's MinHash pipeline, on >= 50k real-text documents with planted duplicates.

Corpus (``benchmarks/_dedup_corpus.py``): ``--docs`` documents (default 50,000) of >= 300 words
and >= 3,000 bytes (~3.1 KB, ~560 words), each a seeded random draw of real sentences (WikiText-2,
PTB, Tiny Shakespeare, article-extraction-benchmark articles from ``../shared/data``), 10% of them
planted copies of others: exact (case/whitespace changed) and near (word edits at 0.5%-20%), true
Jaccard over word 5-gram shingles computed as ``../shared/checks/dedup_quality.py`` does. Written
once as 2 Parquet shards under ``--workdir`` (default ``benchmarks/out/dedup``, git-ignored).

Figures, all measured in one run:

1. **Signatures/s, one worker** -- ``MinHasher(128, seed 1, ngram 5).signatures`` over every
   document in batches of 4,096 (as the stage's signature pass calls it; normalisation, shingling,
   hashing and the exact-text digest included; the texts are already Python strings). Its first call
   (numba compilation, or loading numba's on-disk cache) is made on a few documents beforehand and
   printed apart. **Baseline**: datasketch ``MinHash(num_perm=128)`` with its default hash (SHA-1),
   ``update_batch`` of the document's word 5-gram shingles as bytes made in Python (webtext's own
   reference ``shingles(text, 5)``, so both see the same shingles), one ``MinHash`` per document,
   timed on an evenly spaced subsample (``--baseline-docs``, default 3,000) to keep the run short.
   Also shown: the Python shingling alone on that subsample, and webtext on that subsample. Target:
   webtext >= 4x the baseline.
   **Peer**: rensa (MinHash in Rust), ``RMinHash(128, seed 1)`` per document, ``update`` with the
   same shingles (``shingles(text, 5)``, made in Python as rensa's users do) and ``digest()``,
   against webtext's ``signatures`` on the same evenly spaced subsample (``--peer-docs``, default
   10,000), alternated in each repetition; printed: the median of the per-repetition ratios, min and
   max. Also shown: rensa's bulk ``RMinHash.digest_matrix_from_token_byte_sets`` on those shingles.
   Target: webtext >= rensa. rensa is a benchmark-only peer: ``pip install -e '.[bench]'`` (the
   benchmark says so and exits with status 2 without it).
2. **Whole dedup vs datatrove** -- ``webtext-build dedup DOCS --out DIR --threshold 0.8`` as a child
   process, with ``--runner local`` and with the default Ray runner (``--num-cpus 2
   --no-dashboard``; Ray start-up included), against datatrove's 4-step MinHash pipeline
   (``benchmarks/datatrove_minhash.py``: signature, buckets, cluster, filter;
   ``LocalPipelineExecutor`` with 2 tasks / 2 workers, one task per bucket) in its own virtual
   environment (``--datatrove-python``; made by ``bash benchmarks/datatrove-env.sh``) as a child
   process. Same shingles (word 5-grams of the lower-cased, whitespace-collapsed text) and
   datasketch's own optimal bands x rows for 0.8 without verification, 9 x 13 = 117 permutations
   (datatrove hashes exactly buckets x rows permutations and verifies nothing; webtext hashes 128
   and verifies LSH candidates against them, with the bands x rows its manifest reports). Each is
   timed as a whole process (interpreter start to exit), from a fresh output folder, after one
   untimed warm-up run of each on a 1,000-document corpus (numba's cache, the OS file cache).
   Printed: wall time and its ratio (target: webtext faster), each step's own wall time (webtext: the
   passes' manifests, where Ray's start-up falls in the first pass; datatrove: each executor's
   ``run()``, timed by ``datatrove_minhash.py``), peak RSS (``VmHWM`` of the largest
   process, and the sampled sum over the process tree), and quality on the planted duplicates:
   **recall** = share of planted pairs with true J >= 0.9 of which at least one document was
   removed; **precision** = share of removed documents whose ``duplicate_of`` has true J >= 0.7
   with them (target: webtext at least as good on both). datatrove names no ``duplicate_of``: a
   removed document is paired with the one kept member of its cluster (``MinhashDedupCluster``'s
   ``save_cluster_id`` output; datatrove keeps exactly one document per cluster), which is what
   webtext's ``duplicate_of`` (its component's representative) is too.

Every timed variant runs ``--repeats`` times (default 3), alternated, and the median is shown; the
CPU time other processes used meanwhile is logged per run of figure 2 (the machines are noisy).
Without the datatrove environment figure 2 runs webtext only and says how to make it.

    python benchmarks/dedup.py            # 50,000 documents, medians of 3 (~4 minutes on 2 cores)
    python benchmarks/dedup.py --quick    # smoke run: 5,000 documents, 1,000 for the baseline, 1 run

Needs the ``bench`` extra (rensa): ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from _dedup_corpus import RATES, Corpus, cached_corpus, jaccard  # benchmarks/_dedup_corpus.py, beside this script
from _report import (  # benchmarks/_report.py, beside this script
    FreshOut,
    Row,
    TreeMemory,
    begin,
    finish,
    mib,
    timed_child,
    verdict,
)

if TYPE_CHECKING:
    from webtext.dedup.minhash import MinHasher

log = logging.getLogger("benchmarks.dedup")

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
DATATROVE_PYTHON = HERE / "out" / "datatrove-venv" / "bin" / "python"
DATATROVE_SCRIPT = HERE / "datatrove_minhash.py"

TARGET_SIGNATURES = 4.0  # webtext signatures/s / datasketch update_batch docs/s, one worker
TARGET_RENSA = 1.0  # webtext signatures/s / rensa RMinHash docs/s, one worker
NUM_PERM, SEED, NGRAM, THRESHOLD = 128, 1, 5, 0.8
BATCH = 4096  # the stage's default batch_rows
WARMUP_DOCS = 1000  # corpus of the untimed warm-up runs of figure 2
RECALL_J, PRECISION_J = 0.9, 0.7


# ---------------------------------------------------------------------------------------------
# Figure 1: signatures per second, one worker


def rate_row(label: str, docs: int, seconds: float, extra: str = "") -> Row:
    return Row(label, f"{docs / seconds:,.0f} docs/s ({docs:,} docs, {seconds:.2f} s{extra})")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def signatures(hasher: MinHasher, texts: list[str]) -> int:
    """``hasher.signatures`` over ``texts`` in the stage's batches; returns the shingle count."""
    n = 0
    for i in range(0, len(texts), BATCH):
        n += int(hasher.signatures(texts[i:i + BATCH]).n_shingles.sum())
    return n


def subsample(texts: list[str], k: int) -> list[str]:
    """``k`` evenly spaced texts (all of them when ``k`` >= their count)."""
    k = min(k, len(texts))
    return [texts[i * len(texts) // k] for i in range(k)]


def figure_signatures(texts: list[str], baseline_docs: int, repeats: int) -> list[Row]:
    from datasketch import MinHash

    from webtext.dedup.minhash import MinHasher, shingle_hash, shingles

    start = time.perf_counter()
    hasher = MinHasher(NUM_PERM, SEED, NGRAM)
    first = hasher.signatures(texts[:8])
    warmup = time.perf_counter() - start
    log.info("MinHasher set-up + first call (numba compile or cache load) on 8 docs: %.2f s", warmup)
    for text, values in zip(texts[:3], first.values, strict=False):  # same values as datasketch with our hash
        m = MinHash(num_perm=NUM_PERM, seed=SEED, hashfunc=shingle_hash)
        m.update_batch(shingles(text, NGRAM))
        if not (m.hashvalues == values).all():
            raise SystemExit("webtext's signature differs from datasketch's with hashfunc=shingle_hash")

    def ours(sample: list[str]) -> int:
        return signatures(hasher, sample)

    sample = subsample(texts, baseline_docs)
    k = len(sample)

    def datasketch_loop() -> None:
        for text in sample:
            m = MinHash(num_perm=NUM_PERM)
            m.update_batch(shingles(text, NGRAM))

    n_shingles = 0
    times: dict[str, list[float]] = {"ours": [], "base": [], "shingle": [], "ours_sub": []}
    for i in range(repeats):  # alternated, medians taken
        start = time.perf_counter()
        n_shingles = ours(texts)
        times["ours"].append(time.perf_counter() - start)
        times["base"].append(timed(datasketch_loop))
        times["shingle"].append(timed(lambda: [shingles(t, NGRAM) for t in sample]))
        times["ours_sub"].append(timed(lambda: ours(sample)))
        log.info("[%d/%d] webtext MinHasher: %d docs (%d shingles) in %.2f s; datasketch update_batch: %d docs in "
                 "%.2f s", i + 1, repeats, len(texts), n_shingles, times["ours"][-1], k, times["base"][-1])
    ours_s, base_s, shingle_s, ours_sub_s = (statistics.median(times[key])
                                             for key in ("ours", "base", "shingle", "ours_sub"))
    ratio = (len(texts) / ours_s) / (k / base_s)
    return [
        Row(f"1. baseline: datasketch MinHash({NUM_PERM}).update_batch(shingles), SHA-1, subsample",
            f"{k / base_s:,.0f} docs/s ({k:,} docs, {base_s:.2f} s)"),
        rate_row("   ref: Python shingling alone (webtext.dedup.minhash.shingles), subsample", k, shingle_s),
        rate_row("   ref: webtext MinHasher on the same subsample", k, ours_sub_s,
                 f" = {base_s / ours_sub_s:.1f}x baseline"),
        rate_row(f"   webtext MinHasher({NUM_PERM}, seed {SEED}, ngram {NGRAM}).signatures, all docs",
                 len(texts), ours_s, f", {n_shingles / ours_s / 1e6:.1f} M shingles/s"),
        Row("   one-time: MinHasher set-up + first call on 8 docs (excluded)", f"{warmup:.2f} s"),
        Row("   webtext / baseline, one worker", f"{ratio:.1f}x", f">= {TARGET_SIGNATURES:g}x",
            verdict(ratio >= TARGET_SIGNATURES)),
    ]


def ratio_text(pairs: list[float]) -> str:
    """The median of per-repetition ratios, with their min and max."""
    runs = f"{len(pairs)} run{'s' if len(pairs) != 1 else ''}"
    return f"{statistics.median(pairs):.2f}x (min {min(pairs):.2f}, max {max(pairs):.2f}; {runs})"


def figure_rensa(texts: list[str], peer_docs: int, repeats: int) -> list[Row]:
    """webtext's signatures against rensa's ``RMinHash`` fed the same shingles, alternated per repetition."""
    from rensa import RMinHash

    from webtext.dedup.minhash import MinHasher, shingles

    hasher = MinHasher(NUM_PERM, SEED, NGRAM)
    sample = subsample(texts, peer_docs)

    def ours() -> None:
        signatures(hasher, sample)

    def rensa_loop() -> None:
        for text in sample:
            m = RMinHash(NUM_PERM, SEED)
            m.update(shingles(text, NGRAM))
            m.digest()

    def rensa_bulk() -> None:
        RMinHash.digest_matrix_from_token_byte_sets([shingles(t, NGRAM) for t in sample], NUM_PERM, SEED)

    rensa_bulk()  # first call (set-up) not timed
    k = len(sample)
    times: dict[str, list[float]] = {"ours": [], "rensa": [], "bulk": []}
    for i in range(repeats):
        for key, fn in (("ours", ours), ("rensa", rensa_loop), ("bulk", rensa_bulk)):
            times[key].append(timed(fn))
        log.info("[%d/%d] %d docs: webtext %.2f s, rensa RMinHash %.2f s, rensa bulk %.2f s", i + 1, repeats, k,
                 times["ours"][-1], times["rensa"][-1], times["bulk"][-1])
    pairs = [r / o for o, r in zip(times["ours"], times["rensa"], strict=True)]
    bulk_pairs = [r / o for o, r in zip(times["ours"], times["bulk"], strict=True)]
    ours_s, rensa_s, bulk_s = (statistics.median(times[key]) for key in ("ours", "rensa", "bulk"))
    return [
        rate_row(f"   peer: rensa RMinHash({NUM_PERM}, seed {SEED}).update(shingles) + digest, subsample", k, rensa_s),
        rate_row("   ref: rensa RMinHash.digest_matrix_from_token_byte_sets(shingles), subsample", k, bulk_s),
        rate_row("   webtext MinHasher, same subsample, alternated with rensa", k, ours_s),
        Row("   webtext / rensa bulk digest_matrix, median of per-run ratios", ratio_text(bulk_pairs)),
        Row("   webtext / rensa RMinHash, one worker, median of per-run ratios", ratio_text(pairs),
            f">= {TARGET_RENSA:g}x", verdict(statistics.median(pairs) >= TARGET_RENSA)),
    ]


# ---------------------------------------------------------------------------------------------
# Figure 2: the whole stage against datatrove


@dataclass
class Quality:
    removed: int
    pairs_high: int
    caught_high: int
    precise: int
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def recall(self) -> float:
        return self.caught_high / max(self.pairs_high, 1)

    @property
    def precision(self) -> float:
        return self.precise / max(self.removed, 1)

    def kinds(self) -> str:
        return ", ".join(f"{k} {c / max(n, 1):.2f}" for k, (c, n) in self.by_kind.items())


def quality(corpus: Corpus, texts: dict[str, str], kept: set[str], dup_of: dict[str, str]) -> Quality:
    """Recall on planted pairs with true J >= 0.9, precision of the removals (J >= 0.7 with duplicate_of)."""
    removed = set(texts) - kept
    if set(dup_of) != removed:
        log.warning("%d documents removed, but %d listed with a duplicate_of", len(removed), len(dup_of))
    by_kind: dict[str, list[int]] = {k: [0, 0] for k in RATES}
    high = caught_high = 0
    for p in corpus.planted:
        if p.jaccard >= RECALL_J:
            high += 1
            caught_high += not (p.variant in kept and p.base in kept)
        counts = by_kind[p.kind]  # by kind: both in one cluster (a base drawn twice may go for its other copy)
        counts[0] += dup_of.get(p.variant, p.variant) == dup_of.get(p.base, p.base)
        counts[1] += 1
    precise = sum(1 for d, r in dup_of.items() if jaccard(texts[d], texts[r]) >= PRECISION_J)
    return Quality(len(removed), high, caught_high, precise, {k: (c, n) for k, (c, n) in by_kind.items() if n})


def read_ids(files: list[Path], columns: list[str]) -> dict[str, list]:
    import pyarrow.parquet as pq

    out: dict[str, list] = {c: [] for c in columns}
    for f in files:
        table = pq.read_table(f, columns=columns)
        for c in columns:
            out[c].extend(table[c].to_pylist())
    return out


def webtext_result(out: Path) -> tuple[set[str], dict[str, str]]:
    from webtext.paths import side_dir

    kept = set(read_ids(sorted(out.glob("*.parquet")), ["id"])["id"])
    dups = read_ids(sorted(side_dir(out, "duplicates").glob("*.parquet")), ["id", "duplicate_of"])
    return kept, dict(zip(dups["id"], dups["duplicate_of"], strict=True))


def datatrove_result(corpus: Corpus, out: Path) -> tuple[set[str], dict[str, str]]:
    """Kept ids and removed id -> the kept member of its cluster, from datatrove's cluster files
    (``{rank:06d}.clusters``: (doc index, cluster id) pairs; ``{rank:06d}.remove``: doc indices; the
    filter task of rank r reads the r-th Parquet file in sorted order)."""
    import numpy as np

    ids_of = [read_ids([f], ["id"])["id"] for f in sorted(corpus.files)]
    cluster_members: dict[int, list[str]] = {}
    removed: set[str] = set()
    for rank, ids in enumerate(ids_of):
        clusters = out / "clusters" / f"{rank:06d}.clusters"
        if clusters.exists():
            pairs = np.fromfile(clusters, dtype="<u4").reshape(-1, 2)
            for doc, cluster in pairs.tolist():
                cluster_members.setdefault(cluster, []).append(ids[doc])
        remove = out / "clusters" / f"{rank:06d}.remove"
        if remove.exists():
            removed.update(ids[i] for i in np.fromfile(remove, dtype="<u4").tolist())
    kept = {i for ids in ids_of for i in ids} - removed
    dup_of: dict[str, str] = {}
    for members in cluster_members.values():
        keepers = [m for m in members if m not in removed]
        if len(keepers) != 1:
            log.warning("a datatrove cluster of %d has %d kept members", len(members), len(keepers))
            continue
        dup_of.update((m, keepers[0]) for m in members if m in removed)
    written = set(read_ids(sorted((out / "removed").glob("*.parquet")), ["id"])["id"])
    if written != removed:
        log.warning("datatrove's removed/ folder lists %d ids, its .remove files %d", len(written), len(removed))
    return kept, dup_of


@dataclass
class Run:
    name: str
    seconds: float
    memory: TreeMemory
    quality: Quality
    note: str = ""
    steps: dict[str, float] = field(default_factory=dict)


def webtext_cmd(docs: Path, out: Path, runner: str) -> list[str]:
    cmd = [sys.executable, "-m", "webtext.cli", "-q", "dedup", str(docs), "--out", str(out),
           "--threshold", str(THRESHOLD), "--num-perm", str(NUM_PERM), "--ngram", str(NGRAM), "--seed", str(SEED),
           "--runner", runner]
    if runner == "ray":
        cmd += ["--num-cpus", "2", "--no-dashboard"]
    return cmd


def datatrove_cmd(python: Path, docs: Path, out: Path, lsh: tuple[int, int]) -> list[str]:
    return [str(python), str(DATATROVE_SCRIPT), str(docs), str(out), "--buckets", str(lsh[0]), "--rows", str(lsh[1]),
            "--ngram", str(NGRAM), "--seed", str(SEED), "--tasks", "2", "--workers", "2"]


def run_webtext(corpus: Corpus, texts: dict[str, str] | None, args: argparse.Namespace, runner: str,
                label: str) -> Run | None:
    from webtext.data import Manifest

    with FreshOut(args.workdir, label, args.keep) as out:
        dataset = out / "dedup"
        seconds, memory = timed_child(webtext_cmd(corpus.folder, dataset, runner), out / "cli.log")
        if texts is None:
            return None
        manifest = Manifest.read(dataset)
        stats = manifest.stats if manifest is not None else {}
        kept, dup_of = webtext_result(dataset)
        note = f"LSH {stats.get('bands')}x{stats.get('rows')} + verify, {NUM_PERM} perms"
        steps = {}
        for name, folder in (("signatures", "signatures"), ("buckets", "buckets"), ("clusters", "clusters"),
                             ("filter", ".")):
            m = Manifest.read(dataset / folder)  # each pass's own wall_seconds (the stage's is the filter's)
            if m is not None and "wall_seconds" in m.stats:
                steps[name] = float(m.stats["wall_seconds"])
        return Run(f"webtext-build dedup --runner {runner}", seconds, memory, quality(corpus, texts, kept, dup_of),
                   note, steps)


def run_datatrove(corpus: Corpus, texts: dict[str, str] | None, args: argparse.Namespace, label: str) -> Run | None:
    with FreshOut(args.workdir, label, args.keep) as out:
        dataset = out / "datatrove"
        cmd = datatrove_cmd(args.datatrove_python, corpus.folder, dataset, args.dt_lsh)
        seconds, memory = timed_child(cmd, out / "datatrove.log")
        if texts is None:
            return None
        kept, dup_of = datatrove_result(corpus, dataset)
        b, r = args.dt_lsh
        note = f"LSH {b}x{r} = {b * r} perms, no verify"
        steps = json.loads((dataset / "timings.json").read_text())["steps"]
        return Run("datatrove MinHash pipeline, 2 tasks / 2 workers", seconds, memory,
                   quality(corpus, texts, kept, dup_of), note, steps)


def median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]


def run_rows(run: Run, n_docs: int) -> list[Row]:
    m, q = run.memory, run.quality
    largest = max(m.hwm.values(), default=0)
    return [
        Row(f"   {run.name}", f"{run.seconds:.1f} s = {n_docs / run.seconds:,.0f} docs/s ({run.note})"),
        Row("      steps (wall s): signatures / buckets / clusters / filter",
            " / ".join(f"{run.steps[k]:.2f}" if k in run.steps else "?"
                       for k in ("signatures", "buckets", "clusters", "filter"))),
        Row("      peak RSS: largest process (VmHWM) / whole tree (sampled sum)",
            f"{mib(largest)} / {mib(m.peak_sum)} ({len(m.hwm)} process{'es' if len(m.hwm) != 1 else ''})"),
        Row(f"      recall (planted J >= {RECALL_J}) / precision (J >= {PRECISION_J} with duplicate_of)",
            f"{q.recall:.4f} ({q.caught_high}/{q.pairs_high}) / {q.precision:.4f} ({q.precise}/{q.removed})"),
        Row("      planted pairs found (both in one cluster), by kind: share", q.kinds()),
    ]


def figure_dedup(corpus: Corpus, warm: Corpus, texts: dict[str, str], args: argparse.Namespace) -> list[Row]:
    variants: dict[str, Callable[[dict[str, str] | None, Corpus, str], Run | None]] = {
        "local": lambda t, c, label: run_webtext(c, t, args, "local", label),
    }
    if args.ray:
        variants["ray"] = lambda t, c, label: run_webtext(c, t, args, "ray", label)
    if args.datatrove_python is not None:
        variants["datatrove"] = lambda t, c, label: run_datatrove(c, t, args, label)
    log.info("warm-up (not timed): each variant once on %d documents", warm.documents)
    for key, fn in variants.items():
        fn(None, warm, f"warm-{key}")
    runs: dict[str, list[Run]] = {k: [] for k in variants}
    for i in range(args.repeats):
        for key, fn in variants.items():
            run = fn(texts, corpus, key)
            assert run is not None
            log.info("[%d/%d] %s: %.1f s, peak tree RSS %s, recall %.4f, precision %.4f; "
                     "other processes used %.1f CPU-s meanwhile", i + 1, args.repeats, run.name, run.seconds,
                     mib(run.memory.peak_sum), run.quality.recall, run.quality.precision, run.memory.other_cpu)
            runs[key].append(run)
    m = {k: median_run(v) for k, v in runs.items()}
    rows = [Row(f"2. whole dedup, {corpus.documents:,} docs, threshold {THRESHOLD}, whole child processes", "")]
    for key in variants:
        rows += run_rows(m[key], corpus.documents)
    if "datatrove" not in m:
        rows.append(Row("   datatrove comparison", "skipped (make its environment: bash benchmarks/datatrove-env.sh)"))
        return rows
    dt = m["datatrove"]
    for key in ("local", "ray"):
        if key in m:
            speed = dt.seconds / m[key].seconds
            rows.append(Row(f"   datatrove wall / webtext --runner {key} wall", f"{speed:.2f}x", "> 1x",
                            verdict(speed > 1)))
    for key in ("local", "ray"):
        if key in m:
            q = m[key].quality
            rows.append(Row(f"   recall, webtext --runner {key} - datatrove", f"{q.recall - dt.quality.recall:+.4f}",
                            ">= 0", verdict(q.recall >= dt.quality.recall)))
            rows.append(Row(f"   precision, webtext --runner {key} - datatrove",
                            f"{q.precision - dt.quality.precision:+.4f}", ">= 0",
                            verdict(q.precision >= dt.quality.precision)))
    return rows


# ---------------------------------------------------------------------------------------------


def datatrove_versions(python: Path) -> str:
    import subprocess

    code = ("from importlib.metadata import version as v; "
            "print(f\"datatrove {v('datatrove')} (xxhash {v('xxhash')}, numpy {v('numpy')})\")")
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    return result.stdout.strip() or f"datatrove at {python}"


def parse_lsh(value: str) -> tuple[int, int]:
    try:
        b, r = (int(x) for x in value.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected BANDSxROWS, e.g. 9x13, got {value!r}") from exc
    if b < 1 or r < 1:
        raise argparse.ArgumentTypeError("bands and rows must be >= 1")
    return b, r


def default_lsh() -> tuple[int, int]:
    """datasketch's optimal (bands, rows) for the threshold with equal false positive/negative weights
    (our vendored copy of its optimiser; tests/test_dedup_minhash.py checks they agree)."""
    from webtext.dedup.minhash import lsh_params

    return lsh_params(THRESHOLD, NUM_PERM)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 5,000 documents, 1,000 for the baseline")
    parser.add_argument("--docs", type=int, default=None, help="documents in the corpus (default 50,000; 5,000 quick)")
    parser.add_argument("--baseline-docs", type=int, default=None,
                        help="documents the datasketch baseline is timed on (default 3,000; 1,000 with --quick)")
    parser.add_argument("--peer-docs", type=int, default=None,
                        help="documents webtext and rensa are timed on (default 10,000; 2,000 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs of every timed variant, alternated, median taken (default 3; 1 with --quick)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the corpus")
    parser.add_argument("--datatrove-python", type=Path, default=None,
                        help=f"python of datatrove's environment (default {DATATROVE_PYTHON} if present)")
    parser.add_argument("--dt-lsh", type=parse_lsh, default=None,
                        help="datatrove's buckets x hashes per bucket (default: datasketch's optimum for 0.8, 9x13)")
    parser.add_argument("--no-ray", dest="ray", action="store_false", help="skip the Ray-runner run of figure 2")
    parser.add_argument("--no-dedup", dest="dedup", action="store_false", help="figure 1 only")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the shared data folder (default {DATA})")
    parser.add_argument("--workdir", type=Path, default=HERE / "out" / "dedup",
                        help="corpus and scratch outputs (default benchmarks/out/dedup/)")
    parser.add_argument("--keep", action="store_true", help="keep every run's output folder")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show webtext's own logging")
    args = parser.parse_args(argv)
    if args.docs is None:
        args.docs = 5_000 if args.quick else 50_000
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.baseline_docs is None:
        args.baseline_docs = 1_000 if args.quick else 3_000
    if args.peer_docs is None:
        args.peer_docs = 2_000 if args.quick else 10_000
    if args.docs < 100 or args.baseline_docs < 1 or args.peer_docs < 1 or args.repeats < 1:
        parser.error("--docs must be >= 100, --baseline-docs, --peer-docs and --repeats >= 1")
    if args.datatrove_python is None and DATATROVE_PYTHON.exists():
        args.datatrove_python = DATATROVE_PYTHON
    if args.datatrove_python is not None and not args.datatrove_python.exists():
        parser.error(f"--datatrove-python {args.datatrove_python} does not exist")
    if args.dt_lsh is None:
        args.dt_lsh = default_lsh()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("rensa") is None:
        print("benchmarks/dedup.py: rensa (the MinHash peer) is not installed; install the benchmark extra: "
              "pip install -e '.[bench]'", file=sys.stderr)
        return 2
    started = begin(args, log)

    from importlib.metadata import version

    import datasketch

    corpus = cached_corpus(args.workdir, args.docs, args.seed, args.data)
    texts = corpus.texts()
    words = statistics.mean(len(t.split()) for t in texts.values())
    log.info("%d documents (%.1f MB, mean %.0f words, %.0f bytes; %d planted, %d with true J >= %.1f) in %s",
             corpus.documents, corpus.total_bytes / 1e6, words, corpus.total_bytes / corpus.documents,
             len(corpus.planted), sum(p.jaccard >= RECALL_J for p in corpus.planted), RECALL_J, corpus.folder)

    rows = figure_signatures(list(texts.values()), args.baseline_docs, args.repeats)
    rows += figure_rensa(list(texts.values()), args.peer_docs, args.repeats)
    if args.dedup:
        if args.datatrove_python is None:
            log.warning("no datatrove environment at %s: the datatrove comparison is skipped; make it with "
                        "`bash benchmarks/datatrove-env.sh` (or pass --datatrove-python PATH)", DATATROVE_PYTHON)
        warm = cached_corpus(args.workdir, WARMUP_DOCS, args.seed + 1, args.data)
        rows += figure_dedup(corpus, warm, texts, args)

    dt = "datatrove: skipped" if args.datatrove_python is None else datatrove_versions(args.datatrove_python)
    header = (
        f"webtext dedup benchmark: {corpus.documents:,} documents of real sentences "
        f"({corpus.total_bytes / 1e6:.0f} MB, mean {corpus.total_bytes / corpus.documents:,.0f} bytes / {words:.0f} "
        f"words; {len(corpus.planted):,} planted duplicates) in {len(corpus.files)} Parquet files, "
        f"median of {args.repeats}, {os.cpu_count()} CPUs, datasketch {datasketch.__version__}, "
        f"rensa {version('rensa')}, "
        f"{dt}, Python {platform.python_version()}, {time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
