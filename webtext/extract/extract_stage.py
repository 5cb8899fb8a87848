"""The ``extract`` stage: WARC response records -> the **docs** dataset, one shard per WARC file.

Per record: size cap (before anything parses it), HTTP status and type checks, magic-byte
sniffing (PDFs, images, compressed streams served as text/html never reach a parser), charset
decoding (``webtext.extract.decode``), trafilatura in a watchdog process with a per-document
deadline (``webtext.extract.worker``), then GPT-2-style cleaning (``webtext.extract.cleaning``).
Every record ends as a document or as a row in ``__dropped/`` with its reason. When the input is
a crawl dataset, its records are read through its fetch log: karma and subreddits come from it (joined
on WARC file + offset), and a response record it does not point at (written by a crawl killed before
it logged the fetch) is skipped and counted as ``unlogged_records``, never made a document.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from webtext.config import to_dict
from webtext.data import Manifest, write_parquet
from webtext.errors import ShardError
from webtext.extract.config import ExtractConfig
from webtext.inputs import warc_files
from webtext.paths import part_name, side_dir, side_name
from webtext.runner import LocalRunner, Runner, ShardOutput, ShardTask, input_identity, run_stage
from webtext.textforms import HTML_TYPES

if TYPE_CHECKING:
    from webtext.extract.worker import Extractor

log = logging.getLogger(__name__)


def docs_schema():
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("url", pa.string()), ("domain", pa.string()), ("text", pa.string()),
        ("title", pa.string()), ("date", pa.string()), ("karma", pa.int64()), ("subreddits", pa.list_(pa.string())),
        ("n_chars", pa.int64()), ("n_words", pa.int64()), ("lang", pa.string()), ("warc_file", pa.string()),
        ("warc_offset", pa.int64()),
    ])


def dropped_schema():
    import pyarrow as pa

    return pa.schema([
        ("id", pa.string()), ("url", pa.string()), ("reason", pa.string()), ("detail", pa.string()),
        ("n_words", pa.int64()), ("warc_file", pa.string()), ("warc_offset", pa.int64()),
    ])


def doc_id(url: str) -> str:
    """Stable id: a hash of the normalised URL (of the raw URL if it cannot be normalised)."""
    from webtext.crawl.urls import UrlRejected, normalise_url

    try:
        key = normalise_url(url)
    except UrlRejected:
        key = url
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _domain(url: str) -> str | None:
    from urllib.parse import urlsplit

    from webtext.crawl.urls import domain_of

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return domain_of(host) if host else None


def _lineage(crawl: str | None, warc_name: str) -> dict[int, dict[str, Any]]:
    """Fetch-log rows of one WARC file by record offset (url, karma, subreddits): the fetch log is the crawl
    dataset's main table, read through its manifest (its listed files were checked when the stage started)."""
    if crawl is None:
        return {}
    import pyarrow.parquet as pq

    manifest = Manifest.read(Path(crawl))
    listed = sorted(e.path for e in manifest.files() if "/" not in e.path and e.path.endswith(".parquet")) \
        if manifest is not None else []
    rows: dict[int, dict[str, Any]] = {}
    for f in (Path(crawl) / name for name in listed):
        names = pq.ParquetFile(f).schema_arrow.names
        cols = [c for c in ("url", "warc_file", "warc_offset", "karma", "subreddits") if c in names]
        table = pq.read_table(f, columns=cols, filters=[("warc_file", "=", warc_name)])
        for r in table.to_pylist():
            rows[r["warc_offset"]] = r
    return rows


@dataclass(frozen=True)
class WarcInput:
    """A task: one WARC file, and the crawl dataset it came from (None: a WARC from elsewhere)."""

    path: str
    crawl: str | None


