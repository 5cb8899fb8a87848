# ruff: noqa: F811 (the fixtures imported from train_fixtures are arguments of the tests)
"""The eval stage end to end: a train run or an HF folder in, results/examples/manifest out,
reruns skipped, and every bad input stopped with a one-line error naming the fix."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest
from eval_fixtures import make_hf_gpt2, write_lambada
from realdata import shared_data
from train_fixtures import base_run, tokens_dir  # noqa: F401

from webtext.cli import main
from webtext.data import Manifest
from webtext.errors import FatalError
from webtext.eval.config import EvalConfig
from webtext.eval.eval_stage import run_eval, summarise


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory):
    return make_hf_gpt2(tmp_path_factory.mktemp("hf") / "gpt2", shared_data("gpt2-bpe"), n_positions=32,
                        n_embd=16)


@pytest.fixture
def quiz(tmp_path):
    f = tmp_path / "quiz.txt"
    f.write_text("The first passage of the quiz is here.\n\nA second, shorter one.\nAnd a third line to score.\n")
    return f


def error_line(capsys, argv) -> str:
    capsys.readouterr()  # earlier successful runs' log lines are not this run's error
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    return err


@pytest.mark.slow
def test_run_folder_results_examples_rerun_and_export_round_trip(base_run, tokens_dir, quiz, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["eval", str(base_run), "--task", f"quiz=lines:{quiz}", "--out", str(out), "--device", "cpu"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("eval: quiz word ppl ")
    results = json.loads((out / "results.json").read_text())
    assert results["model"]["kind"] == "checkpoint" and results["model"]["step"] == 6
    assert results["windows"] == {"context": 128, "stride": 128, "scheme": "disjoint (lm-eval)",
                                  "truncated_contexts": {"quiz": 0}}
    assert set(results["tasks"]["quiz"]) == {"word_perplexity", "byte_perplexity", "bits_per_byte",
                                             "token_perplexity"}
    rows = pq.read_table(out / "examples" / "quiz.parquet").to_pydict()
    assert rows["example"] == [0, 1, 2] and all(n > 0 for n in rows["n_tokens"])
    assert "| **this model** |" in (out / "results.md").read_text()
    assert "<table>" in (out / "results.html").read_text()
    first = Manifest.read(out)
    assert first is not None and first.stage == "eval"
    assert main(["eval", str(base_run), "--task", f"quiz=lines:{quiz}", "--out", str(out), "--device", "cpu"]) == 0
    assert Manifest.read(out).created_at == first.created_at  # skipped: same config, model and inputs
    # the same weights through export-hf: the same numbers
    hf = tmp_path / "hf"
    assert main(["export-hf", str(base_run), "--out", str(hf)]) == 0
    out2 = tmp_path / "eval-hf"
    assert main(["eval", str(hf), "--tokenizer", str(tokens_dir.parent / "tokenizer"), "--task",
                 f"quiz=lines:{quiz}", "--out", str(out2), "--device", "cpu"]) == 0
    again = json.loads((out2 / "results.json").read_text())["tasks"]["quiz"]
    assert again == pytest.approx(results["tasks"]["quiz"], rel=1e-5)
    # a step-N checkpoint, and the wrong tokenizer for it
    step = base_run / "step-3"
    assert main(["eval", str(step), "--task", f"quiz=lines:{quiz}", "--out", str(tmp_path / "e3")]) == 0
    err = error_line(capsys, ["eval", str(step), "--tokenizer", str(shared_data("gpt2-bpe")), "--task",
                              f"quiz=lines:{quiz}", "--out", str(tmp_path / "e4")])
    assert "model was trained with" in err and "(--tokenizer)" in err


@pytest.mark.slow
def test_hf_folder_bad_inputs_one_line_errors(hf_model, quiz, tmp_path, capsys):
    out = str(tmp_path / "out")
    err = error_line(capsys, ["eval", str(hf_model), "--task", f"demo-quiz={quiz}", "--out", out])
    assert "unknown benchmark name 'demo-quiz'" in err and "lines:PATH" in err and "wikitext2" in err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    assert "no examples" in error_line(capsys, ["eval", str(hf_model), "--task", f"ptb={empty}", "--out", out])
    bad = write_lambada(tmp_path / "l.jsonl", ["ok passage here"])
    bad.write_text(bad.read_text() + json.dumps({"passage": "no text field"}) + "\n")
    err = error_line(capsys, ["eval", str(hf_model), "--task", f"lambada={bad}", "--out", out])
    assert "has no field 'text'" in err
    cbt = tmp_path / "cbt.txt"
    cbt.write_text("1 a story line .\n2 the XXXXX sat .\tcat\t\t\n\n")
    assert "no question line with candidates" in error_line(
        capsys, ["eval", str(hf_model), "--task", f"cbt-ne={cbt}", "--out", out])
    # a folder that is not GPT-2, and a GPT-2 folder without a tokenizer
    llama = tmp_path / "llama"
    llama.mkdir()
    (llama / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert "not GPT-2" in error_line(capsys, ["eval", str(llama), "--task", f"q=lines:{quiz}", "--out", out])
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(hf_model / name, bare / name)
    err = error_line(capsys, ["eval", str(bare), "--task", f"q=lines:{quiz}", "--out", out])
    assert "give --tokenizer" in err
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    assert "neither a train run" in error_line(capsys, ["eval", str(nothing), "--task", f"q=lines:{quiz}",
                                                        "--out", out])


@pytest.mark.slow
def test_non_finite_loss_names_the_example(hf_model, quiz, tmp_path):
    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken"
    shutil.copytree(hf_model, broken)
    weights = load_file(str(broken / "model.safetensors"))
    weights = {k: v.clone() for k, v in weights.items()}
    key = next(k for k in weights if k.endswith("ln_f.weight"))
    weights[key][:] = float("nan")
    save_file(weights, str(broken / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(FatalError, match="example 0"):
        run_eval(EvalConfig(model=str(broken), tasks=[f"q=lines:{quiz}"], device="cpu"), tmp_path / "out")


def test_summarise_and_config_validation():
    m = Manifest(stage="eval", fingerprint="", config={}, inputs=[], shards=[],
                 stats={"tasks": {"lambada": {"perplexity": 12.5, "accuracy": 0.25, "accuracy_stopword_filter": 0.3},
                                  "wikitext2": {"word_perplexity": 30.0, "bits_per_byte": 1.0}},
                        "tokens_scored": 1234, "seconds": 2.0})
    assert summarise(m) == ("eval: lambada ppl 12.500 acc 0.250; wikitext2 word ppl 30.000 "
                            "(1,234 tokens scored in 2.0 s)")
    from webtext.config import from_mapping
    from webtext.errors import ConfigError

    with pytest.raises(ConfigError, match=r"stages\.eval\.stride"):
        from_mapping(EvalConfig, {"model": "m", "tasks": ["a=b"], "context": 8, "stride": 9}, "stages.eval")
    with pytest.raises(ConfigError, match="missing required value") as missing:
        from_mapping(EvalConfig, {"model": "m"}, "")
    from webtext.cli import _flag_of

    assert missing.value.key == "tasks" and _flag_of("tasks") == "--task"  # the CLI names the flag


@pytest.mark.slow
def test_demo_config_scores_the_demo_benchmark(base_run, quiz, tmp_path):
    from webtext.stage_spec import DemoContext
    from webtext.stages import registry

    work = tmp_path / "demo"
    (work / "benchmark").mkdir(parents=True)
    (work / "run").symlink_to(base_run, target_is_directory=True)
    shutil.copy(quiz, work / "benchmark" / "demo-quiz.txt")
    ctx = DemoContext(workdir=work, site=None, dumps=work / "dumps", benchmark=work / "benchmark" / "demo-quiz.txt",
                      outs={"train": work / "run"})
    cfg = registry()["eval"].demo(ctx)
    assert cfg.tasks == [f"demo-quiz=lines:{work / 'benchmark' / 'demo-quiz.txt'}"]
    manifest = run_eval(cfg, work / "eval")
    assert summarise(manifest).startswith("eval: demo-quiz word ppl ")
    assert manifest.stats["examples"] == {"demo-quiz": 3}
