"""``extract`` reads a crawl dataset's WARC records through its fetch log: a response record the log does
not point at (a crawl killed after writing it and before logging it, then fetched again) is skipped and
counted as ``unlogged_records``, so the docs equal those of a WARC without it."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from webtext.cli import main
from webtext.data import Manifest, describe_file
from webtext.paths import MANIFEST, side_dir

PARAGRAPH = ("The harbour town kept its old stone pier long after the ferries stopped running, and every summer "
             "the fishing families repaired the nets on it by hand while visitors watched from the cafes. ")


def page(title: str) -> bytes:
    body = "".join(f"<p>{title}: {PARAGRAPH * 3}</p>" for _ in range(4))
    return f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}</article></body></html>" \
        .encode()


def crawl_dataset(root: Path, pages: list[tuple[str, bytes]], logged: list[int]) -> Path:
    """A crawl dataset by hand: a WARC of ``pages`` (response records) and a fetch log pointing at the
    records whose index is in ``logged``; its manifest lists both."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    warc = side_dir(root, "warc") / "part-00000.warc.gz"
    warc.parent.mkdir(parents=True)
    offsets = []
    with open(warc, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for url, body in pages:
            offsets.append(out.tell())
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          http_headers=headers))
    rows = [{"url": pages[i][0], "final_url": pages[i][0], "status": 200, "warc_file": warc.name,
             "warc_offset": offsets[i], "karma": 10 + i, "subreddits": ["r/test"]} for i in logged]
    log = root / "part-00000.parquet"
    pq.write_table(pa.Table.from_pylist(rows), log)
    entries = [asdict(describe_file(root, p)) for p in (log, warc)]
    Manifest(stage="crawl", fingerprint="f", config={}, inputs=[],
             shards=[{"index": 0, "label": "p0", "files": entries, "counts": {}, "seconds": 0}], stats={}).write(root)
    return root


def extracted(crawl: Path, out: Path) -> tuple[list[dict], dict]:
    assert main(["-q", "extract", str(crawl), "--out", str(out), "--runner", "local"]) == 0
    docs = pq.read_table(out / "part-00000.parquet").to_pylist()
    dropped = pq.read_table(side_dir(out, "dropped") / "part-00000.parquet").to_pylist()
    stats = json.loads((out / MANIFEST).read_text())["stats"]
    return [{k: d[k] for k in ("id", "url", "text", "karma")} for d in docs] + dropped, stats


def test_records_the_fetch_log_does_not_point_at_are_never_documents(tmp_path):
    a, b = ("https://a.example/story", page("Alpha")), ("https://b.example/story", page("Beta"))
    clean, clean_stats = extracted(crawl_dataset(tmp_path / "clean", [a, b], logged=[0, 1]), tmp_path / "x1")
    # the crawl was killed after writing a's record and before logging it; the rerun fetched a again
    killed = crawl_dataset(tmp_path / "killed", [a, a, b], logged=[1, 2])
    got, stats = extracted(killed, tmp_path / "x2")
    assert [d["url"] for d in clean] == [a[0], b[0]] and "Alpha" in clean[0]["text"]
    assert got == [{**clean[0], "karma": 11}, {**clean[1], "karma": 12}]  # karma: the row each log points at
    assert stats["unlogged_records"] == 1
    assert stats["total"] == clean_stats["total"] == 2  # the books count documents, not stray records
    assert "unlogged_records" not in clean_stats or clean_stats["unlogged_records"] == 0
