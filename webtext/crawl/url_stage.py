"""The ``urls`` stage: submission dumps -> one row per normalised outbound URL.

Two passes, each a dataset under the runner's contract:

1. ``<out>/__buckets`` (map, one shard per input file): stream the file, filter submissions and
   URLs, and append each kept submission to the bucket ``crc32(url) % buckets`` as
   ``<out>/__buckets/__bNNNNN/part-<input>.parquet``. Memory stays bounded: rows are flushed to
   Parquet every ``FLUSH_ROWS``.
2. ``<out>`` (reduce, one shard per bucket): all rows of a URL are in one bucket, so each bucket
   is aggregated on its own (repeated submissions across dumps counted once), the karma filter
   applied, and ``part-NNNNN.parquet`` written: DESIGN's **urls** schema plus ``raw_urls`` and
   ``karma_max``/``karma_sum``.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtext.config import parse_date, to_dict
from webtext.crawl.config import UrlsConfig
from webtext.crawl.pushshift import SubmissionFilter, read_submission_tables
from webtext.crawl.streams import COMPRESSIONS
from webtext.crawl.url_columns import crc32_column, filter_url_column
from webtext.crawl.urls import Blocklist, UrlFilter
from webtext.data import Manifest, ParquetStreamWriter, ParquetWriterSet, open_stream, stream_batches
from webtext.errors import ShardError
from webtext.inputs import dump_files
from webtext.paths import legacy_name, part_name, side_dir, side_name
from webtext.runner import Runner, ShardOutput, ShardTask, input_identity, run_stage

log = logging.getLogger(__name__)

FLUSH_ROWS = 262_144  # rows buffered in memory per map shard before they go to Parquet (few, large row groups)
PROGRESS_SECONDS = 30.0  # how often a long map shard logs its progress
BATCH_ROWS = 32_768  # submissions URL-filtered and bucketed at once (Arrow kernels over a column)
PLAIN_SUFFIXES = (".json", ".jsonl", ".ndjson", ".txt")


def _bucket_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("url", pa.string()),
            ("url_raw", pa.string()),  # null: the same as url (most are): less to write and read back
            ("domain", pa.string()),
            ("score", pa.int64()),
            ("submission_id", pa.string()),
            ("subreddit", pa.string()),
            ("created_utc", pa.int64()),
            ("url_hash", pa.uint32()),  # crc32 of url: its bucket, and its sub-pass in the reduce
        ]
    )


def urls_schema():
    """DESIGN's urls schema plus ``raw_urls``, ``karma_max`` and ``karma_sum``."""
    import pyarrow as pa

    return pa.schema(
        [
            ("url", pa.string()),
            ("url_raw", pa.string()),
            ("domain", pa.string()),
            ("karma", pa.int64()),
            ("karma_max", pa.int64()),
            ("karma_sum", pa.int64()),
            ("n_submissions", pa.int64()),
            ("submission_ids", pa.list_(pa.string())),
            ("subreddits", pa.list_(pa.string())),
            ("first_created_utc", pa.int64()),
            ("raw_urls", pa.list_(pa.string())),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Inputs and filters


def is_supported_input(path: Path) -> bool:
    name = path.name.lower()
    if name.startswith(".") or not path.is_file():
        return False
    return path.suffix.lower() in COMPRESSIONS or name.endswith(PLAIN_SUFFIXES)


def _read_lines_set(path: str | None) -> frozenset[str]:
    if path is None:
        return frozenset()
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(s.strip().lower().removeprefix("r/") for s in lines if s.strip() and not s.startswith("#"))


def submission_filter(cfg: UrlsConfig) -> SubmissionFilter:
    return SubmissionFilter(
        keep_self_posts=cfg.keep_self_posts,
        keep_nsfw=cfg.keep_nsfw,
        created_after=parse_date(cfg.created_after, "created_after") if cfg.created_after else None,
        created_before=parse_date(cfg.created_before, "created_before") if cfg.created_before else None,
        subreddits=_read_lines_set(cfg.subreddit_blocklist),
    )


def url_filter(cfg: UrlsConfig) -> UrlFilter:
    if not cfg.blocklists:
        return UrlFilter(cfg.max_url_length, None, None, drop_wikipedia=False)
    domains = Blocklist.load(Path(cfg.domain_blocklist) if cfg.domain_blocklist else None, "media-domains.txt")
    exts = Blocklist.load(
        Path(cfg.extension_blocklist) if cfg.extension_blocklist else None, "non-html-extensions.txt"
    )
    return UrlFilter(cfg.max_url_length, domains, exts, drop_wikipedia=True)


def resolved_config(cfg: UrlsConfig) -> dict[str, Any]:
    """The config as the manifest records it: with the blocklists' versions and digests."""
    out = to_dict(cfg)
    f = url_filter(cfg)
    out["resolved_blocklists"] = {
        "domains": f.domains.describe() if f.domains else None,
        "extensions": f.extensions.describe() if f.extensions else None,
        "wikipedia": f.drop_wikipedia,
    }
    return out


# ---------------------------------------------------------------------------------------------
# Pass 1: map one input file into URL-hash buckets


def _bucket_table(submissions, ufilter: UrlFilter, memo: dict, counts: Counter[str]):
    """Kept submissions -> their bucket-schema table (URL-filtered); drops counted by reason."""
    import pyarrow as pa
    import pyarrow.compute as pc

    raw = submissions["url_raw"].combine_chunks()
    url, domain, reason = filter_url_column(raw, ufilter, memo)
    raw_differs = pc.if_else(pc.fill_null(pc.equal(raw, url), False), pa.scalar(None, pa.string()), raw)
    table = pa.table(
        [url, raw_differs, domain, submissions["score"], submissions["submission_id"], submissions["subreddit"],
         submissions["created_utc"]],
        names=_bucket_schema().names[:-1],
    )
    if reason.null_count < len(reason):
        for item in pc.value_counts(reason.drop_null()).to_pylist():
            counts["dropped_" + item["values"]] += item["counts"]
        table = table.filter(pc.is_null(reason))
    return table.append_column("url_hash", pa.array(crc32_column(table["url"]), pa.uint32()))


@dataclass(frozen=True)
class DumpInput:
    """Pass 1's task: one dump or URL list."""

    path: str


@dataclass(frozen=True)
class BucketInput:
    """Pass 2's task: the files of one URL-hash bucket (one per pass-1 shard that had rows for it)."""

    files: tuple[str, ...]


def map_shard(cfg: UrlsConfig, dataset: Path, task: ShardTask[DumpInput]) -> ShardOutput:
    """Pass 1 on one input file: kept submissions, appended to their URL-hash bucket files."""
    import numpy as np
    import pyarrow as pa

    path = Path(task.payload.path)
    filt, ufilter, n_buckets = submission_filter(cfg), url_filter(cfg), cfg.buckets
    counts: Counter[str] = Counter()
    pending: list[list[pa.Table]] = [[] for _ in range(n_buckets)]
    rows: list[pa.Table] = []  # kept submissions not yet bucketed
    buffered = kept = unbucketed = 0
    memo: dict = {}  # raw URL -> result, for the URLs the vectorised path leaves to the scalar one

    def bucket(rows: list[pa.Table]) -> None:
        nonlocal buffered, kept
        table = _bucket_table(pa.concat_tables(rows), ufilter, memo, counts)
        rows.clear()
        buckets = (table["url_hash"].to_numpy() % n_buckets).astype(np.int64)
        order = np.argsort(buckets, kind="stable")
        table = table.take(pa.array(order))
        bounds = np.searchsorted(buckets[order], np.arange(n_buckets + 1))
        for b in range(n_buckets):
            if bounds[b + 1] > bounds[b]:
                pending[b].append(table.slice(bounds[b], bounds[b + 1] - bounds[b]))
        kept += table.num_rows
        buffered += table.num_rows

    def flush(writers: ParquetWriterSet) -> None:
        for b, parts in enumerate(pending):
            if parts:
                writers.write(b, side_dir(dataset, f"b{b:05d}") / part_name(task.index), pa.concat_tables(parts))
                parts.clear()

    started = last_report = time.monotonic()
    with ParquetWriterSet(compression="lz4", plain=True) as writers:
        for batch in read_submission_tables(path, filt, counts):
            if time.monotonic() - last_report > PROGRESS_SECONDS:  # a dump can take an hour: say where we are
                last_report = time.monotonic()
                log.info("%s: %s lines, %s kept, %.0f lines/s", path.name, f"{counts['lines']:,}", f"{kept:,}",
                         counts["lines"] / (last_report - started))
            rows.append(batch)
            unbucketed += batch.num_rows
            if unbucketed >= BATCH_ROWS:
                bucket(rows)
                unbucketed = 0
            if buffered >= FLUSH_ROWS:
                flush(writers)
                buffered = 0
        if rows:
            bucket(rows)
        flush(writers)
    counts["kept_submissions"] = kept
    counts.setdefault("lines", 0)
    counts["total"], counts["kept"] = counts["lines"], kept  # the books: each line is kept or dropped_<reason>
    return ShardOutput(files=writers.paths(), counts=dict(counts), rows=writers.rows())


# ---------------------------------------------------------------------------------------------
# Pass 2: reduce one bucket into URL rows


def _sorted_lists(column):
    """Each list of a list<string> column sorted: the same rows give the same bytes in any order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    values = pc.list_flatten(arr)
    order = pc.sort_indices(
        pa.table({"p": pc.list_parent_indices(arr), "v": values}), sort_keys=[("p", "ascending"), ("v", "ascending")]
    )
    offsets = pc.subtract(arr.offsets, arr.offsets[0])
    return pa.ListArray.from_arrays(offsets, values.take(order))


def _karma_filter(table, karma_mode: str, min_karma: int):
    """(row mask, distinct URLs): the row's URL has karma >= ``min_karma`` (max or sum over its
    submissions, nulls skipped), or no karma at all (URLs from plain lists: kept, the user listed
    them on purpose)."""
    import pyarrow.compute as pc

    g = table.group_by("url", use_threads=False).aggregate([("score", karma_mode)])
    karma = g[f"score_{karma_mode}"]
    good = g["url"].filter(pc.fill_null(pc.greater_equal(karma, min_karma), True))
    return pc.is_in(table["url"], good), g.num_rows


def aggregate_bucket(table, karma_mode: str, min_karma: int):
    """Aggregate submission rows of one bucket into URL rows; returns (table, counts)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counts: dict[str, int] = {"submissions_in": table.num_rows}
    # The same submission can arrive twice (an RS_ and an RS_v2_ dump of one month): count it once.
    table = table.drop_columns(["url_hash"]) if "url_hash" in table.column_names else table
    if table["submission_id"].null_count:
        has_id = pc.is_valid(table["submission_id"])
        with_id, without_id = table.filter(has_id), table.filter(pc.invert(has_id))
    else:  # the usual bucket (dumps only): no copy
        with_id, without_id = table, table.slice(0, 0)
    counts["duplicate_submissions"] = 0
    if with_id.num_rows and pc.count_distinct(with_id["submission_id"]).as_py() < with_id.num_rows:
        once = with_id.group_by(["submission_id", "url"], use_threads=False).aggregate(
            [("url_raw", "first"), ("domain", "first"), ("score", "max"), ("subreddit", "first"),
             ("created_utc", "min")]
        )
        once = once.rename_columns(
            {"url_raw_first": "url_raw", "domain_first": "domain", "score_max": "score",
             "subreddit_first": "subreddit", "created_utc_min": "created_utc"}
        ).select(table.schema.names)
        counts["duplicate_submissions"] = with_id.num_rows - once.num_rows
        table = pa.concat_tables([once.cast(table.schema), without_id])
    # The karma filter is decided first, on two cheap columns: only the URLs it keeps (a minority
    # in real dumps) go through the sort and the list aggregations below.
    keep, counts["urls"] = _karma_filter(table, karma_mode, min_karma)
    table = table.filter(keep)
    # Earliest submission first, so "first" picks the spelling that was posted first.
    table = table.sort_by([("url", "ascending"), ("created_utc", "ascending"), ("url_raw", "ascending")])
    only_valid = pc.CountOptions(mode="only_valid")
    g = table.group_by("url", use_threads=False).aggregate(
        [
            ("url_raw", "first"),
            ("domain", "first"),
            ("score", "max"),
            ("score", "sum"),
            ("url_raw", "count", pc.CountOptions(mode="all")),
            ("submission_id", "distinct", only_valid),
            ("subreddit", "distinct", only_valid),
            ("created_utc", "min"),
            ("url_raw", "distinct", only_valid),
        ]
    )
    karma = g["score_max"] if karma_mode == "max" else g["score_sum"]
    out = pa.table(
        {
            "url": g["url"],
            "url_raw": g["url_raw_first"],
            "domain": g["domain_first"],
            "karma": karma,
            "karma_max": g["score_max"],
            "karma_sum": g["score_sum"],
            "n_submissions": g["url_raw_count"],
            "submission_ids": _sorted_lists(g["submission_id_distinct"]),
            "subreddits": _sorted_lists(g["subreddit_distinct"]),
            "first_created_utc": g["created_utc_min"],
            "raw_urls": _sorted_lists(g["url_raw_distinct"]),
        }
    ).cast(urls_schema())
    counts["urls_unknown_karma"] = pc.sum(pc.is_null(out["karma"]).cast(pa.int64())).as_py() or 0
    out = out.sort_by("url")
    counts["dropped_karma"] = counts["urls"] - out.num_rows
    counts["kept_urls"] = out.num_rows
    return out, counts


def _read_subpass(files: list[str], n_buckets: int, passes: int, j: int):
    """The rows of a bucket whose URL falls in sub-pass ``j`` of ``passes`` (all rows if 1)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = _bucket_schema()
    parts = []
    for f in files:
        try:
            source = open_stream(f)
            # small rows: batches of 4 MiB (the default) made this reduce ~9% slower than 65,536-row ones
            for batch in stream_batches(source, max_rows=65_536, max_bytes=16 << 20):
                table = pa.Table.from_batches([batch]).cast(schema)
                table = table.set_column(1, "url_raw", pc.coalesce(table["url_raw"], table["url"]))
                if passes > 1:
                    h = table["url_hash"].to_numpy()
                    table = table.filter(pa.array((h // n_buckets) % passes == j))
                parts.append(table)
        except (OSError, ValueError) as exc:
            raise ShardError(f"cannot read bucket file: {exc}", path=f) from exc
    return pa.concat_tables(parts) if parts else schema.empty_table()


def reduce_shard(cfg: UrlsConfig, dataset: Path, task: ShardTask[BucketInput]) -> ShardOutput:
    """Pass 2 on one bucket: URL rows, aggregated in sub-passes of at most ``reduce_rows`` rows."""
    import pyarrow.parquet as pq

    files = task.payload.files
    total = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    passes = max(1, -(-total // cfg.reduce_rows))
    counts: Counter[str] = Counter()
    path = dataset / part_name(task.index)
    writer = ParquetStreamWriter(path, urls_schema())
    try:
        for j in range(passes):
            table = _read_subpass(files, cfg.buckets, passes, j)
            out, sub_counts = aggregate_bucket(table, cfg.karma_mode, cfg.min_karma)
            counts.update(sub_counts)
            writer.write(out)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    counts["reduce_passes"] = passes
    # The books count distinct URLs (submissions fan in to them: submissions_in, duplicate_submissions).
    counts["total"], counts["kept"] = counts["urls"], counts["kept_urls"]
    return ShardOutput(files=[path], counts=dict(counts), rows={str(path): writer.rows})


# ---------------------------------------------------------------------------------------------
# Driver


def run_urls(cfg: UrlsConfig, out: Path, runner: Runner) -> Manifest:
    """Run both passes into ``out``; returns the final manifest (reruns skip finished work)."""
    import functools

    out = Path(out)
    files = dump_files(cfg.inputs, is_supported_input)
    config = resolved_config(cfg)
    buckets_dir = side_dir(out, "buckets")
    log.info("urls: %d input file(s), %d buckets", len(files), cfg.buckets)
    mapped = run_stage(
        stage="urls.buckets",
        dataset=buckets_dir,
        config=config,
        inputs=[input_identity(f) for f in files],
        tasks=[ShardTask(i, f.name, DumpInput(str(f))) for i, f in enumerate(files)],
        shard_fn=functools.partial(map_shard, cfg, buckets_dir),
        runner=runner,
        side_dirs=[side_name("b[0-9][0-9][0-9][0-9][0-9]")],
    )
    per_bucket: dict[int, list[str]] = {b: [] for b in range(cfg.buckets)}
    for entry in mapped.files():
        b = int(str(legacy_name(entry.path.split("/", 1)[0]))[1:])
        per_bucket[b].append(str(buckets_dir / entry.path))
    submissions = {k: v for k, v in mapped.stats.items() if k not in ("shards", "wall_seconds", "retries")}
    return run_stage(
        stage="urls",
        dataset=out,
        config=config,
        inputs=[input_identity(buckets_dir)],
        tasks=[ShardTask(b, f"bucket {b:05d}", BucketInput(tuple(fs))) for b, fs in per_bucket.items()],
        shard_fn=functools.partial(reduce_shard, cfg, out),
        runner=runner,
        parts=[buckets_dir.name],
        extra_stats={"submissions": submissions},
    )
