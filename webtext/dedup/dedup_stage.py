"""The ``dedup`` stage: four passes joined by folders, each resumable and each a map of shard
tasks (DESIGN.md: shard -> band bucket -> cluster).

``OUT/signatures`` (per docs file) -> ``OUT/buckets`` (per band-hash partition) ->
``OUT/clusters`` (components and representatives) -> ``OUT`` (kept docs, per docs file, plus
``OUT/duplicates``). A rerun skips finished passes and shards; a kill between passes resumes at
the first unfinished one.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from webtext.config import to_dict
from webtext.data import Manifest
from webtext.dedup.config import DedupConfig
from webtext.docsets import check_columns, input_identities
from webtext.inputs import parquet_files
from webtext.paths import legacy_name, side_dir, side_name
from webtext.runner import Runner, ShardTask, input_identity, run_stage

log = logging.getLogger(__name__)


def run_dedup(cfg: DedupConfig, out: Path, runner: Runner) -> Manifest:
    from webtext.dedup.buckets import bucket_shard
    from webtext.dedup.clusters import cluster_shard
    from webtext.dedup.filter import filter_shard
    from webtext.dedup.minhash import lsh_params
    from webtext.dedup.signatures import signature_shard, spans_of
    from webtext.dedup.tasks import ComponentsInput, DocsInput, FilterInput, PartitionInput

    out = Path(out)
    files = parquet_files(cfg.inputs)
    rows = check_columns(files)
    offsets = [sum(rows[:i]) for i in range(len(rows))]
    total = sum(rows)
    bands, band_rows = lsh_params(cfg.threshold, cfg.num_perm, cfg.lsh_weights())
    log.info("dedup: %d documents in %d file(s); LSH %d bands x %d rows (threshold %.2f), %d partitions",
             total, len(files), bands, band_rows, cfg.threshold, cfg.partitions)
    config = {**to_dict(cfg), "bands": bands, "rows": band_rows}
    inputs = input_identities(files)
    doc_tasks = [ShardTask(i, f.name, DocsInput(str(f), offsets[i], rows[i]))
                 for i, f in enumerate(files)]

    sig_dir = side_dir(out, "signatures")
    sig_manifest = run_stage(
        stage="dedup.signatures", dataset=sig_dir, config=config, inputs=inputs, tasks=doc_tasks,
        shard_fn=functools.partial(signature_shard, cfg, bands, band_rows, sig_dir), runner=runner,
        side_dirs=[side_name("sig"), side_name("b[0-9][0-9][0-9][0-9][0-9]")],
    )
    spans = spans_of(doc_tasks, sig_dir)
    per_partition: dict[int, list[str]] = {p: [] for p in range(cfg.partitions)}
    meta_files = []
    for entry in sig_manifest.files():
        head = legacy_name(entry.path.split("/", 1)[0]) or ""
        if head.startswith("b") and "/" in entry.path:
            per_partition[int(head[1:])].append(str(sig_dir / entry.path))
        elif entry.path.startswith("part-"):
            meta_files.append(str(sig_dir / entry.path))

    buckets_dir = side_dir(out, "buckets")
    buckets = run_stage(
        stage="dedup.buckets", dataset=buckets_dir, config=config, inputs=[input_identity(sig_dir)],
        tasks=[ShardTask(p, f"partition {p:05d}", PartitionInput(tuple(fs), spans)) for p, fs in per_partition.items()],
        shard_fn=functools.partial(bucket_shard, cfg, bands, buckets_dir), runner=runner,
    )

    clusters_dir = side_dir(out, "clusters")
    pair_files = [str(buckets_dir / e.path) for e in buckets.files()]
    run_stage(
        stage="dedup.clusters", dataset=clusters_dir, config=config,
        inputs=[input_identity(sig_dir), input_identity(buckets_dir)],
        tasks=[ShardTask(0, "components", ComponentsInput(total, tuple(pair_files), tuple(meta_files), spans))],
        shard_fn=functools.partial(cluster_shard, cfg, clusters_dir), runner=runner,
    )
    removals = str(clusters_dir / "part-00000.parquet")
    filter_tasks = [ShardTask(t.index, t.label, FilterInput(t.payload, removals)) for t in doc_tasks]
    return run_stage(
        stage="dedup", dataset=out, config=config, inputs=[*inputs, input_identity(clusters_dir)],
        tasks=filter_tasks, shard_fn=functools.partial(filter_shard, out), runner=runner,
        side_dirs=[side_name("duplicates")], parts=[sig_dir.name, buckets_dir.name, clusters_dir.name],
        extra_stats={"bands": bands, "rows": band_rows},
    )
