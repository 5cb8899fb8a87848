"""The tokenize and train-tokenizer stages end to end (local runner; one Ray test).

GPT-2 parity uses OpenAI's files (../shared/data/gpt2-bpe) against tiktoken's GPT-2 encoding
built offline from them; the mechanics (splits, grouping, reruns, bad input) use a small
tokenizer trained on generated text.
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from realdata import shared_data

from webtext.cli import main
from webtext.data import Manifest
from webtext.errors import ConfigError
from webtext.runner import LocalRunner
from webtext.tokenize.bpe import EOT, GPT2_PATTERN, load_tokenizer, train_bpe
from webtext.tokenize.config import TokenizeConfig
from webtext.tokenize.encode import in_val, pieces, run_tokenize
from webtext.tokenize.shards import TokenDataset, open_shard

SYLLABLES = ["ka", "to", "ri", "mon", "el", "sa", "the", "ing", "qu", "ux", "pre", "lo", "ve", "an", "dor"]


def generated_docs(n: int, seed: int, prefix: str) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(300)]
    extras = ["café", "東京", "🚀", "1999", "—"]
    texts = []
    for _ in range(n):
        sentences = [" ".join(rng.choice(words) if rng.random() > 0.05 else rng.choice(extras)
                              for _ in range(rng.randint(5, 40))).capitalize() + "."
                     for _ in range(rng.randint(1, 5))]
        texts.append("\n".join(sentences))
    return [f"{prefix}-{i:04d}" for i in range(n)], texts


def write_docs(path: Path, ids: list[str], texts: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": ids, "text": texts}), path)
    return path


def read_tokens(out: Path) -> dict[str, dict[str, list[int]]]:
    """{split: {id: tokens}} of every shard, read with pyarrow alone (as a trainer would)."""
    result: dict[str, dict[str, list[int]]] = {}
    for split in ("train", "val"):
        docs: dict[str, list[int]] = {}
        for path in sorted((out / split).glob("tokens-*.arrow")):
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
            for doc_id, tokens in zip(table["id"].to_pylist(), table["tokens"].to_pylist(), strict=True):
                assert doc_id not in docs and all(doc_id not in d for d in result.values()), doc_id
                docs[doc_id] = tokens
        result[split] = docs
    return result


def tokenize_cli(docs: Path, tokenizer: Path, out: Path, *flags: str) -> int:
    return main(["tokenize", str(docs), "--tokenizer", str(tokenizer), "--out", str(out), "--runner", "local",
                 *flags])


@pytest.fixture(scope="module")
def small_tok(tmp_path_factory) -> Path:
    """A 400-token tokenizer trained on generated text, saved."""
    folder = tmp_path_factory.mktemp("small-tokenizer")
    texts = [t for seed in range(3) for t in generated_docs(60, seed, "x")[1]]
    train_bpe(texts, 400).save(folder)
    return folder


@pytest.fixture(scope="module")
def gpt2_dir() -> Path:
    return shared_data("gpt2-bpe")


@pytest.fixture(scope="module")
def reference(gpt2_dir):
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    ranks = data_gym_to_mergeable_bpe_ranks(str(gpt2_dir / "vocab.bpe"), str(gpt2_dir / "encoder.json"))
    return tiktoken.Encoding(name="gpt2-test", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={EOT: 50256})


def shakespeare() -> str:
    return (shared_data("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")


def wikitext(split: str) -> str:
    return (shared_data("wikitext-2") / f"{split}.txt").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# encode.pieces: cuts of long documents


def test_pieces_of_real_text_tokenize_as_the_whole(reference):
    text = shakespeare() + wikitext("valid")
    whole = reference.encode_ordinary(text)
    for limit in (1000, 100_000):
        parts = pieces(text, limit)
        assert "".join(parts) == text
        assert all(len(p) <= limit for p in parts) and len(parts) >= len(text) // limit
        assert [t for p in reference.encode_ordinary_batch(parts, num_threads=2) for t in p] == whole, limit


def test_short_text_is_one_piece():
    assert pieces("short text", 1000) == ["short text"]
    assert pieces("", 1000) == [""]
    assert pieces("x" * 1000, 1000) == ["x" * 1000]


ADVERSARIAL = {
    "space-runs": ("word " + " " * 2500 + "x ") * 3,
    "spaces-and-newline-runs": ("a" + " " * 700 + "\n" * 700 + "b. ") * 4,
    "sparse-single-spaces": ("a" * 900 + " b") * 5,
    "double-spaces": "ab  " * 2000,
    "newline-separated-words": "hello\nworld\n" * 700,
    "tab-separated": "ab\tcd\t" * 800,
    "punctuation-separated": "alpha,beta;gamma." * 300,
    "no-spaces-at-all": "abcdefg" * 700,
    "one-long-number": "1234567890" * 600,
    "cjk-without-spaces": "日本語の文章です、東京。" * 700,
    "mixed-scripts": "abc 東京 🚀 123 , Ελληνικά русский عربي 'll don't " * 150,
    "contractions-at-cuts": "it 's we 've they 'll I 'm " * 300,
}


# Text with no whitespace followed by a non-space for more than the limit has no cut that keeps the
# tokens (a cut inside one pre-token, or inside a whitespace run, changes them): it stays longer.
UNCUTTABLE = {"space-runs", "spaces-and-newline-runs", "punctuation-separated", "no-spaces-at-all", "one-long-number",
              "cjk-without-spaces"}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_pieces_of_adversarial_text_tokenize_as_the_whole(reference, name):
    text = ADVERSARIAL[name]
    parts = pieces(text, 1000)
    assert "".join(parts) == text
    assert name in UNCUTTABLE or all(len(p) <= 1000 for p in parts)
    got = [t for p in reference.encode_ordinary_batch(parts) for t in p]
    want = reference.encode_ordinary(text)
    cuts = [sum(map(len, parts[:i])) for i in range(1, len(parts))]
    around = [text[c - 6:c] + "|" + text[c:c + 6] for c in cuts[:3]]
    assert got == want, f"{len(got)} tokens in pieces vs {len(want)} whole; cuts at {cuts[:3]}: {around}"


# ---------------------------------------------------------------------------------------------
# The split


def test_val_split_by_id_hash():
    ids = [f"doc-{i}" for i in range(20_000)]
    assert not any(in_val(i, 0.0) for i in ids)
    val = [i for i in ids if in_val(i, 0.05)]
    assert 800 < len(val) < 1200
    assert val == [i for i in ids if in_val(i, 0.05)]  # a pure function of the id
    assert set(val) <= {i for i in ids if in_val(i, 0.2)}  # a larger fraction only adds documents


# ---------------------------------------------------------------------------------------------
# GPT-2 end to end


TRICKY = [
    "It's the cat's toy; they'll go, we've seen, I'm sure, you'd know. DON'T SHOUT'S",
    "emoji 🚀🔥👍🏽 family 👨\u200d👩\u200d👧\u200d👦 flags 🇫🇷🇯🇵 — CJK 東京は日本の首都です。",
    "combining e\u0301 n\u0303 zero\u200bwidth \ufeff digits 1234567890 3.14 ٣٤٥",
    "runs of spaces:     tabs\t\t\tnewlines\n\n\n\nend   \n  \n",
]
INVALID = [b"caf\xe9 latin-1, not UTF-8", b"a lone surrogate \xed\xa0\x80 encoded", b"ok \xff\xfe\xfd"]


@pytest.fixture(scope="module")
def gpt2_run(tmp_path_factory, gpt2_dir) -> SimpleNamespace:
    """Two docs files of real text (+ tricky, empty and invalid UTF-8 documents) tokenized with GPT-2."""
    root = tmp_path_factory.mktemp("gpt2-tokens")
    play = shakespeare()
    first = [play[i:i + 4000] for i in range(0, len(play), 4000)] + TRICKY
    raw = [t.encode() for t in first] + INVALID + [b"", b"  \n\t  ", None]
    ids0 = [f"s{i:04d}" for i in range(len(raw))]
    column = pa.array(raw, pa.binary()).cast(pa.string(), safe=False)  # invalid UTF-8 in a string column
    write_docs(root / "docs" / "part-00000.parquet", ids0, column)
    articles = [a for a in re.split(r"\n \= [^=].*? \= \n", wikitext("test")) if a.strip()]
    ids1 = [f"w{i:04d}" for i in range(len(articles))]
    write_docs(root / "docs" / "part-00001.parquet", ids1, articles)
    out = root / "tokens"
    code = tokenize_cli(root / "docs", gpt2_dir, out, "--val-fraction", "0.1")
    assert code == 0
    texts = {i: (b or b"").decode("utf-8", errors="replace") for i, b in zip(ids0, raw, strict=True)}
    texts.update(zip(ids1, articles, strict=True))
    return SimpleNamespace(out=out, docs=root / "docs", texts=texts, manifest=Manifest.read(out))


def test_gpt2_tokens_equal_tiktoken_per_document_with_eot(gpt2_run, reference):
    got = read_tokens(gpt2_run.out)
    merged = {**got["train"], **got["val"]}
    nonempty = {i for i, t in gpt2_run.texts.items() if t.strip()}
    assert set(merged) == nonempty and len(merged) == len(gpt2_run.texts) - 3
    ids = sorted(merged)
    want = reference.encode_ordinary_batch([gpt2_run.texts[i] for i in ids], num_threads=2)
    mismatched = [i for i, w in zip(ids, want, strict=True) if merged[i] != [*w, 50256]]
    assert not mismatched
    assert sum(map(len, merged.values())) > 500_000


def test_gpt2_split_is_by_id_hash_and_holds_every_document_once(gpt2_run):
    got = read_tokens(gpt2_run.out)
    nonempty = {i for i, t in gpt2_run.texts.items() if t.strip()}
    assert set(got["val"]) == {i for i in nonempty if in_val(i, 0.1)}
    assert set(got["train"]) == nonempty - set(got["val"])
    assert 0 < len(got["val"]) < len(got["train"])


def test_gpt2_shard_metadata(gpt2_run, gpt2_dir):
    tok_hash = load_tokenizer(gpt2_dir).content_hash
    for split in ("train", "val"):
        paths = sorted((gpt2_run.out / split).glob("*.arrow"))
        assert [p.name for p in paths] == ["tokens-00000.arrow"]  # both docs files are far below 100M tokens
        for path in paths:
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_file(source).read_all()
            assert table.schema.field("tokens").type == pa.list_(pa.uint16())
            meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
            assert meta["webtext.format"] == "1" and meta["webtext.split"] == split
            assert meta["webtext.tokenizer_hash"] == tok_hash
            assert meta["webtext.vocab_size"] == "50257" and meta["webtext.eot_id"] == "50256"
            assert meta["webtext.n_documents"] == str(table.num_rows)
            assert meta["webtext.n_tokens"] == str(sum(len(t) for t in table["tokens"].to_pylist()))
    ds = TokenDataset(gpt2_run.out, "train", tokenizer_hash=tok_hash, verify="sha256")
    assert ds.shards[0].tokens.dtype.name == "uint16" and ds.vocab_size == 50257 and ds.eot_id == 50256


def test_gpt2_counts(gpt2_run):
    stats = gpt2_run.manifest.stats
    assert stats["documents_in"] == len(gpt2_run.texts)
    assert stats["empty_documents"] == 3
    assert stats["invalid_unicode_documents"] == len(INVALID)
    assert stats["train_documents"] + stats["val_documents"] == len(gpt2_run.texts) - 3
    assert stats["engine_tiktoken"] == 1  # the task proved tiktoken identical and used it
    assert stats["shards"] == 1
    assert stats.get("long_documents", 0) == 0
    assert (stats["vocab_size"], stats["eot_id"]) == (50257, 50256)
    got = read_tokens(gpt2_run.out)
    assert stats["train_tokens"] == sum(map(len, got["train"].values()))
    assert stats["val_tokens"] == sum(map(len, got["val"].values()))


def test_gpt2_rerun_skips(gpt2_run, gpt2_dir):
    manifest_text = (gpt2_run.out / "_manifest.json").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in gpt2_run.out.rglob("*.arrow")}
    assert tokenize_cli(gpt2_run.docs, gpt2_dir, gpt2_run.out, "--val-fraction", "0.1") == 0
    assert (gpt2_run.out / "_manifest.json").read_text() == manifest_text
    assert {p: p.stat().st_mtime_ns for p in gpt2_run.out.rglob("*.arrow")} == stamps
    assert main(["verify", str(gpt2_run.out)]) == 0


def test_gpt2_shards_refuse_another_tokenizer(gpt2_run, small_tok):
    other = load_tokenizer(small_tok)
    with pytest.raises(ConfigError, match="HINT") as err:
        TokenDataset(gpt2_run.out, "val", tokenizer_hash=other.content_hash)
    assert str(gpt2_run.out) in str(err.value) and "gpt2-bpe" in str(err.value)


def test_gpt2_long_document_in_pieces_equals_whole_text(tmp_path, gpt2_dir, reference):
    long = (shakespeare() + wikitext("valid") + wikitext("test"))[:3_000_000]
    write_docs(tmp_path / "docs" / "part-00000.parquet", ["long", "short"], [long, "A short one."])
    out = tmp_path / "tokens"
    assert tokenize_cli(tmp_path / "docs", gpt2_dir, out, "--val-fraction", "0", "--max-chars-per-piece", "1000") == 0
    got = read_tokens(out)
    assert got["val"] == {}
    assert got["train"]["long"] == [*reference.encode_ordinary(long), 50256]
    assert got["train"]["short"] == [*reference.encode_ordinary("A short one."), 50256]
    assert Manifest.read(out).stats["long_documents"] == 1


# ---------------------------------------------------------------------------------------------
# Mechanics, with a small tokenizer


def test_literal_endoftext_in_a_document_is_ordinary_text(tmp_path, small_tok):
    """A page that spells <|endoftext|> (pages about GPT-2 do) is encoded as ordinary text, as
    tiktoken's ``encode_ordinary`` does: no document boundary inside it, and tiktoken stays the engine."""
    texts = ["GPT-2 separates documents with <|endoftext|> in its data.", "plain words here"]
    write_docs(tmp_path / "docs" / "part-00000.parquet", ["a", "b"], texts)
    out = tmp_path / "tokens"
    assert tokenize_cli(tmp_path / "docs", small_tok, out, "--val-fraction", "0") == 0
    tok = load_tokenizer(small_tok)
    got = read_tokens(out)["train"]
    assert got == {i: [*tok.tiktoken.encode_ordinary(t), tok.eot_id] for i, t in zip("ab", texts, strict=True)}
    assert Manifest.read(out).stats["engine_tiktoken"] == 1


