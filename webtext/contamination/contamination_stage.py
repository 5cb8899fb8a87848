"""The ``contamination`` stage: benchmark n-grams -> corpus scan (per docs shard; in Bloom mode it
also saves the shard's n-gram hashes) -> Bloom filters (per group of shards, from those hashes,
merged by OR) -> the report.

``OUT/ngrams`` (benchmark n-grams and their lookup table) -> ``OUT/hits`` (per-document hits,
a dataset) -> ``OUT/bloom`` (bloom mode) -> ``OUT`` (report.json/.md/.html, plots/,
examples/, corpus.bloom). Each pass is resumable; reruns skip finished work.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from pathlib import Path

from webtext.config import to_dict
from webtext.contamination.benchmarks import load_benchmark
from webtext.contamination.config import ContaminationConfig
from webtext.contamination.table import benchmark_ngrams, build_table, digest, save_npz
from webtext.contamination.tasks import ReportInput, ScanInput, SliceInput
from webtext.data import Manifest
from webtext.docsets import check_columns, input_identities
from webtext.errors import ConfigError
from webtext.inputs import parquet_files
from webtext.paths import side_dir, side_name
from webtext.runner import Runner, ShardTask, input_identity, run_stage
from webtext.runner.local import LocalRunner

log = logging.getLogger(__name__)


def _prepare_ngrams(cfg: ContaminationConfig, out: Path) -> tuple[str, list[str], list[str]]:
    """Write OUT/ngrams (only when its content changes); returns (digest, test names, train names)."""
    import json

    tests = [load_benchmark(s, "--benchmark") for s in cfg.benchmarks]
    trains = [load_benchmark(s, "--benchmark-train") for s in cfg.benchmark_train]
    names = [b.name for b in tests]
    if len(set(names)) != len(names):
        raise ConfigError("--benchmark", f"benchmark names must be unique, got {names}")
    for b in trains:
        if b.name not in names:
            raise ConfigError("--benchmark-train", f"{b.name!r} names no --benchmark (have: {', '.join(names)})")
    grams = benchmark_ngrams(tests, cfg.ngram)
    train_grams = {b.name: g for b, g in zip(trains, benchmark_ngrams(trains, cfg.ngram).values(), strict=True)}
    for name, g in grams.items():
        log.info("benchmark %s: %d examples, %s %d-gram occurrences", name, len(g.counts), f"{len(g.hashes):,}",
                 cfg.ngram)
    key = digest({**grams, **{f"train:{k}": v for k, v in train_grams.items()}})
    folder = out / "ngrams"
    stamp = folder / "digest.json"
    if not stamp.exists() or json.loads(stamp.read_text()).get("digest") != key:
        table = build_table(grams)
        for name, g in grams.items():
            save_npz(folder / f"{name}.npz", hashes=g.hashes, counts=g.counts)
        for name, g in train_grams.items():
            save_npz(folder / f"train-{name}.npz", hashes=g.hashes, counts=g.counts)
        save_npz(folder / "table.npz", slots=table.slots, values=table.values, names=json.dumps(table.names))
        examples = {b.name: b.examples for b in tests}
        from webtext.paths import atomic_write_bytes

        atomic_write_bytes(folder / "examples.json", json.dumps(examples).encode())
        atomic_write_bytes(stamp, json.dumps({"digest": key}).encode())
    return key, names, [b.name for b in trains]


def run_contamination(cfg: ContaminationConfig, out: Path, runner: Runner) -> Manifest:
    """The stage's passes over ``cfg.inputs`` into ``out``. With the local runner (every task in this process) the
    work every run needs whatever its input (numba's kernel loading, GPT-2's random strings, the Bloom filter's
    sizing tables) starts in threads first, to overlap the reading of the inputs and benchmarks and the scan."""
    from webtext.contamination.report import random_strings_ahead

    ahead: contextlib.AbstractContextManager[None] = contextlib.nullcontext()
    if isinstance(runner, LocalRunner):
        from webtext import probes
        from webtext.contamination.bloom import size_ahead

        probes.warm_kernel_loading()
        if cfg.builds_bloom:  # the run sizes a filter (also when it was built before)
            size_ahead(cfg.fp_rate)
        if cfg.mode == "bloom" and cfg.random_check and Manifest.read(Path(out)) is None:  # the report will run
            ahead = random_strings_ahead(cfg.random_check, cfg.ngram)
    with ahead:
        return _run_passes(cfg, Path(out), runner)


def _run_passes(cfg: ContaminationConfig, out: Path, runner: Runner) -> Manifest:
    import numpy as np

    from webtext.contamination.bloom import (
        BloomFilter,
        bloom_size,
        distinct_estimate,
        false_positive_bound,
        planned_items,
    )
    from webtext.contamination.kernels import HLL_BITS, PARTITION_BITS
    from webtext.contamination.report import report_task
    from webtext.contamination.scan import bloom_shard, scan_shard

    if cfg.bloom and Path(cfg.bloom).resolve().parent == out.resolve():
        raise ConfigError("bloom", f"{cfg.bloom} lies in --out {out}, whose report this run replaces: "
                                   "copy it elsewhere first")
    files = parquet_files(cfg.inputs)
    rows = check_columns(files)
    offsets = [sum(rows[:i]) for i in range(len(rows))]
    key, names, train_names = _prepare_ngrams(cfg, out)
    config = {**to_dict(cfg), "benchmark_digest": key, "files": [str(f) for f in files]}
    inputs = input_identities(files)
    build_bloom = cfg.builds_bloom
    # one shard at a time (the local runner) leaves a second core idle while a shard's text is hashed
    threads = 2 if runner.parallelism() == 1 and len(os.sched_getaffinity(0)) >= 2 else 1
    doc_tasks = [ShardTask(i, f.name, ScanInput(str(f), offsets[i], build_bloom, threads))
                 for i, f in enumerate(files)]

    hits_dir = out / "hits"
    scanned = run_stage(
        stage="contamination.scan", dataset=hits_dir, config={**config, "bloom_input": build_bloom}, inputs=inputs,
        tasks=doc_tasks, shard_fn=functools.partial(scan_shard, cfg, str(out / "ngrams" / "table.npz"), hits_dir),
        runner=runner, side_dirs=[side_name("found"), side_name("ngrams")],
    )
    total = int(scanned.stats.get("ngrams", 0))
    passes = [input_identity(hits_dir)]
    bloom_info: dict = {}
    if build_bloom:
        registers = np.zeros(1 << HLL_BITS, dtype=np.uint8)
        for f in sorted(side_dir(hits_dir, "found").glob("*.npz")):
            with np.load(f) as z:
                np.maximum(registers, z["hll"], out=registers)
        distinct = distinct_estimate(registers)
        planned = planned_items(total, registers)
        m, k = bloom_size(planned, cfg.fp_rate)
        parts = min(cfg.bloom_parts or runner.parallelism(), 1 << PARTITION_BITS)
        spills = [str(side_dir(hits_dir, "ngrams") / f"{i:05d}.u64") for i in range(len(files))]
        indexes = [str(side_dir(hits_dir, "ngrams") / f"{i:05d}.runs.npz") for i in range(len(files))]
        ranges = [(j << PARTITION_BITS) // parts for j in range(parts + 1)]
        bloom_info = {"m": m, "k": k, "items": total, "distinct_estimate": round(distinct), "planned": planned,
                      "bytes": m // 8, "fp_bound": false_positive_bound(m, k, planned)}
        log.info("bloom: %s n-grams, ~%s distinct (HyperLogLog, +5 standard errors: %s) at fp <= %g -> m = %s bits "
                 "(%.1f MiB, built in %d slice(s) in parallel), k = %d", f"{total:,}",
                 f"{round(distinct):,}", f"{planned:,}", cfg.fp_rate, f"{m:,}", m / 8 / 2**20, parts, k)
        bloom_dir = out / "bloom"
        run_stage(
            stage="contamination.bloom", dataset=bloom_dir, config={**config, "m": m, "k": k, "parts": parts},
            inputs=inputs,
            tasks=[ShardTask(j, f"filter slice {j}",
                             SliceInput(tuple(spills), tuple(indexes), (ranges[j], ranges[j + 1])))
                   for j in range(parts)],
            shard_fn=functools.partial(bloom_shard, cfg, m, k, planned, bloom_dir), runner=runner,
        )
        passes.append(input_identity(bloom_dir))
    elif cfg.mode == "bloom":
        try:
            saved = BloomFilter.load(Path(cfg.bloom))
        except (OSError, ValueError) as exc:  # BloomFileError is a ValueError
            raise ConfigError("bloom", str(exc)) from exc
        if saved.ngram != cfg.ngram:
            raise ConfigError("bloom", f"{cfg.bloom} holds {saved.ngram}-grams, --ngram is {cfg.ngram}")
        passes.append(input_identity(Path(cfg.bloom)))
    return run_stage(
        stage="contamination", dataset=out, config=config, inputs=[*inputs, *passes],
        tasks=[ShardTask(0, "report", ReportInput(tuple(names), tuple(train_names), bloom_info))],
        shard_fn=functools.partial(report_task, cfg, out), runner=runner,
        side_dirs=["plots", "examples", "report.json", "report.md", "report.html", "corpus.bloom"],
        parts=["hits", *(["bloom"] if cfg.builds_bloom else [])],
    )
