"""The ``crawl`` stage: URLs -> WARC files + a Parquet fetch log, one row per input URL.

Two passes under the runner's contract:

1. ``<out>/__partitions`` (one shard): stream the input URLs and split them by a hash of their
   host into ``input-NNNNN.parquet`` files, so each host lives in exactly one partition and its
   politeness limits (and its ``max_urls_per_host`` cap, applied by the spider) hold; unusable
   URLs are marked to be logged without a request.
2. ``<out>`` (one shard per partition): a scrapy process crawls the partition
   (``webtext.crawl.spider``), writing ``__warc/part-NNNNN.warc.gz`` and fetch-log chunks; the
   shard then merges the chunks into ``part-NNNNN.parquet``. A partition killed mid-way resumes:
   URLs with a logged row are not fetched again and the WARC is cut back to the last record a
   logged row points to (so a torn record from the crash never survives).
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import subprocess
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from webtext import lifeline
from webtext.config import to_dict
from webtext.crawl.config import CrawlConfig
from webtext.data import Manifest, ParquetWriterSet, open_stream, read_parquet, stream_batches, write_parquet
from webtext.errors import ConfigError, ShardError
from webtext.inputs import parquet_files
from webtext.paths import atomic_write_bytes, part_name, side_dir, side_name
from webtext.runner import Runner, ShardOutput, ShardTask, input_identity, run_stage

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 60.0  # how often a running partition reports progress
# How long a rerun waits for a crawler of the same partition that is still alive (one whose driver
# was killed dies within milliseconds through its lifeline; this covers the odd slow exit).
CRAWLER_WAIT_SECONDS = 30.0

#: Columns a urls dataset carries that are lineage, not crawl input.
LINEAGE_SKIP = ("url", "raw_urls", "url_raw", "skip_reason", "host")


def fetch_log_schema(lineage):
    """The fetch log: DESIGN's columns, ``warc_length``, then the input's lineage columns."""
    import pyarrow as pa

    fields = [
        ("url", pa.string()), ("final_url", pa.string()), ("status", pa.int32()), ("content_type", pa.string()),
        ("bytes", pa.int64()), ("fetched_at", pa.timestamp("s", tz="UTC")), ("error", pa.string()),
        ("warc_file", pa.string()), ("warc_offset", pa.int64()), ("warc_length", pa.int64()),
    ]
    return pa.schema(fields + [f for f in lineage if f.name not in dict(fields)])


# ---------------------------------------------------------------------------------------------
# Inputs


def _input_schema(paths: list[Path]):
    """One schema for every input (text files give only ``url``): the partitions' columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schemas = [pa.schema([("url", pa.string())])]
    for path in paths:
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        if path.is_dir() and not files:
            raise ConfigError("inputs", f"no Parquet files directly in {path}")
        for f in files:
            if f.suffix == ".parquet":
                schema = pq.ParquetFile(f).schema_arrow
                if "url" not in schema.names:
                    raise ConfigError("inputs", f"{f} has no `url` column")
                schemas.append(pa.schema([fl for fl in schema if fl.name not in LINEAGE_SKIP[1:]]))
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ConfigError("inputs", f"the inputs' columns do not agree: {exc}") from exc


def _input_batches(paths: list[Path], schema, batch_rows: int = 65_536):
    """Tables with ``schema`` (missing columns null) from Parquet folders/files or text files."""
    import pyarrow as pa

    def conform(table):
        columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
                   for f in schema]
        return pa.table(columns, schema=schema)

    for path in paths:
        files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
        for f in files:
            if f.suffix == ".parquet":
                source = open_stream(f)
                columns = [c for c in source.schema_arrow.names if c in schema.names]
                for batch in stream_batches(source, columns, max_rows=batch_rows):
                    yield conform(pa.Table.from_batches([batch]))
            else:
                urls = [s.strip() for s in f.read_text(encoding="utf-8").splitlines()]
                urls = [u for u in urls if u and not u.startswith("#")]
                for i in range(0, len(urls), batch_rows):
                    yield conform(pa.table({"url": pa.array(urls[i : i + batch_rows], pa.string())}))


