# ruff: noqa: F811 (the fixtures imported from train_fixtures are arguments of the tests)
"""``export-hf`` writes a complete Hugging Face folder: transformers' own loaders read the
tokenizer and generate with the model.

Two tokenizers: the 500-token byte-level BPE the train fixtures train with ``tokenizers`` (what
``train-tokenizer`` runs), and GPT-2's own files (../shared/data/gpt2-bpe), for which
``vocab.json``/``merges.txt`` must give GPT-2's ids. Parity peer: transformers' GPT2Tokenizer.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata import shared_data
from train_fixtures import base_run, tokens_dir, train  # noqa: F401 (fixtures)

from webtext.cli import main
from webtext.errors import ConfigError
from webtext.tokenize.bpe import load_tokenizer

transformers = pytest.importorskip("transformers")

FILES = {"config.json", "generation_config.json", "tokenizer.json", "vocab.json", "merges.txt",
         "tokenizer_config.json", "special_tokens_map.json", "README.md", "model.safetensors"}


def real_text() -> list[str]:
    wiki = (shared_data("wikitext-2") / "valid.txt").read_text(encoding="utf-8")
    return [wiki[i:i + 2000] for i in range(0, 40_000, 2000)]


@pytest.fixture(scope="module")
def exported(base_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hf") / "model"
    assert main(["-q", "export-hf", str(base_run), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def gpt2_run(tmp_path_factory) -> Path:
    """A 1-step tiny model on Tiny Shakespeare tokenized with GPT-2's own files (vocab 50,257)."""
    root = tmp_path_factory.mktemp("gpt2-run")
    text = (shared_data("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")[:120_000]
    docs = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    (root / "docs").mkdir()
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(len(docs))], "text": docs}),
                   root / "docs" / "part-00000.parquet")
    assert main(["-q", "tokenize", str(root / "docs"), "--tokenizer", str(shared_data("gpt2-bpe")), "--out",
                 str(root / "tokens"), "--val-fraction", "0.1", "--runner", "local"]) == 0
    assert train(root / "tokens", root / "run", 1) == 0
    return root / "run"


def check_tokenizer_parity(folder: Path, texts: list[str], ours) -> None:
    """AutoTokenizer (tokenizer.json) and GPT2Tokenizer from vocab.json + merges.txt alone give our ids."""
    from transformers import AutoTokenizer, GPT2Tokenizer

    fast = AutoTokenizer.from_pretrained(folder)
    assert len(fast) == ours.vocab_size and fast.eos_token_id == ours.eot_id == fast.bos_token_id
    want = ours.encode_batch(texts)
    assert [fast(t)["input_ids"] for t in texts] == want
    assert fast.decode(want[0]) == texts[0]
    pair = folder.parent / f"{folder.name}-pair"
    pair.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(folder / name, pair / name)
    slow = GPT2Tokenizer.from_pretrained(pair)  # (transformers 5 ignores GPT2Tokenizer(vocab_file=...))
    assert len(slow) == ours.vocab_size
    assert [slow(t)["input_ids"] for t in texts] == want


def test_export_hf_writes_every_file_0644(exported):
    assert {p.name for p in exported.iterdir()} == FILES
    for p in exported.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name


def test_trained_tokenizer_loads_in_transformers_with_our_ids(exported, tokens_dir):
    ours = load_tokenizer(Path(json.loads((tokens_dir / "_manifest.json").read_text())["config"]["tokenizer"]))
    check_tokenizer_parity(exported, real_text()[:6], ours)
    special = json.loads((exported / "special_tokens_map.json").read_text())
    assert special == {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}


def test_pipeline_generates_within_the_context(exported):
    torch = pytest.importorskip("torch")
    from transformers import pipeline

    generate = pipeline("text-generation", model=str(exported))
    torch.manual_seed(0)
    out = generate("ROMEO: ", max_new_tokens=12, do_sample=True)[0]["generated_text"]
    assert out.startswith("ROMEO: ") and len(out) > len("ROMEO: ")
    gen = json.loads((exported / "generation_config.json").read_text())
    conf = json.loads((exported / "config.json").read_text())
    assert gen["eos_token_id"] == gen["pad_token_id"] == conf["eos_token_id"] == 499  # <|endoftext|>
    # the default call (pipeline's own 256 new tokens would pass the 128-token context) stays inside it
    ids = generate("ROMEO: ", return_tensors=True)[0]["generated_token_ids"]
    assert 3 <= len(ids) <= conf["n_positions"]


def test_model_card_says_data_steps_tokens(exported, base_run):
    card = (exported / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\npipeline_tag: text-generation\n")
    assert "steps: 6; tokens seen: 3,072 tokens (48 windows of 64)" in card
    assert "tokens dataset: `tokens`" in card and "made from `docs`" in card and "500 tokens" in card
    assert "Not evaluated" in card


def test_model_card_takes_eval_numbers_of_this_checkpoint_only(base_run, tmp_path):
    from train_fixtures import copy_run

    run = copy_run(base_run, tmp_path / "run")
    (tmp_path / "eval").mkdir()
    results = {"model": {"kind": "checkpoint", "path": str((run / "step-6").resolve())},
               "tasks": {"wikitext2": {"ppl": 812.25, "bpb": 3.5}}}
    (tmp_path / "eval" / "results.json").write_text(json.dumps(results))
    assert main(["-q", "export-hf", str(run), "--out", str(tmp_path / "hf")]) == 0
    card = (tmp_path / "hf" / "README.md").read_text()
    assert "| wikitext2 | ppl | 812.2 |" in card and "Not evaluated" not in card
    results["model"]["path"] = str(run / "step-5")  # another checkpoint's numbers are not this model's
    (tmp_path / "eval" / "results.json").write_text(json.dumps(results))
    assert main(["-q", "export-hf", str(run), "--out", str(tmp_path / "hf")]) == 0
    assert "Not evaluated" in (tmp_path / "hf" / "README.md").read_text()


def test_another_tokenizer_is_refused(base_run, tmp_path):
    from webtext.train.export import export_hf

    with pytest.raises(ConfigError, match="trained with"):
        export_hf(base_run, tmp_path / "hf", shared_data("gpt2-bpe"))
    assert not (tmp_path / "hf").exists()


def test_gpt2_files_export_gives_gpt2_ids_and_generates(gpt2_run):
    from transformers import pipeline

    out = gpt2_run.parent / "hf"
    assert main(["-q", "export-hf", str(gpt2_run), "--out", str(out)]) == 0
    gpt2 = load_tokenizer(shared_data("gpt2-bpe"))
    merges = (out / "merges.txt").read_text(encoding="utf-8").splitlines()
    assert merges[0] == "#version: 0.2" and len(merges) == 50_001
    assert json.loads((out / "vocab.json").read_text(encoding="utf-8")) == json.loads(
        (shared_data("gpt2-bpe") / "encoder.json").read_text(encoding="utf-8"))
    check_tokenizer_parity(out, real_text()[:4], gpt2)
    text = pipeline("text-generation", model=str(out))("Hello", max_new_tokens=5)[0]["generated_text"]
    assert text.startswith("Hello") and len(text) > len("Hello")


def test_export_needs_no_transformers(base_run, tmp_path, monkeypatch):
    """transformers is a test extra only: exporting must not import it."""
    import sys

    from webtext.train.export import export_hf

    for name in [m for m in sys.modules if m == "transformers" or m.startswith("transformers.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "transformers", None)  # any import of it now raises ImportError
    export_hf(base_run, tmp_path / "hf")
    assert {p.name for p in (tmp_path / "hf").iterdir()} == FILES
