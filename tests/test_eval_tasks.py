"""Each task type on real or made data: the examples (contamination's unit and order), the rows'
counts, and the scores checked against a plain forward pass of the model."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch
from eval_fixtures import write_cbt, write_lambada
from realdata import shared_data

from webtext.contamination.benchmarks import load_benchmark
from webtext.errors import ConfigError
from webtext.eval import tasks as T
from webtext.eval.metrics import aggregate
from webtext.eval.scorer import Scorer
from webtext.train.model import GPT, GPTConfig


@pytest.fixture(scope="module")
def tok():
    from webtext.tokenize.bpe import load_tokenizer

    return load_tokenizer(shared_data("gpt2-bpe"))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = GPT(GPTConfig(n_layer=1, n_head=2, n_embd=16, block_size=32, vocab_size=50257)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(20.0)  # far from uniform: predictions depend on the context
    return m


def token_len(tok) -> np.ndarray:
    out = np.zeros(tok.vocab_size, dtype=np.int64)
    for t, i in tok.ranks.items():
        out[i] = len(t)
    for s, i in tok.specials.items():
        out[i] = len(s.encode())
    return out


def direct_ll(model, ids: list[int], n: int) -> float:
    """Log-likelihood of the last ``n`` of ``ids`` given the rest, with one plain forward pass."""
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids[:-1]])).float(), -1)[0]
    return float(sum(logp[len(ids) - 1 - n + k, ids[len(ids) - n + k]] for k in range(n)))


def score_rolling(task, tok, model, stride=32):
    plan = T.plan_rolling(task, tok, token_len(tok), 32, stride)
    return T.finish_rolling(plan, Scorer(model, batch_size=5).score(plan.requests))


def test_wikitext2_real_pages_rows_are_contamination_lines(tok, model, tmp_path):
    lines = (shared_data("wikitext-2") / "test.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    heads = [i for i, line in enumerate(lines) if re.match(r"^ = [^=].* = $", line.rstrip("\n"))]
    picked = lines[: heads[0] + 12] + lines[heads[1]: heads[1] + 8]  # two real articles' openings
    small = tmp_path / "wiki.test.tokens"
    small.write_text("".join(picked), encoding="utf-8")
    task = T.load_task(f"wikitext2={small}")
    assert task.method == "rolling" and len(task.documents) == 2
    rows = score_rolling(task, tok, model)
    examples = load_benchmark(f"wikitext2={small}").examples
    assert rows["example"] == list(range(len(examples)))  # nothing precedes the first heading but a blank line
    page_words = sum(len(re.split(r"\s+", d.text)) for d in task.documents)
    assert sum(rows["n_words"]) == page_words
    assert sum(rows["n_bytes"]) == sum(len(d.text.encode()) for d in task.documents)
    # each page's rolling log-likelihood from lm-eval's own windows and a plain forward pass
    utils = pytest.importorskip("lm_eval.utils")
    total, n_tokens = 0.0, 0
    for d in task.documents:
        ids = tok.encode_batch([T.DETOKENIZERS["wikitext2"](d.text)])[0]
        n_tokens += len(ids)
        for c, b in map(utils.make_disjoint_window, utils.get_rolling_token_windows(ids, tok.eot_id, 32, 1)):
            total += direct_ll(model, (c + b)[-33:], len(b))
    assert math.isclose(sum(rows["loglikelihood"]), total, rel_tol=1e-5)
    assert sum(rows["n_tokens"]) == n_tokens
    assert all(n > 0 for n in rows["n_tokens"])  # every line got its own tokens
    m = aggregate("rolling", rows)
    assert math.isclose(m["word_perplexity"], math.exp(-total / page_words), rel_tol=1e-4)


def test_ptb_real_lines_with_overlapping_windows(tok, model, tmp_path):
    lines = (shared_data("ptb") / "ptb.test.txt").read_text(encoding="utf-8").splitlines(keepends=True)[:40]
    f = tmp_path / "ptb.test.txt"
    f.write_text("".join(lines), encoding="utf-8")
    task = T.load_task(f"ptb={f}")
    assert len(task.documents) == 1 and task.detokenize is T.DETOKENIZERS["ptb"]
    disjoint = score_rolling(task, tok, model, stride=32)
    overlap = score_rolling(task, tok, model, stride=8)
    assert disjoint["example"] == overlap["example"] == list(range(40))
    assert disjoint["n_tokens"] == overlap["n_tokens"]  # same tokens, each scored once
    assert sum(disjoint["n_words"]) == len(re.split(r"\s+", "".join(lines)))
    assert disjoint["loglikelihood"] != overlap["loglikelihood"]  # more context per token


def test_lambada_accuracy_and_rows(tok, model, tmp_path):
    texts = ["the quick brown fox jumps over the lazy dog", "she opened the door and saw her old friend Marcus",
             "a b", "one"]
    task = T.load_task(f"lambada={write_lambada(tmp_path / 'l.jsonl', texts)}")
    requests, cut = T.plan_lambada(task, tok, 32)
    mask = torch.from_numpy(T.stopword_mask(_token_bytes(tok), 50257))
    scored = Scorer(model, filter_mask=mask).score(requests)
    rows = T.finish_lambada(task, scored, tok.decode)
    assert cut == 0 and rows["example"] == [0, 1, 2, 3]
    for text, r, ll, ok in zip(texts, requests, rows["loglikelihood"], rows["correct"], strict=True):
        assert tok.decode(r.targets) == " " + text.split(" ")[-1]
        ids = [*r.ids, r.targets[-1]]
        assert math.isclose(ll, direct_ll(model, ids, len(r.targets)), rel_tol=1e-4)
        with torch.no_grad():
            pred = model(torch.tensor([r.ids]))[0, -len(r.targets):].argmax(-1).tolist()
        assert ok == (pred == r.targets)
    m = aggregate("lambada", rows)
    assert math.isclose(m["perplexity"], math.exp(-np.mean(rows["loglikelihood"])))
    assert rows["n_words"] == [1, 1, 1, 1]


def _token_bytes(tok) -> list[bytes]:
    out = [b""] * tok.vocab_size
    for t, i in tok.ranks.items():
        out[i] = t
    return out


def test_stopword_mask_marks_whole_stopword_tokens_only(tok):
    mask = T.stopword_mask(_token_bytes(tok), tok.vocab_size)
    enc = tok.encode_batch([" the", "The", " of", " dog", " theory"])
    assert [bool(mask[e[0]]) for e in enc] == [True, True, True, False, False]


def test_cbt_picks_the_most_probable_candidate(tok, model, tmp_path):
    story = [f"line {i} of the story about a cat and a king ." for i in range(1, 21)]
    blocks = [(story, "the XXXXX sat on the mat .", "cat", ["dog", "cat", "king"]),
              (story, "and then the XXXXX left .", "king", ["king", "story"])]
    task = T.load_task(f"cbt-cn={write_cbt(tmp_path / 'cbt.txt', blocks)}")
    assert [q.answer for q in task.questions] == ["cat", "king"]
    requests, _ = T.plan_cbt(task, tok, 32)
    assert len(requests) == 5
    rows = T.finish_cbt(task, Scorer(model).score(requests))
    for k, (q, pred) in enumerate(zip(task.questions, rows["prediction"], strict=True)):
        lls = [direct_ll(model, [*r.ids, r.targets[-1]], len(r.targets)) for r in requests if r.example == k]
        assert pred == q.candidates[int(np.argmax(lls))]
        assert rows["correct"][k] == (pred == q.answer)
    # contamination's example for the block is the story with the answer filled in, in the same order
    assert load_benchmark(f"cbt-cn={tmp_path / 'cbt.txt'}").examples[0].endswith("the cat sat on the mat .")


def test_enwik8_and_text8_are_one_rolling_example(tok, model, tmp_path):
    f = tmp_path / "text8"
    f.write_text("anarchism originated as a term of abuse first used against early working class radicals")
    task = T.load_task(f"text8={f}")
    rows = score_rolling(task, tok, model)
    assert rows["example"] == [0] and rows["n_bytes"] == [len(f.read_bytes())]
    m = aggregate("chars", rows)
    assert math.isclose(m["bits_per_character"], -rows["loglikelihood"][0] / (rows["n_bytes"][0] * math.log(2)))


def test_generic_forms_and_unknown_names(tmp_path):
    f = tmp_path / "quiz.txt"
    f.write_text("first passage here\n\nsecond one\n")
    task = T.load_task(f"demo-quiz=lines:{f}")
    assert [d.text for d in task.documents] == ["first passage here\n", "second one\n"]
    assert [d.spans[0][0] for d in task.documents] == [0, 1]
    assert load_benchmark(f"demo-quiz=lines:{f}").examples == ["first passage here", "second one"]
    j = tmp_path / "q.jsonl"
    j.write_text(json.dumps({"body": "alpha beta"}) + "\n" + json.dumps({"body": "gamma"}) + "\n")
    assert [d.text for d in T.load_task(f"quiz={j}#body").documents] == ["alpha beta", "gamma"]
    with pytest.raises(ConfigError, match=r"unknown benchmark name 'demo-quiz'.*wikitext2.*lines:PATH.*#FIELD"):
        T.load_task(f"demo-quiz={f}")
    assert T.load_task(f"PTB={f}").kind == "rolling"  # known names in any spelling
    assert T.load_task(f"CBT_NE={write_cbt(tmp_path / 'c.txt', [(['a .'], 'the XXXXX .', 'b', ['b'])])}").kind == "cbt"
    with pytest.raises(ConfigError, match="no article headings"):
        T.load_task(f"WikiText-2={f}")


def test_line_boundaries_survive_de_tokenisation_on_every_real_page():
    """Where lm-eval's WikiText rules keep every newline, the newline rule and the kept-character
    alignment (used where a quote rule joined lines) put every example boundary at the same place."""
    from webtext.contamination.benchmarks import line_documents

    joined = 0
    for doc in line_documents(shared_data("wikitext-2") / "test.txt", "pages"):
        detok = T.DETOKENIZERS["wikitext2"](doc.text)
        ends = [e for _, _, e in doc.spans]
        got = T._boundaries(doc.text, detok, ends)
        assert got == sorted(got) and got[-1] == len(detok)
        if doc.text.count("\n") == detok.count("\n"):
            assert T._align_kept(doc.text, detok, ends) == got
        else:
            joined += 1
    assert joined >= 1  # the real file has a page whose quotes join lines
