"""eval equals lm-evaluation-harness on the same tiny transformers GPT-2 and the same data:
WikiText-2 pages (rolling log-likelihood, per-word/byte normalisation of the original page) and
LAMBADA-format passages (last-word log-likelihood, greedy match), per example too."""

from __future__ import annotations

import json
import math
import re

import pyarrow.parquet as pq
import pytest
from eval_fixtures import make_hf_gpt2, write_lambada
from realdata import shared_data

from webtext.eval.config import EvalConfig
from webtext.eval.eval_stage import run_eval

pytest.importorskip("lm_eval")

HEADING = re.compile(r"^ = [^=].* = $")

TASK = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: {output_type}
{body}
"""
WIKITEXT_BODY = """\
doc_to_text: ""
doc_to_target: !function utils.wikitext_detokenizer
process_results: !function utils.process_results
metric_list:
  - metric: word_perplexity
  - metric: byte_perplexity
  - metric: bits_per_byte
"""
LAMBADA_BODY = """\
doc_to_text: "{{text.split(' ')[:-1]|join(' ')}}"
doc_to_target: "{{' '+text.split(' ')[-1]}}"
metric_list:
  - metric: perplexity
    aggregation: perplexity
    higher_is_better: false
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def wikitext_pages(text: str) -> list[str]:
    """The acceptance check's page split (shared/checks/eval_parity.py), written independently."""
    pages: list[list[str]] = []
    for line in text.splitlines(keepends=True):
        if HEADING.match(line.rstrip("\n")):
            pages.append([])
        if pages:
            pages[-1].append(line)
    return ["".join(p) for p in pages]


def lm_eval_results(model_dir, work, pages_file, passages_file):
    import lm_eval
    from lm_eval.tasks import TaskManager

    tasks = work / "peer-tasks"
    tasks.mkdir()
    (tasks / "utils.py").write_text(
        "from lm_eval.tasks.wikitext.preprocess_wikitext import process_results, wikitext_detokenizer  # noqa\n")
    (tasks / "wt2_local.yaml").write_text(TASK.format(name="wt2_local", data=pages_file,
                                                      output_type="loglikelihood_rolling", body=WIKITEXT_BODY))
    (tasks / "lambada_local.yaml").write_text(TASK.format(name="lambada_local", data=passages_file,
                                                          output_type="loglikelihood", body=LAMBADA_BODY))
    res = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model_dir},dtype=float32", tasks=["wt2_local", "lambada_local"],
        task_manager=TaskManager(include_path=str(tasks)), batch_size=4, device="cpu", log_samples=True)
    per_example = [s["resps"][0][0][0] for s in sorted(res["samples"]["lambada_local"], key=lambda s: s["doc_id"])]
    return res["results"]["wt2_local"], res["results"]["lambada_local"], per_example


@pytest.mark.slow
def test_equals_lm_eval_on_tiny_gpt2(tmp_path):
    bpe = shared_data("gpt2-bpe")
    wt2 = shared_data("wikitext-2")
    model = make_hf_gpt2(tmp_path / "model", bpe, n_positions=48)
    # three short articles of the real test file (a page longer than 48 tokens: several windows)
    pages = sorted(wikitext_pages((wt2 / "test.txt").read_text(encoding="utf-8")), key=len)[:3]
    test_file = tmp_path / "wiki.test.tokens"
    test_file.write_text("".join(pages), encoding="utf-8")
    pages_file = tmp_path / "pages.jsonl"
    pages_file.write_text("".join(json.dumps({"page": p}) + "\n" for p in pages))
    lines = [x.strip() for x in (wt2 / "valid.txt").read_text(encoding="utf-8").splitlines()
             if len(x.split()) >= 30 and not x.strip().startswith("=")]
    texts = [" ".join(x.split(" ")[:20]) for x in lines[:6]] + [" ".join(lines[6].split(" ")[:90])]  # one cut
    passages = write_lambada(tmp_path / "lambada.jsonl", texts)

    out = tmp_path / "eval"
    run_eval(EvalConfig(model=str(model), tasks=[f"wikitext2={test_file}", f"lambada={passages}"], batch_size=3,
                        device="cpu"), out)
    ours = json.loads((out / "results.json").read_text())
    wt, lb, per_example = lm_eval_results(model, tmp_path, pages_file, passages)

    for metric in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        assert math.isclose(ours["tasks"]["wikitext2"][metric], wt[f"{metric},none"], rel_tol=1e-5), metric
    assert math.isclose(ours["tasks"]["lambada"]["perplexity"], lb["perplexity,none"], rel_tol=1e-5)
    assert ours["tasks"]["lambada"]["accuracy"] == lb["acc,none"]
    rows = pq.read_table(out / "examples" / "lambada.parquet").to_pylist()
    assert [r["example"] for r in rows] == list(range(len(texts)))
    assert max(abs(r["loglikelihood"] - p) for r, p in zip(rows, per_example, strict=True)) < 1e-4
    assert ours["windows"]["truncated_contexts"]["lambada"] == 1
    # per-line rows of WikiText sum to the pages' totals
    wrows = pq.read_table(out / "examples" / "wikitext2.parquet").to_pydict()
    assert sum(wrows["n_words"]) == sum(len(re.split(r"\s+", p)) for p in pages)
    assert sum(wrows["n_bytes"]) == sum(len(p.encode()) for p in pages)
