"""Each de-tokenizer: lm-eval's WikiText one reproduced, the PTB and 1BW rules on real and written lines."""

from __future__ import annotations

import re

import pytest
from realdata import shared_data

from webtext.contamination.benchmarks import line_documents
from webtext.eval.detokenize import one_billion_words, ptb, wikitext


def test_wikitext_equals_lm_eval_on_every_real_page():
    ref = pytest.importorskip("lm_eval.tasks.wikitext.preprocess_wikitext")
    pages = line_documents(shared_data("wikitext-2") / "test.txt", "pages")
    assert len(pages) > 50
    for page in pages:
        assert wikitext(page.text) == ref.wikitext_detokenizer({"page": page.text})
    written = " = A = \n The cat @-@ like ( big ) dog , 3 @.@ 5 m . \n"
    assert wikitext(written) == " = A =\nThe cat-like (big) dog, 3.5 m.\n"


def test_ptb_rules_on_written_and_real_lines():
    assert ptb(" he does n't know what it 's worth \n they 're paying $ N a share \n") == \
        "he doesn't know what it's worth\nthey're paying $1 a share\n"
    assert ptb(" the <unk> rose N N to N \n") == "the <unk> rose 1 1 to 1\n"
    text = "".join((shared_data("ptb") / "ptb.test.txt").read_text(encoding="utf-8").splitlines(keepends=True)[:300])
    out = ptb(text)
    assert out.count("\n") == text.count("\n")  # one sentence per line still
    assert " n't" not in out and " 's " not in out and not re.search(r"(^| )N( |$)", out, re.M)
    assert all(line == line.strip(" ") for line in out.splitlines())
    # nothing but spaces and the N placeholder changes: the letters of every line are kept
    for a, b in zip(text.splitlines(), out.splitlines(), strict=True):
        assert re.sub(r"[\sN1]", "", a) == re.sub(r"[\sN1]", "", b)


def test_one_billion_words_rules():
    assert one_billion_words(' He said , " I do n\'t know ( really ) . " It cost $ 5 . \n') == \
        'He said, "I don\'t know (really)." It cost $5.\n'
    assert one_billion_words(" Rates rose 5 % ; bonds fell : the 10-year note 's yield ! \n") == \
        "Rates rose 5%; bonds fell: the 10-year note's yield!\n"
    assert one_billion_words(" A - B stays \n") == "A - B stays\n"