def test_split_is_stable_when_the_corpus_grows(tmp_path, small_tok):
    ids_a, texts_a = generated_docs(120, 10, "a")
    ids_b, texts_b = generated_docs(120, 11, "b")
    write_docs(tmp_path / "small" / "part-00000.parquet", ids_a, texts_a)
    shutil.copytree(tmp_path / "small", tmp_path / "grown")
    write_docs(tmp_path / "grown" / "part-00001.parquet", ids_b, texts_b)
    assert tokenize_cli(tmp_path / "small", small_tok, tmp_path / "t1", "--val-fraction", "0.3") == 0
    assert tokenize_cli(tmp_path / "grown", small_tok, tmp_path / "t2", "--val-fraction", "0.3") == 0
    before, after = read_tokens(tmp_path / "t1"), read_tokens(tmp_path / "t2")
    for split in ("train", "val"):
        assert before[split].items() <= after[split].items()  # every old document kept its split (and tokens)
    assert len(before["val"]) > 10 and len(after["val"]) > len(before["val"])
    assert set(after["train"]) | set(after["val"]) == set(ids_a) | set(ids_b)


def test_val_fraction_zero_puts_everything_in_train(tmp_path, small_tok):
    ids, texts = generated_docs(50, 3, "z")
    write_docs(tmp_path / "docs" / "part-00000.parquet", ids, texts)
    assert tokenize_cli(tmp_path / "docs", small_tok, tmp_path / "t", "--val-fraction", "0") == 0
    got = read_tokens(tmp_path / "t")
    assert got["val"] == {} and set(got["train"]) == set(ids)
    assert TokenDataset(tmp_path / "t", "val").n_documents == 0


