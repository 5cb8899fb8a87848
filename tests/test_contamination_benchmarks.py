"""Benchmark loaders: each file format, NAME=PATH parsing, and clear errors for bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from realdata import shared_data

from webtext.contamination.benchmarks import (
    LOADERS,
    BenchmarkSource,
    load_benchmark,
    loader_name,
    parse_spec,
    resolve_source,
    source_under,
)
from webtext.errors import ConfigError


def test_wikitext_and_ptb_style_lines(tmp_path):
    f = tmp_path / "wiki.test.tokens"
    f.write_text(" \n = Robert Boulter = \n \n Robert Boulter is an English film actor . \n\n\t\n"
                 " He had a guest @-@ starring role . \n", encoding="utf-8")
    b = load_benchmark(f"wikitext2={f}")
    assert b.name == "wikitext2" and b.loader == "wikitext2" and b.source == str(f)
    assert b.examples == [" = Robert Boulter = ", " Robert Boulter is an English film actor . ",
                          " He had a guest @-@ starring role . "]
    p = tmp_path / "ptb.test.txt"
    p.write_text(" no it was n't black monday \n but while the new york stock exchange did n't fall \n\n")
    b = load_benchmark(f"ptb={p}")
    assert b.loader == "ptb" and len(b.examples) == 2 and b.examples[0] == " no it was n't black monday "


def test_real_wikitext2_and_ptb_files():
    wt2 = shared_data("wikitext-2") / "test.txt"
    b = load_benchmark(f"wikitext2={wt2}")
    lines = wt2.read_text(encoding="utf-8").splitlines()
    assert b.examples == [line for line in lines if line.strip()]
    assert 2000 < len(b.examples) < len(lines)
    ptb = load_benchmark(f"ptb={shared_data('ptb') / 'ptb.test.txt'}")
    assert len(ptb.examples) > 3000 and all(e.strip() for e in ptb.examples)


def test_folder_of_files_1bw_style(tmp_path):
    folder = tmp_path / "heldout"
    folder.mkdir()
    (folder / "news.en.heldout-00001-of-00050").write_text("second file line one\n\nsecond file line two\n")
    (folder / "news.en.heldout-00000-of-00050").write_text("first file line\n")
    (folder / ".hidden").write_text("not an example\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "x").write_text("not read either\n")
    b = load_benchmark(f"1bw={folder}")
    assert b.loader == "1bw"
    assert b.examples == ["first file line", "second file line one", "second file line two"]  # files in order


@pytest.mark.parametrize("spec", ["wikitxt2=x.txt", "my-set.v2=my.txt", "qa=qa.jsonl", "lines=x.txt"])
def test_an_unknown_name_without_an_explicit_form_is_refused(tmp_path, spec):
    name, source = spec.split("=")
    (tmp_path / source).write_text("alpha\n")  # the file is there: the name alone is the problem
    with pytest.raises(ConfigError) as info:
        load_benchmark(f"{name}={tmp_path / source}", "--benchmark-train")
    message = str(info.value)
    assert info.value.key == "--benchmark-train" and f"unknown benchmark name {name!r}" in message
    assert "wikitext2" in message and "cbt-ne" in message  # the known names ...
    assert "lines:PATH" in message and "PATH.jsonl#FIELD" in message and "hf:DATASET" in message  # ... and forms
    assert "\n" not in message


def test_the_explicit_generic_forms_take_any_name(tmp_path):
    f = tmp_path / "my.txt"
    f.write_text("alpha\n\nbeta\n")
    b = load_benchmark(f"my-set.v2=lines:{f}")
    assert b.loader == "lines" and b.examples == ["alpha", "beta"] and b.source == f"lines:{f}"
    assert resolve_source("wikitxt2", f"lines:{f}") == BenchmarkSource("lines", str(f))
    assert resolve_source("qa", "d/qa.jsonl#question") == BenchmarkSource("jsonl", "d/qa.jsonl", "question")
    assert resolve_source("qa", "hf:lambada:test#text") == BenchmarkSource("hf", "hf:lambada:test#text")
    # A known name picks its loader; an explicit form still wins over it.
    assert resolve_source("WikiText-2", "w.tokens") == BenchmarkSource("wikitext2", "w.tokens")
    assert resolve_source("lambada", f"lines:{f}").kind == "lines"
    with pytest.raises(ConfigError, match="lines:PATH"):
        resolve_source("quiz", "lines:")


def test_relative_sources_are_made_relative_to_the_pipeline_file():
    base = Path("/p")
    assert source_under("lines:b/q.txt", base) == "lines:/p/b/q.txt"
    assert source_under("b/qa.jsonl#question", base) == "/p/b/qa.jsonl#question"
    assert source_under("/abs/w.tokens", base) == "/abs/w.tokens"
    assert source_under("lines:/abs/q.txt", base) == "lines:/abs/q.txt"
    assert source_under("hf:wikitext:test#text", base) == "hf:wikitext:test#text"
    assert source_under("lines:s3://bucket/q.txt", base) == "lines:s3://bucket/q.txt"  # a URI is never relative
    assert source_under("gs://bucket/w.tokens", base) == "gs://bucket/w.tokens"


def test_jsonl_default_and_custom_field(tmp_path):
    f = tmp_path / "qa.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"text": "first passage", "question": "q1", "n": 1},
        {"text": "second passage", "question": "q2", "n": 2},
    ]) + "\n\n")
    b = load_benchmark(f"qa={f}#text")
    assert b.loader == "jsonl" and b.examples == ["first passage", "second passage"]
    assert load_benchmark(f"qa={f}#question").examples == ["q1", "q2"]
    assert load_benchmark(f"qa={f}#n").examples == ["1", "2"]  # non-strings become text
    with pytest.raises(ConfigError, match="no field 'answer'"):
        load_benchmark(f"qa={f}#answer")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{not json\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2 is not JSON"):
        load_benchmark(f"bad={bad}#text")
    scalar = tmp_path / "scalar.json"
    scalar.write_text('"just a string"\n')
    with pytest.raises(ConfigError, match="no field"):
        load_benchmark(f"s={scalar}#text")


def test_lambada_jsonl_and_txt(tmp_path):
    j = tmp_path / "lambada_test.jsonl"
    j.write_text(json.dumps({"text": "in my palm is a clear stone , and inside it is a small ivory statuette"}) + "\n"
                 + json.dumps({"text": "give me a minute to change and i 'll meet you at the docks"}) + "\n")
    b = load_benchmark(f"lambada={j}")
    assert b.loader == "lambada" and len(b.examples) == 2 and b.examples[1].endswith("docks")
    t = tmp_path / "lambada_test_plain_text.txt"
    t.write_text("first passage ends with word\n\nsecond passage ends with another\n")
    b = load_benchmark(f"lambada={t}")
    assert b.examples == ["first passage ends with word", "second passage ends with another"]


def test_cbt_blocks_with_the_answer_filled_in(tmp_path):
    lines_a = [f"{i} Context sentence {i} of the first story ." for i in range(1, 21)]
    lines_a.append("21 The XXXXX went home .\tcat\t\tcat|dog|mouse|house")
    lines_b = ["1 Only one context line .", "2 She saw the XXXXX .\tking\t\tking|queen"]
    f = tmp_path / "cbtest_NE_test_2500ex.txt"
    f.write_text("\n".join(lines_a) + "\n\n" + "\n".join(lines_b) + "\n")  # no blank line at the end
    b = load_benchmark(f"cbt-ne={f}")
    assert b.loader == "cbt" and len(b.examples) == 2
    first = b.examples[0]
    assert first.startswith("Context sentence 1 of the first story .")
    assert first.endswith("The cat went home .") and "XXXXX" not in first and "dog" not in first
    assert "21 " not in first and "\t" not in first  # line numbers and candidates dropped
    assert b.examples[1] == "Only one context line . She saw the king ."
    assert loader_name("CBT_CN", "x") == loader_name("cbt-v", "x") == "cbt"


def test_enwik8_and_text8_small_files_are_read_whole(tmp_path):
    e = tmp_path / "enwik8-sample"
    e.write_bytes("<page><title>Anarchism</title> café</page>".encode() + b"\xff")
    b = load_benchmark(f"enwik8={e}")
    assert b.loader == "enwik8" and len(b.examples) == 1
    assert b.examples[0].startswith("<page><title>Anarchism") and "café" in b.examples[0]
    assert b.examples[0].endswith("\ufffd")  # an invalid byte is replaced, not an error
    t = tmp_path / "text8"
    t.write_text(" anarchism originated as a term of abuse first used against early working class")
    b = load_benchmark(f"text8={t}")
    assert b.loader == "text8" and b.examples == [t.read_text()]


def test_enwik8_full_file_keeps_the_last_5mb_test_split(tmp_path):
    e = tmp_path / "enwik8"
    with open(e, "wb") as f:  # a sparse 100,000,000-byte file: 90M train, 5M valid, 5M test
        f.seek(95_000_000 - 9)
        f.write(b"VALIDEND ")
        f.write(b"TESTSTART ")
        f.seek(100_000_000 - 8)
        f.write(b" TESTEND")
    b = load_benchmark(f"enwik8={e}")
    assert len(b.examples) == 1 and len(b.examples[0]) == 5_000_000
    assert b.examples[0].startswith("TESTSTART") and b.examples[0].endswith("TESTEND")
    assert "VALIDEND" not in b.examples[0]


@pytest.mark.parametrize("spec", ["wikitext2", "=x.txt", "wikitext2=", "bad name=x.txt", "a/b=x.txt", ""])
def test_bad_spec_is_a_config_error(spec):
    with pytest.raises(ConfigError) as info:
        load_benchmark(spec, "--benchmark-train")
    assert info.value.key == "--benchmark-train" and "NAME=SOURCE" in str(info.value)


def test_parse_spec_keeps_the_rest_of_the_source():
    assert parse_spec("qa=/data/x=y.jsonl#field") == ("qa", "/data/x=y.jsonl#field")


def test_missing_file_and_empty_benchmark(tmp_path):
    with pytest.raises(ConfigError, match="not found") as info:
        load_benchmark(f"ptb={tmp_path / 'nope.txt'}")
    assert info.value.key == "--benchmark"
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n\t\n")
    with pytest.raises(ConfigError, match="no examples"):
        load_benchmark(f"wikitext2={empty}")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(ConfigError, match="no examples"):
        load_benchmark(f"1bw={tmp_path / 'emptydir'}")
    ej = tmp_path / "e.jsonl"
    ej.write_text("")
    with pytest.raises(ConfigError, match="no examples"):
        load_benchmark(f"qa={ej}#text")


def test_every_registered_loader_has_a_name():
    assert {"wikitext2", "wikitext103", "ptb", "1bw", "lambada", "cbt", "enwik8", "text8", "lines"} <= set(LOADERS)


@pytest.mark.skipif(importlib.util.find_spec("datasets") is not None, reason="`datasets` is installed here")
def test_hf_source_without_datasets_is_a_config_error():
    with pytest.raises(ConfigError, match="datasets") as info:
        load_benchmark("mybench=hf:wikitext:wikitext-2-raw-v1:test#text")
    assert info.value.key == "--benchmark"
    assert loader_name("mybench", "hf:wikitext:test#text") == "hf"