def extract_shard(cfg: ExtractConfig, dataset: Path, task: ShardTask[WarcInput]) -> ShardOutput:
    """One WARC file -> ``part-NNNNN.parquet`` (docs) and ``__dropped/part-NNNNN.parquet``."""
    import pyarrow as pa
    from warcio.exceptions import ArchiveLoadFailed

    from webtext.extract.cleaning import preload_language_model, text_rules
    from webtext.extract.decode import decode_html, sniff_binary
    from webtext.extract.shard_rows import ShardRows, dropped_row
    from webtext.extract.warc_reader import FastArchiveIterator

    path = Path(task.payload.path)
    rules = cfg.quality_rules()
    counts: Counter[str] = Counter()
    timings: dict[str, float] = {}
    ordered = ShardRows(rules if cfg.quality_filters else None, counts)

    def drop(url: str, offset: int, reason: str, detail: str | None = None, n_words: int | None = None) -> None:
        counts["dropped_" + reason] += 1
        ordered.drop(dropped_row(doc_id(url), url, reason, detail, n_words, path.name, offset))

    extractor = _extractor(cfg)
    # One-time start-ups (~0.5 s each: the extraction process, the language model, pyarrow's first table) run side by
    # side instead of one after another.
    extractor.start()
    preload_language_model()
    lineage = _lineage(task.payload.crawl, path.name)
    warm_up = threading.Thread(target=docs_schema().empty_table, name="pyarrow-warm-up", daemon=True)
    warm_up.start()  # after _lineage: pyarrow's lazy pandas import is not made for two threads at once
    restarts_before, waited_before, crashes_before = extractor.restarts, extractor.wait_seconds, extractor.crash_retries
    start = time.perf_counter()

    def pages(records: FastArchiveIterator) -> Iterator[tuple[tuple[str, int, dict[str, Any]], str, str, bytes | None]]:
        """((url, offset, fetch-log row), html, url, the body if it is html in UTF-8) of every record that passes the
        checks; the others dropped."""
        for rec in records:
            if rec.rec_type != "response":
                continue
            body = rec.content_stream().read(cfg.max_bytes + 1)  # before get_record_offset: it spoils the stream
            offset = records.get_record_offset()
            if task.payload.crawl is not None and offset not in lineage:
                # a record the fetch log does not point at (a crawl killed after writing it, before logging it,
                # then fetched again): it is not a document, and not a row of the books either
                counts["unlogged_records"] += 1
                continue
            uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
            known = lineage.get(offset, {})
            url = known.get("url") or uri
            counts["records"] += 1
            http = rec.http_headers
            status = http.get_statuscode() if http is not None else None
            ctype = http.get_header("Content-Type") if http is not None else None
            mime = (ctype or "").split(";", 1)[0].strip().lower()
            if len(body) > cfg.max_bytes:
                drop(url, offset, "too_large", f"> {cfg.max_bytes} bytes")
                continue
            if status is not None and str(status) != "200":
                drop(url, offset, "http_status", str(status))
                continue
            if mime and mime not in HTML_TYPES:
                drop(url, offset, "not_html", mime)
                continue
            if not body.strip():
                drop(url, offset, "empty")
                continue
            kind = sniff_binary(body)
            if kind is not None:
                drop(url, offset, "not_html", f"{kind} bytes served as {mime or 'no type'}")
                continue
            html, encoding = decode_html(body, ctype)
            # a page decoded as UTF-8 goes to the extraction child as these bytes, not encoded again (worker.Outgoing)
            yield (url, offset, known), html, url, body if encoding == "utf-8" else None
        # the file is read: the candidates held so far are identified while the child extracts the last page
        ordered.finish()

    with open(path, "rb") as f:
        try:
            # Records are read and decoded, and results cleaned, while the extraction child works on the next page.
            for (url, offset, known), disposition, result in extractor.map(pages(FastArchiveIterator(f))):
                if disposition == "timeout":
                    drop(url, offset, "timeout", f"> {cfg.doc_timeout} s")
                    continue
                if disposition.startswith("crash"):  # its child died twice: a rerun tries it again (_crashed)
                    drop(url, offset, "extract_crash", disposition[7:])
                    continue
                if disposition != "ok":
                    drop(url, offset, "extract_error", disposition[7:])
                    continue
                if result is None:
                    drop(url, offset, "no_text")
                    continue
                text = result["text"]
                n_words = len(text.split())
                reason, words = text_rules(text, rules, n_words) if cfg.quality_filters else (None, n_words)
                if reason is not None:
                    drop(url, offset, reason, None, n_words)
                    continue
                # the language (rule 6 and the lang column) is filled in a batch at a time (ShardRows)
                ordered.candidate({
                    "id": doc_id(url), "url": url, "domain": _domain(url), "text": text, "title": result["title"],
                    "date": result["date"], "karma": known.get("karma"), "subreddits": known.get("subreddits"),
                    "n_chars": len(text), "n_words": n_words, "lang": None,
                    "warc_file": path.name, "warc_offset": offset,
                }, words)
            ordered.finish()
        except ArchiveLoadFailed as exc:
            raise ShardError(f"not a readable WARC file: {exc}", path=str(path)) from exc
        counts["worker_restarts"] = extractor.restarts - restarts_before
        counts["crash_retries"] = extractor.crash_retries - crashes_before
    timings["extract_seconds"] = round(time.perf_counter() - start, 3)
    # the part of it spent waiting for trafilatura: the rest is this process's own work (reading, decoding,
    # cleaning, language identification) that did not overlap with extraction
    timings["extract_wait_seconds"] = round(extractor.wait_seconds - waited_before, 3)
    docs, dropped = ordered.docs, ordered.dropped
    counts["kept"] = len(docs)
    counts["total"] = counts["records"]
    main = dataset / part_name(task.index)
    side = side_dir(dataset, "dropped") / part_name(task.index)
    warm_up.join()
    write_parquet(main, pa.Table.from_pylist(docs, schema=docs_schema()))
    write_parquet(side, pa.Table.from_pylist(dropped, schema=dropped_schema()))
    return ShardOutput(files=[main, side], counts={**counts, **timings},
                       rows={str(main): len(docs), str(side): len(dropped)})


def _crashed(record: dict[str, Any]) -> bool:
    """A finished shard that dropped pages because their extraction child died: a rerun redoes it."""
    return bool(record.get("counts", {}).get("dropped_extract_crash"))


def _extractor(cfg: ExtractConfig) -> Extractor:
    """This process's extraction child for these settings (``shared_extractor``)."""
    from webtext.extract.worker import ExtractSettings, shared_extractor

    settings = ExtractSettings(favor=cfg.favor, include_tables=cfg.include_tables, dates=cfg.dates)
    return shared_extractor(settings, cfg.doc_timeout)


def run_extract(cfg: ExtractConfig, out: Path, runner: Runner) -> Manifest:
    """Extract every WARC file of the inputs into ``out`` (reruns skip finished files)."""
    out = Path(out)
    warcs = warc_files(cfg.inputs)
    crawls = sorted({c for _, c in warcs if c is not None})
    inputs = [input_identity(c) for c in crawls] + [input_identity(w) for w, c in warcs if c is None]
    tasks = [ShardTask(i, w.name, WarcInput(str(w), str(c) if c else None)) for i, (w, c) in enumerate(warcs)]
    if tasks and isinstance(runner, LocalRunner):
        # the shards run in this process: their extraction child starts up (~0.5 s) while run_stage checks the
        # inputs and the manifest, instead of after
        _extractor(cfg).start()
    return run_stage(
        stage="extract", dataset=out, config=to_dict(cfg), inputs=inputs, tasks=tasks,
        shard_fn=functools.partial(extract_shard, cfg, out), runner=runner, side_dirs=[side_name("dropped")],
        redo_if=_crashed,
    )