def test_empty_and_whitespace_documents_are_skipped_and_counted(tmp_path, small_tok):
    texts = ["real words here", "", " ", "\n\n\t", None, "\u3000\u00a0", "more words"]
    ids = [f"e{i}" for i in range(len(texts))]
    write_docs(tmp_path / "docs" / "part-00000.parquet", ids, texts)
    assert tokenize_cli(tmp_path / "docs", small_tok, tmp_path / "t", "--val-fraction", "0") == 0
    assert set(read_tokens(tmp_path / "t")["train"]) == {"e0", "e6"}
    stats = Manifest.read(tmp_path / "t").stats
    assert stats["empty_documents"] == 5 and stats["train_documents"] == 2 and stats["documents_in"] == 7


def test_invalid_utf8_in_a_string_column_is_replaced_and_counted(tmp_path, small_tok):
    raw = [b"good text", b"bad \xff byte", b"\xed\xa0\x80 surrogate", b"truncated \xe6\x97"]
    column = pa.array(raw, pa.binary()).cast(pa.string(), safe=False)
    write_docs(tmp_path / "docs" / "part-00000.parquet", ["g", "b1", "b2", "b3"], column)
    assert tokenize_cli(tmp_path / "docs", small_tok, tmp_path / "t", "--val-fraction", "0") == 0
    tok = load_tokenizer(small_tok)
    got = read_tokens(tmp_path / "t")["train"]
    for doc_id, b in zip(["g", "b1", "b2", "b3"], raw, strict=True):
        text = b.decode("utf-8", errors="replace")
        assert got[doc_id] == [*tok.tiktoken.encode_ordinary(text), tok.eot_id]
    assert "\ufffd" in tok.decode(got["b1"])
    assert Manifest.read(tmp_path / "t").stats["invalid_unicode_documents"] == 3


