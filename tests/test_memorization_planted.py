"""The planted-memorization test: a tiny corpus where some benchmark passages and some documents
are repeated many times, a tiny GPT-2 trained on it with webtext's trainer, and the report must
see it: dirty < clean loss on the benchmark, train extraction above val, the planted documents
among the extracted; and every aggregate in report.json recomputed from the Parquet tables."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from memorization_fixtures import build

from webtext.errors import ConfigError
from webtext.eval.metrics import aggregate
from webtext.memorization.config import MemorizationConfig
from webtext.memorization.memorization_stage import headline, run_memorization, summarise

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a busy 2-core machine: one thread is faster
    try:
        root = tmp_path_factory.mktemp("planted")
        p = build(root)
        cfg = config(root)
        manifest = run_memorization(cfg, root / "mem", None)
        yield p, cfg, manifest
    finally:
        torch.set_num_threads(threads)


def config(root: Path, **kw) -> MemorizationConfig:
    base = {"run": str(root / "run"), "tokens": str(root / "tokens"), "contamination": str(root / "contamination"),
            "eval": str(root / "eval"), "prefix_tokens": 12, "suffix_tokens": 12, "documents": 1000, "samples": 12,
            "sample_tokens": 64, "heldout_tokens": 2048, "bootstrap": 200}
    return MemorizationConfig(**{**base, **kw})


def report(root: Path, name: str = "mem") -> dict:
    return json.loads((root / name / "report.json").read_text())


def test_report_sees_the_planted_memorization(planted):
    p, _, manifest = planted
    rep = report(p.root)
    quiz = rep["clean_vs_dirty"]["quiz"]
    assert quiz["dirty"]["n"] == len(p.dirty_lines) and quiz["clean"]["n"] > 0
    per_token = {s: -quiz[s]["loglikelihood_sum"] / quiz[s]["n_tokens"] for s in ("clean", "dirty")}
    assert per_token["dirty"] < per_token["clean"]  # the repeated passages are memorised
    assert quiz["delta"]["token_perplexity"]["value"] > 0  # dropping dirty examples makes the task look harder
    ex = rep["extraction"]
    assert ex["train"]["exact_match_rate"] > ex["val"]["exact_match_rate"]
    rows = pq.read_table(p.root / "mem" / "extraction" / "part-00000.parquet").to_pylist()
    extracted = {r["id"] for r in rows if r["exact_match"]}
    assert extracted & set(p.planted_ids)
    planted_row = next(r for r in rows if r["id"] in extracted)
    assert planted_row["url"].startswith("https://example.org/planted/") and planted_row["karma"] >= 50  # lineage
    assert planted_row["generated_text"] == planted_row["suffix_text"]
    assert any("asked for 1000" in n for n in rep["notes"])  # fewer eligible documents than asked: said so
    assert len(rep["train_vs_heldout"]) == 2
    assert "train docs" not in summarise(manifest) and "extracted" in summarise(manifest)
    assert any(line.startswith("quiz:") for line in headline(p.root / "mem"))
    for f in ("report.md", "report.html", "plots/train_vs_heldout.png", "plots/sample_overlap.png",
              "plots/extraction.png", "plots/clean_vs_dirty.png"):
        assert (p.root / "mem" / f).is_file(), f


def test_every_aggregate_is_recomputed_from_the_parquet_files(planted):
    p, _, _ = planted
    rep, mem = report(p.root), p.root / "mem"
    ev = {r["example"]: r for r in pq.read_table(p.root / "eval" / "examples" / "quiz.parquet").to_pylist()}
    co = {r["example"]: r for r in pq.read_table(p.root / "contamination" / "examples" / "quiz.parquet").to_pylist()}
    joined = pq.read_table(mem / "clean_vs_dirty" / "quiz.parquet").to_pylist()
    dirty = {i for i, r in co.items() if r["overlap_percent"] > 0}
    heavy = {i for i, r in co.items() if r["overlap_percent"] > 15}
    assert {r["example"] for r in joined if r["dirty"]} == dirty
    assert {r["example"] for r in joined if r["heavy"]} == heavy
    for name, ids in (("all", set(ev)), ("clean", set(ev) - dirty), ("dirty", dirty), ("heavy", heavy)):
        got = rep["clean_vs_dirty"]["quiz"][name]
        rows = [ev[i] for i in sorted(ids)]
        assert got["n"] == len(rows)
        assert got["loglikelihood_sum"] == pytest.approx(sum(r["loglikelihood"] for r in rows))
        assert got["n_tokens"] == sum(r["n_tokens"] for r in rows) and got["n_words"] == sum(r["n_words"] for r in rows)
        cols = {c: [r[c] for r in rows] for c in ("loglikelihood", "n_tokens", "n_words", "n_bytes")}
        for metric, value in aggregate("rolling", cols).items():
            assert got[metric] == pytest.approx(value)
    curve = pq.read_table(mem / "train_vs_heldout" / "part-00000.parquet").to_pylist()
    assert [{k: r[k] for k in ("step", "train_loss", "val_loss")} for r in curve] == rep["train_vs_heldout"]
    ex = pq.read_table(mem / "extraction" / "part-00000.parquet").to_pylist()
    for split in ("train", "val"):
        rows = [r for r in ex if r["split"] == split]
        got = rep["extraction"][split]
        assert got["documents"] == len(rows) > 0
        assert got["exact_match_rate"] == pytest.approx(np.mean([r["exact_match"] for r in rows]))
        assert got["mean_matched_tokens"] == pytest.approx(np.mean([r["matched_tokens"] for r in rows]))
        for r in rows:  # the matched prefix is what the token lists say
            pairs = zip(r["generated_tokens"], r["suffix_tokens"], strict=True)
            m = next((i for i, (a, b) in enumerate(pairs) if a != b), 12)
            assert r["matched_tokens"] == m and r["exact_match"] == (m == 12)
    so = pq.read_table(mem / "sample_overlap" / "part-00000.parquet").to_pylist()
    for key, kind in (("samples", "sample"), ("val_documents", "val_document")):
        vals = [r["overlap_percent"] for r in so if r["kind"] == kind and not math.isnan(r["overlap_percent"])]
        got = rep["sample_overlap"][key]
        assert got["n"] == len(vals) > 0
        assert got["median_percent"] == pytest.approx(float(np.median(vals)))
        assert got["mean_percent"] == pytest.approx(float(np.mean(vals)))
        for r in so:
            if r["n_ngrams"]:
                assert r["overlap_percent"] == pytest.approx(100 * r["n_found"] / r["n_ngrams"])
    # held-out documents are measured against the train documents only: unique val documents share no 8-gram
    assert rep["sample_overlap"]["val_documents"]["median_percent"] == 0.0


def test_rerun_is_skipped_and_exact_mode_needs_no_filter(planted, tmp_path):
    p, cfg, manifest = planted
    again = run_memorization(cfg, p.root / "mem", None)
    assert again.created_at == manifest.created_at
    contamination = tmp_path / "contamination"
    shutil.copytree(p.root / "contamination", contamination)
    (contamination / "corpus.bloom").unlink()
    with pytest.raises(ConfigError, match="--exact"):
        run_memorization(config(p.root, contamination=str(contamination)), tmp_path / "mem", None)
    run_memorization(config(p.root, contamination=str(contamination), exact=True, bootstrap=10), tmp_path / "mem",
                     None)
    exact = json.loads((tmp_path / "mem" / "report.json").read_text())
    assert "exact" in exact["sample_overlap"]["samples"]["reference"]
    assert exact["clean_vs_dirty"]["quiz"]["dirty"] == report(p.root)["clean_vs_dirty"]["quiz"]["dirty"]


def test_eval_of_another_model_is_refused(planted, tmp_path):
    p, _, _ = planted
    shutil.copytree(p.root / "eval", tmp_path / "eval")  # eval's results, relabelled as another run's model
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    results["model"]["path"] = str(tmp_path / "other-run" / Path(results["model"]["path"]).name)
    (tmp_path / "eval" / "results.json").write_text(json.dumps(results))
    with pytest.raises(ConfigError, match="evaluated another model"):
        run_memorization(config(p.root, eval=str(tmp_path / "eval")), tmp_path / "mem", None)
