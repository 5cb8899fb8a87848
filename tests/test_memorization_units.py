"""memorization without training: clean/dirty subsets and the bootstrap against a direct
computation on made-up tables, the KV-cached decoder against a plain loop, and bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from webtext.errors import ConfigError
from webtext.memorization import clean_dirty


def table(n: int, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(5, 40, n)
    return {"example": np.arange(n), "loglikelihood": -rng.uniform(1, 4, n) * tokens, "n_tokens": tokens,
            "n_words": tokens // 2 + 1, "n_bytes": tokens * 4, "correct": rng.random(n) < 0.5}


def direct_rolling(rows: list[int], cols: dict[str, np.ndarray]) -> dict[str, float] | None:
    """The rolling metrics written out by hand (lm-eval's weighting: sums, then the ratio)."""
    if not rows:
        return None
    ll = sum(float(cols["loglikelihood"][i]) for i in rows)
    words = sum(int(cols["n_words"][i]) for i in rows)
    nbytes = sum(int(cols["n_bytes"][i]) for i in rows)
    tokens = sum(int(cols["n_tokens"][i]) for i in rows)
    return {"word_perplexity": math.exp(-ll / words), "byte_perplexity": math.exp(-ll / nbytes),
            "bits_per_byte": -ll / (nbytes * math.log(2)), "token_perplexity": math.exp(-ll / tokens)}


def test_subsets_and_heavy_split_match_a_direct_computation():
    cols = table(30)
    overlap = np.array([0.0, np.nan, 3.0, 15.0, 15.01, 80.0] * 5)  # NaN: no n-grams -> clean; 15% is not heavy
    rep = clean_dirty.task_report("rolling", cols, overlap, 0.15, resamples=50, seed=0)
    subsets = {"all": list(range(30)), "clean": [i for i in range(30) if i % 6 in (0, 1)],
               "dirty": [i for i in range(30) if i % 6 in (2, 3, 4, 5)],
               "heavy": [i for i in range(30) if i % 6 in (4, 5)]}
    for name, rows in subsets.items():
        got = rep[name]
        assert got["n"] == len(rows)
        assert got["loglikelihood_sum"] == pytest.approx(sum(cols["loglikelihood"][i] for i in rows))
        assert got["n_tokens"] == sum(int(cols["n_tokens"][i]) for i in rows)
        assert got["n_words"] == sum(int(cols["n_words"][i]) for i in rows)
        for metric, value in direct_rolling(rows, cols).items():
            assert got[metric] == pytest.approx(value)


def test_bootstrap_interval_matches_a_direct_computation():
    cols = table(25, seed=4)
    overlap = np.where(np.arange(25) % 3 == 0, 40.0, 0.0)
    clean = overlap == 0
    rep = clean_dirty.task_report("rolling", cols, overlap, 0.15, resamples=300, seed=7)
    rng = np.random.default_rng(7)
    deltas = []
    for _ in range(300):
        idx = rng.integers(0, 25, 25)
        rows = list(range(25))
        sample = {k: v[idx] for k, v in cols.items()}
        keep = [j for j in rows if clean[idx[j]]]
        if not keep:
            continue
        whole = direct_rolling(rows, sample)["token_perplexity"]
        deltas.append(direct_rolling(keep, sample)["token_perplexity"] - whole)
    lo, hi = np.percentile(deltas, [2.5, 97.5])
    d = rep["delta"]["token_perplexity"]
    whole, cleaned = direct_rolling(list(range(25)), cols), direct_rolling([i for i in range(25) if clean[i]], cols)
    assert d["value"] == pytest.approx(cleaned["token_perplexity"] - whole["token_perplexity"])
    assert d["ci_low"] == pytest.approx(lo) and d["ci_high"] == pytest.approx(hi)


def test_empty_dirty_set_is_reported_not_a_crash():
    cols = table(10)
    rep = clean_dirty.task_report("lambada", cols, np.zeros(10), 0.15, resamples=20, seed=0)
    assert rep["dirty"]["n"] == 0 and rep["dirty"]["perplexity"] is None and rep["dirty"]["loglikelihood_sum"] == 0
    assert rep["heavy"]["n"] == 0
    assert rep["delta"]["accuracy"]["value"] == 0.0  # clean is all
    assert rep["clean"]["accuracy"] == pytest.approx(cols["correct"].mean())
    rep = clean_dirty.task_report("cbt", cols, np.full(10, 50.0), 0.15, resamples=20, seed=0)  # nothing clean
    assert rep["clean"]["n"] == 0 and rep["delta"]["accuracy"] == {"value": None, "ci_low": None, "ci_high": None}


def test_join_must_be_one_to_one_and_names_both_files():
    ev = table(5)
    co = {"example": np.array([0, 1, 2, 3]), "overlap_percent": np.zeros(4)}
    with pytest.raises(ConfigError, match=r"eval\.parquet.*report\.parquet"):
        clean_dirty.join(ev, co, Path("eval.parquet"), Path("report.parquet"))
    co = {"example": np.array([4, 3, 2, 1, 0]), "overlap_percent": np.array([4.0, 3, 2, 1, 0])}
    assert clean_dirty.join(ev, co, Path("a"), Path("b")).tolist() == [0, 1, 2, 3, 4]


def test_kv_cached_greedy_equals_a_plain_loop():
    import torch

    from webtext.memorization.decode import greedy, sample_top_k
    from webtext.train.model import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, n_head=2, n_embd=32, block_size=40, vocab_size=50)).eval()
    prompts = torch.randint(0, 50, (3, 7))
    seq = prompts.clone()
    with torch.no_grad():
        for _ in range(12):
            seq = torch.cat([seq, model(seq)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(greedy(model, prompts, 12), seq[:, 7:])
    gen = torch.Generator().manual_seed(3)
    a = sample_top_k(model, torch.full((4, 1), 49), 20, 5, gen)
    b = sample_top_k(model, torch.full((4, 1), 49), 20, 5, torch.Generator().manual_seed(3))
    assert a.shape == (4, 20) and torch.equal(a, b)


def _fake_run(run: Path, step: int = 5, tokenizer_hash: str = "abc") -> None:
    """A run folder with one checkpoint record that passes verification (no weights are loaded)."""
    import hashlib

    d = run / f"step-{step}"
    d.mkdir(parents=True)
    (d / "x.distcp").write_bytes(b"weights")
    record = {"format": 1, "step": step, "model_args": {"n_layer": 1}, "tokenizer_hash": tokenizer_hash,
              "files": {"x.distcp": {"bytes": 7, "sha256": hashlib.sha256(b"weights").hexdigest()}}}
    (d / "webtext-checkpoint.json").write_text(json.dumps(record))


def _config(tmp_path: Path, **kw):
    from webtext.memorization.config import MemorizationConfig

    return MemorizationConfig(run=str(tmp_path / "run"), tokens=str(tmp_path / "tokens"),
                              contamination=str(tmp_path / "contamination"), eval=str(tmp_path / "eval"), **kw)


def test_bad_input_errors(tmp_path):
    from webtext.memorization.memorization_stage import check_inputs

    for name in ("run", "tokens", "contamination", "eval"):
        (tmp_path / name).mkdir()
    with pytest.raises(ConfigError, match="no valid step-N checkpoint"):
        check_inputs(_config(tmp_path))
    _fake_run(tmp_path / "run")
    with pytest.raises(ConfigError, match=r"no results\.json"):
        check_inputs(_config(tmp_path))
    results = tmp_path / "eval" / "results.json"
    results.write_text(json.dumps({"tasks": {}}))
    with pytest.raises(ConfigError, match="records no `model`"):
        check_inputs(_config(tmp_path))
    for other in ({"path": str(tmp_path / "elsewhere")}, {"path": str(tmp_path / "run"), "step": 9},
                  {"path": str(tmp_path / "run" / "step-5"), "tokenizer_hash": "zzz"}):
        results.write_text(json.dumps({"model": other, "tasks": {}}))
        with pytest.raises(ConfigError, match="evaluated another model"):
            check_inputs(_config(tmp_path))
    results.write_text(json.dumps({"model": {"path": str(tmp_path / "run" / "step-5"), "step": 5}, "tasks": {}}))
    (tmp_path / "contamination" / "report.json").write_text(json.dumps({"ngram": 8, "mode": "exact"}))
    with pytest.raises(ConfigError, match=r"no corpus.bloom.*--mode bloom.*--exact"):
        check_inputs(_config(tmp_path))
    with pytest.raises(ConfigError, match="tokens"):  # with --exact it gets past the filter, to the tokens
        check_inputs(_config(tmp_path, exact=True))


def test_cli_flags_and_config_keys(tmp_path):
    from webtext.cli import build_parser, config_from_args
    from webtext.memorization.config import MemorizationConfig

    ns = build_parser().parse_args(["memorization", "--run", "r", "--tokens", "t", "--contamination", "c", "--eval",
                                    "e", "--out", "o", "--prefix-tokens", "8", "--exact", "--device", "cpu"])
    cfg = config_from_args(MemorizationConfig, ns)
    assert (cfg.run, cfg.eval, cfg.prefix_tokens, cfg.suffix_tokens, cfg.exact) == ("r", "e", 8, 32, True)
    with pytest.raises(ConfigError, match="heavy_overlap"):
        MemorizationConfig(run="r", tokens="t", contamination="c", eval="e", heavy_overlap=15).validate("")
