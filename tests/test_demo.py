"""`webtext-build demo`: the README's main command builds its sample and runs every stage."""

from __future__ import annotations

import pytest
import zstandard

from webtext.cli import main
from webtext.data import verify_dataset


@pytest.mark.slow  # the whole demo: minutes
def test_demo_runs_every_stage(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--runner", "local", "--submissions", "6000"]) == 0
    out = capsys.readouterr().out
    assert "urls:" in out and "distinct URLs" in out
    assert "crawl:" in out and "pages stored in WARC" in out
    assert "extract:" in out and "documents" in out
    assert "dedup:" in out and "near duplicates removed" in out
    assert "eval: demo-quiz word ppl " in out
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
    assert verify_dataset(tmp_path / "dedup")[1] == []
    removed = pq.read_table(sorted((tmp_path / "dedup" / "duplicates").glob("part-*.parquet"))).to_pylist()
    assert {r["kind"] for r in removed} == {"exact", "near"}  # the website plants both kinds
    kept = pq.read_table(sorted((tmp_path / "dedup").glob("part-*.parquet"))).num_rows
    assert kept + len(removed) == len(docs)
    report = [line for line in out.splitlines() if line.startswith("dedup on the demo web")]
    assert report and "caught" in report[0]
    assert verify_dataset(tmp_path / "contamination")[1] == []
    import json

    report = json.loads((tmp_path / "contamination" / "report.json").read_text())
    quiz = report["benchmarks"]["demo-quiz"]
    assert 0 < quiz["overlap_percent"] < 100 and quiz["contaminated_examples"] > 0  # some pages carry passages
    assert (tmp_path / "contamination" / "report.html").exists() and "| this corpus |" in out
    from webtext.tokenize.bpe import load_tokenizer
    from webtext.tokenize.shards import TokenDataset

    tok = load_tokenizer(tmp_path / "tokenizer")
    assert tok.vocab_size == 2048 and tok.eot_id == 2047
    train = TokenDataset(tmp_path / "tokens", "train", tokenizer_hash=tok.content_hash, verify="sha256")
    val = TokenDataset(tmp_path / "tokens", "val")
    assert train.n_documents + val.n_documents == kept and train.n_tokens > 10_000
    _, first = next(train.documents())
    assert first[-1] == tok.eot_id and "bytes per token" in out
    dump = tmp_path / "dumps" / "RS_2017-10.zst"
    params = zstandard.get_frame_parameters(dump.read_bytes()[:18])
    assert params.window_size >= 2**31  # the sample dump needs the long window, as real ones do
    # Run again: everything is already done.
    assert main(["demo", "--out", str(tmp_path), "--runner", "local"]) == 0