def _host_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        return parts.hostname if parts.scheme in ("http", "https") else None
    except ValueError:
        return None


def partition_shard(cfg: CrawlConfig, dataset: Path, task: ShardTask) -> ShardOutput:
    """Pass 1: split the input URLs into host-hash partitions (one shard does them all)."""
    import pyarrow as pa

    hosts: set[str] = set()
    counts: Counter[str] = Counter()
    listed = [h.lower().strip(".") for h in cfg.hosts]
    paths = [Path(p) for p in task.payload]  # the input files, resolved (and checked) by run_crawl
    with ParquetWriterSet() as writers:
        for table in _input_batches(paths, _input_schema(paths)):
            urls = table["url"].to_pylist()
            parts, skips, keep, url_hosts = [], [], [], []
            for i, url in enumerate(urls):
                if url is None:
                    counts["null_urls"] += 1
                    continue
                host = _host_of(url)
                keep.append(i)
                url_hosts.append(host)
                if host is None:
                    parts.append(0)
                    skips.append("invalid_url: not an http(s) URL with a host")
                    continue
                hosts.add(host)
                parts.append(zlib.crc32(host.encode()) % cfg.partitions)
                listed_ok = not listed or any(host == h or host.endswith("." + h) for h in listed)
                skips.append(None if listed_ok else "skipped:host_not_listed")
            table = table.take(pa.array(keep, pa.int64()))
            table = table.append_column("host", pa.array(url_hosts, pa.string()))
            table = table.append_column("skip_reason", pa.array(skips, pa.string()))
            counts["urls"] += table.num_rows
            for p in sorted(set(parts)):
                writers.write(p, dataset / f"input-{p:05d}.parquet", table.filter(pa.array([q == p for q in parts])))
    counts["hosts"] = len(hosts)
    counts["partitions_used"] = len(writers.writers)
    counts["total"] = counts["urls"] + counts["null_urls"]
    counts["kept"], counts["dropped_null_url"] = counts["urls"], counts["null_urls"]
    return ShardOutput(files=writers.paths(), counts=dict(counts), rows=writers.rows())

# ---------------------------------------------------------------------------------------------
# Pass 2: one crawl process per partition


def _paths(out: Path, index: int) -> dict[str, Path]:
    return {
        "part": out / part_name(index),
        "warc": side_dir(out, "warc") / f"part-{index:05d}.warc.gz",
        "chunks": side_dir(out, "log-chunks") / f"{index:05d}",
        "job": side_dir(out, "log-chunks") / f"{index:05d}" / "job.json",
        "done": side_dir(out, "log-chunks") / f"{index:05d}" / "done.parquet",
        "process_log": side_dir(out, "logs") / f"part-{index:05d}.log",
    }


def _logged_rows(chunks: Path):
    import pyarrow as pa

    files = sorted(chunks.glob("chunk-*.parquet"))
    tables = [read_parquet(f) for f in files]
    return pa.concat_tables(tables, promote_options="permissive") if tables else None


def _resume_point(chunks: Path, warc: Path) -> int:
    """Make the logged rows and the WARC agree after a crash; return how many rows are kept.

    Rows are written only after the WARC records they point to were handed to the OS, so after
    a killed process the WARC is at least as long as the rows say: it is cut back to the end of
    the last logged record (dropping a torn or unlogged tail). After a machine crash the WARC may
    be *shorter*: rows pointing past its end are forgotten, and those URLs are fetched again.
    """
    import pyarrow.compute as pc

    logged = _logged_rows(chunks)
    size = warc.stat().st_size if warc.exists() else 0
    end = 0
    if logged is not None and "warc_offset" in logged.column_names and logged.num_rows:
        ends = pc.fill_null(pc.add(logged["warc_offset"].cast("int64"), logged["warc_length"].cast("int64")), 0)
        if (pc.max(ends).as_py() or 0) > size:
            lost = pc.greater(ends, size)
            log.warning("%s: %d logged records are missing from the WARC; fetching them again", warc.name,
                        pc.sum(lost.cast("int64")).as_py())
            logged = logged.filter(pc.invert(lost))
            for old in chunks.glob("chunk-*.parquet"):
                old.unlink()
            write_parquet(chunks / "chunk-000000.parquet", logged)
            ends = pc.fill_null(pc.add(logged["warc_offset"].cast("int64"), logged["warc_length"].cast("int64")), 0)
        end = (pc.max(ends).as_py() or 0) if logged.num_rows else 0
    if size != end:
        log.info("%s: cutting %d unlogged or torn bytes from the end", warc.name, size - end)
        with open(warc, "r+b") as f:
            f.truncate(end)
    if logged is not None:
        write_parquet(chunks / "done.parquet", logged.select(["url"]))
    return 0 if logged is None else logged.num_rows