def test_binary_text_column_is_decoded_with_replacement(tmp_path, small_tok):
    """A docs table whose ``text`` is a binary column (bytes as crawled) is read as UTF-8, invalid
    bytes replaced and counted."""
    raw = [b"good text", b"bad \xff byte"]
    write_docs(tmp_path / "docs" / "part-00000.parquet", ["g", "b"], pa.array(raw, pa.binary()))
    code = tokenize_cli(tmp_path / "docs", small_tok, tmp_path / "t", "--val-fraction", "0")
    assert code == 0
    tok = load_tokenizer(small_tok)
    got = read_tokens(tmp_path / "t")["train"]
    assert got["b"] == [*tok.tiktoken.encode_ordinary("bad \ufffd byte"), tok.eot_id]
    assert Manifest.read(tmp_path / "t").stats["invalid_unicode_documents"] == 1


def test_small_shard_tokens_give_several_shards_and_the_same_tokens(tmp_path, small_tok):
    for f in range(3):
        ids, texts = generated_docs(40, 20 + f, f"g{f}")
        write_docs(tmp_path / "docs" / f"part-{f:05d}.parquet", ids, texts)
    assert tokenize_cli(tmp_path / "docs", small_tok, tmp_path / "one", "--val-fraction", "0.2") == 0
    assert tokenize_cli(tmp_path / "docs", small_tok, tmp_path / "many", "--val-fraction", "0.2",
                        "--shard-tokens", "100") == 0
    for split in ("train", "val"):
        assert len(list((tmp_path / "one" / split).glob("*.arrow"))) == 1
        assert len(list((tmp_path / "many" / split).glob("*.arrow"))) == 3
    one, many = read_tokens(tmp_path / "one"), read_tokens(tmp_path / "many")
    assert one == many
    for split in ("train", "val"):  # the same flat stream, documents in the same order
        assert list(one[split]) == list(many[split])
    assert Manifest.read(tmp_path / "many").stats["shards"] == 3


