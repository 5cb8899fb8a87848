"""`webtext-build demo`: the README's main command builds its sample and runs every stage."""

from __future__ import annotations

import zstandard

from webtext.cli import main
from webtext.data import verify_dataset


def test_demo_runs_every_stage(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--runner", "local", "--submissions", "6000"]) == 0
    out = capsys.readouterr().out
    assert "urls:" in out and "distinct URLs" in out
    assert "crawl:" in out and "pages stored in WARC" in out
    assert "extract:" in out and "documents" in out
    assert verify_dataset(tmp_path / "urls")[1] == []
    assert verify_dataset(tmp_path / "crawl")[1] == []
    import pyarrow.parquet as pq

    log = pq.read_table(sorted((tmp_path / "crawl").glob("part-*.parquet"))).to_pylist()
    stored = [r for r in log if r["warc_file"]]
    assert len(stored) > 100
    errors = {r["error"].split(":")[0] for r in log if r["error"]}
    assert {"robots", "not_html", "skipped"} <= errors  # /private/, pdf/png, URLs off the demo web
    assert any(r["status"] == 404 for r in log)
    assert verify_dataset(tmp_path / "extract")[1] == []
    docs = pq.read_table(sorted((tmp_path / "extract").glob("part-*.parquet"))).to_pylist()
    assert len(docs) > 100 and all(d["karma"] is not None and d["lang"] == "en" for d in docs)
    stored = {(r["warc_file"], r["warc_offset"]) for r in stored}
    assert {(d["warc_file"], d["warc_offset"]) for d in docs} <= stored  # lineage back to the WARC record
    dump = tmp_path / "dumps" / "RS_2017-10.zst"
    params = zstandard.get_frame_parameters(dump.read_bytes()[:18])
    assert params.window_size >= 2**31  # the sample dump needs the long window, as real ones do
    # Run again: everything is already done.
    assert main(["demo", "--out", str(tmp_path), "--runner", "local"]) == 0