def _wait_for_old_crawler(chunks: Path, index: int) -> None:
    """Return once no crawler of this partition is running: wait up to ``CRAWLER_WAIT_SECONDS``,
    then refuse rather than write the WARC beside it (two writers would store pages twice)."""
    from webtext.crawl.spider.process import CRAWLER_LOCK

    lock = chunks / CRAWLER_LOCK
    deadline = time.monotonic() + CRAWLER_WAIT_SECONDS
    with open(lock, "a+") as f:
        warned = False
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return  # released on close: the new crawler takes it
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "pid unknown"
                if time.monotonic() > deadline:
                    raise ShardError(f"a crawler of partition {index:05d} is still running ({holder}); stop it "
                                     "(kill <pid>) and rerun", path=str(lock)) from None
                if not warned:
                    log.warning("partition %05d: a crawler is still running (%s); waiting up to %.0f s for it to end",
                                index, holder, CRAWLER_WAIT_SECONDS)
                    warned = True
                time.sleep(0.2)


@dataclass(frozen=True)
class PartitionInput:
    """Pass 2's task: one host-hash partition of the URLs (a Parquet file of pass 1)."""

    input: str


def crawl_shard(cfg: CrawlConfig, dataset: Path, task: ShardTask[PartitionInput]) -> ShardOutput:
    """Pass 2 on one partition: run the scrapy process, then merge its log into the main table."""
    import pyarrow as pa
    import pyarrow.compute as pc

    paths = _paths(dataset, task.index)
    paths["chunks"].mkdir(parents=True, exist_ok=True)
    paths["warc"].parent.mkdir(parents=True, exist_ok=True)
    paths["process_log"].parent.mkdir(parents=True, exist_ok=True)
    _wait_for_old_crawler(paths["chunks"], task.index)
    resumed = _resume_point(paths["chunks"], paths["warc"])
    if resumed:
        log.info("partition %05d: resuming, %d URLs already logged", task.index, resumed)
    job = {
        "config": to_dict(cfg),
        "partition": task.payload.input,
        "warc": str(paths["warc"]),
        "log_chunks": str(paths["chunks"]),
        "done": str(paths["done"]) if resumed else "",
    }
    atomic_write_bytes(paths["job"], json.dumps(job).encode())
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(paths["process_log"], "ab") as out:
        # a lifeline: a SIGKILLed stage runs no ``finally``, and its crawler must not outlive it
        proc, line = lifeline.popen([sys.executable, "-m", "webtext.crawl.spider.process", str(paths["job"])],
                                    stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                try:
                    code = proc.wait(timeout=PROGRESS_SECONDS)
                    break
                except subprocess.TimeoutExpired:  # a partition can take hours: say where it is
                    chunks = len(list(paths["chunks"].glob("chunk-*.parquet")))
                    log.info("partition %05d: ~%d URLs logged so far (%s)", task.index, chunks * cfg.log_chunk_rows,
                             paths["process_log"])
        finally:
            if proc.poll() is None:  # we are being stopped: do not leave the crawl running
                proc.kill()
                proc.wait()
            line.cut()
    if code != 0:
        raise ShardError(f"crawl process exited with status {code}; see {paths['process_log']}",
                         path=task.payload.input)

    inputs = read_parquet(Path(task.payload.input))
    lineage = [f for f in inputs.schema if f.name not in LINEAGE_SKIP]
    schema = fetch_log_schema(lineage)
    logged = _logged_rows(paths["chunks"])
    rows = [] if logged is None else logged.to_pylist()
    by_url = {r["url"]: r for r in rows}  # a URL logged twice (resume overlap): the last row wins
    counts: Counter[str] = Counter()
    for row in inputs.to_pylist():  # a URL listed twice in the input is fetched and logged once
        if row["url"] not in by_url:  # never reached a pipeline: still gets its row
            counts["no_result"] += 1
            by_url[row["url"]] = {"url": row["url"], "error": "internal:no_result",
                                  **{f.name: row.get(f.name) for f in lineage}}
    distinct = list(dict.fromkeys(inputs["url"].to_pylist()))
    table = pa.Table.from_pylist([by_url[u] for u in distinct],
                                 schema=schema.remove(schema.get_field_index("fetched_at")).append(
                                     pa.field("fetched_at", pa.string())))
    fetched = pc.cast(table["fetched_at"], pa.timestamp("s", tz="UTC"))
    table = table.set_column(table.schema.get_field_index("fetched_at"), "fetched_at", fetched).select(schema.names)
    table = table.cast(schema)
    write_parquet(paths["part"], table)
    counts["urls"] = table.num_rows
    # The books: input rows -> one fetch-log row per distinct URL; ``stored`` of them also have WARC
    # records (fan-out: a request and a response record each), the rest an ``error_<kind>``.
    counts["total"], counts["kept"] = inputs.num_rows, table.num_rows
    counts["dropped_duplicate_url"] = inputs.num_rows - table.num_rows
    counts["stored"] = table.num_rows - table["warc_file"].null_count
    counts["warc_records"] = 2 * counts["stored"]  # spider/pipelines.py writes a request and a response record
    for err in table["error"].to_pylist():
        if err:
            counts["error_" + err.split(":", 1)[0].split(" ", 1)[0]] += 1
    for status in table["status"].to_pylist():
        if status is not None:
            counts[f"status_{status}"] += 1
    files = [paths["part"]]
    if paths["warc"].exists():
        files.append(paths["warc"])
    return ShardOutput(files=files, counts=dict(counts), rows={str(paths["part"]): table.num_rows})


def run_crawl(cfg: CrawlConfig, out: Path, runner: Runner) -> Manifest:
    """Partition the URLs, crawl every partition, return the manifest (reruns resume)."""
    out = Path(out)
    config = to_dict(cfg)
    for i, p in enumerate(cfg.inputs):
        if not Path(p).exists():
            raise ConfigError(f"inputs[{i}]", f"input not found: {p}")
    inputs = [input_identity(Path(p)) for p in cfg.inputs]
    # a urls dataset is read through its manifest (exactly the files it lists, checked); text files as given
    files = tuple(str(f) for p in cfg.inputs for f in (parquet_files([p]) if Path(p).is_dir() else [Path(p)]))
    parts_dir = side_dir(out, "partitions")
    parted = run_stage(
        stage="crawl.partitions", dataset=parts_dir, config=config, inputs=inputs,
        tasks=[ShardTask(0, "partition URLs by host", files)],
        shard_fn=functools.partial(partition_shard, cfg, parts_dir),
        runner=runner, side_dirs=["input-*"],
    )
    tasks = []
    for entry in parted.files():
        index = int(entry.path.split("-")[1].split(".")[0])
        tasks.append(ShardTask(index, entry.path, PartitionInput(str(parts_dir / entry.path))))
    return run_stage(
        stage="crawl", dataset=out, config=config, inputs=[input_identity(parts_dir)], tasks=tasks,
        shard_fn=functools.partial(crawl_shard, cfg, out), runner=runner, parts=[parts_dir.name],
        side_dirs=[side_name("warc"), side_name("log-chunks"), side_name("logs")],
    )