def test_changed_tokenizer_redoes_the_stage(tmp_path, small_tok):
    ids, texts = generated_docs(30, 5, "c")
    write_docs(tmp_path / "docs" / "part-00000.parquet", ids, texts)
    tok_dir = Path(shutil.copytree(small_tok, tmp_path / "tok"))
    assert tokenize_cli(tmp_path / "docs", tok_dir, tmp_path / "t", "--val-fraction", "0") == 0
    first = load_tokenizer(tok_dir)
    train_bpe(texts, 300).save(tok_dir)  # another tokenizer at the same path
    second = load_tokenizer(tok_dir)
    assert second.content_hash != first.content_hash
    assert tokenize_cli(tmp_path / "docs", tok_dir, tmp_path / "t", "--val-fraction", "0") == 0
    shard = open_shard(tmp_path / "t" / "train" / "tokens-00000.arrow")
    assert shard.meta["tokenizer_hash"] == second.content_hash and shard.meta["vocab_size"] == "300"
    TokenDataset(tmp_path / "t", "train", tokenizer_hash=second.content_hash, verify="sha256")


@pytest.mark.parametrize("case", ["missing", "nonexistent", "empty-folder", "wordpiece"])
def test_bad_tokenizer_is_a_config_error(tmp_path, capsys, case):
    ids, texts = generated_docs(5, 1, "q")
    docs = write_docs(tmp_path / "docs" / "part-00000.parquet", ids, texts).parent
    args = ["tokenize", str(docs), "--out", str(tmp_path / "t"), "--runner", "local"]
    if case == "nonexistent":
        args += ["--tokenizer", str(tmp_path / "nowhere")]
    elif case == "empty-folder":
        (tmp_path / "empty").mkdir()
        args += ["--tokenizer", str(tmp_path / "empty")]
    elif case == "wordpiece":
        (tmp_path / "tokenizer.json").write_text('{"model": {"type": "WordPiece", "vocab": {}}}')
        args += ["--tokenizer", str(tmp_path / "tokenizer.json")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "--tokenizer" in err
    assert not (tmp_path / "t" / "_manifest.json").exists()


def test_run_tokenize_validates_the_config():
    with pytest.raises(ConfigError):
        TokenizeConfig(inputs=["x"], tokenizer="").validate("")
    with pytest.raises(ConfigError, match="1000"):
        TokenizeConfig(inputs=["x"], tokenizer=".", max_chars_per_piece=999).validate("")
    with pytest.raises(ConfigError):
        TokenizeConfig(inputs=["x"], tokenizer=".", val_fraction=1.0).validate("")


# ---------------------------------------------------------------------------------------------
# train-tokenizer


def test_train_tokenizer_cli_writes_a_loadable_tokenizer(tmp_path, reference):
    play, wiki = shakespeare(), wikitext("valid")
    write_docs(tmp_path / "docs" / "part-00000.parquet", [f"s{i}" for i in range(0, len(play), 2000)],
               [play[i:i + 2000] for i in range(0, len(play), 2000)])
    articles = [a for a in re.split(r"\n \= [^=].*? \= \n", wiki) if a.strip()]
    write_docs(tmp_path / "docs" / "part-00001.parquet", [f"w{i}" for i in range(len(articles))], articles)
    args = ["train-tokenizer", str(tmp_path / "docs"), "--vocab-size", "1000", "--sample-bytes", "700000"]
    assert main([*args, "--out", str(tmp_path / "tok")]) == 0
    out = tmp_path / "tok"
    assert {p.name for p in out.iterdir()} >= {"tokenizer.json", "encoder.json", "vocab.bpe", "_manifest.json"}
    tok = load_tokenizer(out)
    assert (tok.vocab_size, tok.eot_id) == (1000, 999)
    assert load_tokenizer(out / "tokenizer.json").content_hash == tok.content_hash
    stats = Manifest.read(out).stats
    assert (stats["vocab_size"], stats["eot_id"]) == (1000, 999)
    # Rerun: skipped; elsewhere: the same tokenizer (sampling and training are deterministic).
    stamp = (out / "tokenizer.json").stat().st_mtime_ns
    assert main([*args, "--out", str(out)]) == 0
    assert (out / "tokenizer.json").stat().st_mtime_ns == stamp
    assert main([*args, "--out", str(tmp_path / "tok2")]) == 0
    assert load_tokenizer(tmp_path / "tok2").content_hash == tok.content_hash
    # And it tokenizes the corpus: identical ids from tiktoken and tokenizers, fewer than GPT-2's bytes.
    assert tokenize_cli(tmp_path / "docs", out, tmp_path / "tokens", "--val-fraction", "0") == 0
    ds = TokenDataset(tmp_path / "tokens", "train", tokenizer_hash=tok.content_hash)
    assert ds.n_documents == len(articles) + len(range(0, len(play), 2000))
    assert Manifest.read(tmp_path / "tokens").stats["engine_tiktoken"] == 1  # one shard, proved identical
    sample = articles[:5]
    assert [e.ids for e in tok.hf.encode_batch(sample, add_special_tokens=False)] == \
        tok.tiktoken.encode_ordinary_batch(sample)


def test_train_tokenizer_rejects_a_tiny_vocab(tmp_path, capsys):
    ids, texts = generated_docs(5, 1, "v")
    docs = write_docs(tmp_path / "docs" / "part-00000.parquet", ids, texts).parent
    assert main(["train-tokenizer", str(docs), "--out", str(tmp_path / "o"), "--vocab-size", "256"]) == 2
    assert "--vocab-size" in capsys.readouterr().err
    assert not (tmp_path / "o" / "tokenizer.json").exists()


# ---------------------------------------------------------------------------------------------
# Ray


@pytest.mark.ray
def test_ray_runner_writes_the_same_shards(ray_local, tmp_path, small_tok):
    from webtext.runner.ray_runner import RayRunner

    for f in range(2):
        ids, texts = generated_docs(40, 30 + f, f"r{f}")
        write_docs(tmp_path / "docs" / f"part-{f:05d}.parquet", ids, texts)
    cfg = TokenizeConfig(inputs=[str(tmp_path / "docs")], tokenizer=str(small_tok), val_fraction=0.2,
                         shard_tokens=100)
    runner = RayRunner(max_retries=0)
    on_ray = run_tokenize(cfg, tmp_path / "ray", runner)
    runner.close()
    local = run_tokenize(cfg, tmp_path / "local", LocalRunner())
    assert read_tokens(tmp_path / "ray") == read_tokens(tmp_path / "local")
    for name in ("train_tokens", "val_tokens", "train_documents", "val_documents", "engine_tiktoken"):
        assert on_ray.stats[name] == local.stats[name], name
    assert on_ray.stats["shards"] == 2
