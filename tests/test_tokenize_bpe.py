"""Byte-level BPE: GPT-2 parity of both engines, the three file formats, and training.

GPT-2's own files (../shared/data/gpt2-bpe) must give exactly the ids of tiktoken's GPT-2
encoding, built offline from the same two files; a tokenizer trained with ``train_bpe`` must be
GPT-2's kind (byte-level, merges inside one pre-token, <|endoftext|> last, deterministic).
"""

from __future__ import annotations

import copy
import json
import random
import re
import shutil
from pathlib import Path

import pytest
import regex
from realdata import shared_data

from webtext.errors import ConfigError
from webtext.tokenize.bpe import EOT, GPT2_PATTERN, BpeTokenizer, byte_decoder, load_tokenizer, train_bpe

# Strings where pre-tokenisers and byte-level BPE implementations tend to part ways.
TRICKY = [
    "Hello, world! It's the cat's toy; they'll go, we've seen, I'm sure, you'd know, they're here.",
    "DON'T SHOUT: IT'S LOUD'S",  # upper-case contractions are not GPT-2's contractions
    "'s's 's 'S  's'll'LL 're've'm'd ' ''s",
    "emoji 🚀🔥👍🏽 family 👨\u200d👩\u200d👧\u200d👦 flags 🇫🇷🇯🇵",
    "東京は日本の首都です。中文字符，한국어 텍스트",
    "combining: e\u0301 n\u0303 a\u0308\u0304 Zalgo z\u0351\u0352\u0353o",
    "zero\u200bwidth\u200b \u200b space \ufeffbom",
    "runs of spaces:     and tabs\t\t\tand newlines\n\n\n\nend   \n  \n",
    " " * 100 + "x" + "\n" * 50 + "y" + " \n" * 20,
    "digits 1234567890 3.14159 1,000,000 2024-01-01 ٣٤٥ ①② ½ 00000000000000000000001",
    "   leading and trailing   ",
    "\n",
    " ",
    "a",
    "mixed Ελληνικά русский عربي עברית हिन्दी",
    "symbols ~`!@#$%^&*()_+-={}[]|\\:;\"'<>,.?/ <| |> <|> <|endoftext",
    "\x00\x01\x7f control \r\n\u2028\u2029 \u00a0nbsp \u3000ideographic\u1680ogham \x1c\x1d\x85",
]


def gpt2_reference(folder: Path):
    """tiktoken's GPT-2 encoding built offline from OpenAI's two files (as the acceptance check does)."""
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    ranks = data_gym_to_mergeable_bpe_ranks(str(folder / "vocab.bpe"), str(folder / "encoder.json"))
    return tiktoken.Encoding(name="gpt2-test", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={EOT: 50256})


def real_texts() -> list[str]:
    """Documents of real text: WikiText-2 articles and 4,000-character pieces of Tiny Shakespeare."""
    wiki = (shared_data("wikitext-2") / "valid.txt").read_text(encoding="utf-8")
    shakespeare = (shared_data("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")
    articles = [a for a in re.split(r"\n \= [^=].*? \= \n", wiki) if a.strip()]
    return articles + [shakespeare[i:i + 4000] for i in range(0, len(shakespeare), 4000)]


@pytest.fixture(scope="module")
def gpt2_dir() -> Path:
    return shared_data("gpt2-bpe")


@pytest.fixture(scope="module")
def gpt2(gpt2_dir) -> BpeTokenizer:
    return load_tokenizer(gpt2_dir)


@pytest.fixture(scope="module")
def reference(gpt2_dir):
    return gpt2_reference(gpt2_dir)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return real_texts()


# ---------------------------------------------------------------------------------------------
# GPT-2's own files


def test_gpt2_vocab_and_eot(gpt2):
    assert gpt2.vocab_size == 50257
    assert gpt2.eot_id == 50256
    assert gpt2.specials == {EOT: 50256}
    assert len(gpt2.ranks) == 50256 and len(gpt2.merges) == 50000
    assert sorted(gpt2.ranks.values()) == list(range(50256))
    assert {bytes([b]) for b in range(256)} <= set(gpt2.ranks)  # byte-level: every byte is a token
    assert gpt2.token_dtype.__name__ == "uint16"


def test_gpt2_both_engines_equal_tiktoken_gpt2_on_real_text(gpt2, reference, texts):
    want = reference.encode_ordinary_batch(texts, num_threads=2)
    assert sum(map(len, want)) > 500_000
    assert gpt2.check_engines(texts) == "tiktoken"
    assert gpt2.encode_batch(texts, threads=2) == want
    # tokenizers (~4x slower): every third document, still ~200k tokens of both corpora
    some = slice(0, None, 3)
    assert [e.ids for e in gpt2.hf.encode_batch(texts[some], add_special_tokens=False)] == want[some]


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_gpt2_tricky_strings(gpt2, reference, text):
    want = reference.encode_ordinary(text)
    assert gpt2.tiktoken.encode_ordinary(text) == want
    assert gpt2.hf_ordinary.encode(text, add_special_tokens=False).ids == want
    assert gpt2.decode(want) == text


def test_gpt2_known_ids(gpt2):
    # Ids everybody who has used GPT-2 knows: "Hello world" and " the".
    assert gpt2.encode_batch(["Hello world", " the", "\n\n"]) == [[15496, 995], [262], [628]]


def test_literal_endoftext_in_text_is_ordinary_text(gpt2, reference):
    """``encode_batch`` interprets no special tokens: text that spells <|endoftext|> (pages about
    GPT-2 do) must get GPT-2's ordinary ids, whichever engine encodes it."""
    text = "GPT-2 separates documents with <|endoftext|> in its training data."
    want = reference.encode_ordinary(text)
    assert 50256 not in want
    fresh = copy.copy(gpt2)  # its engines already built, none chosen yet: chosen on this very batch
    fresh._engine = None
    assert fresh.encode_batch([text, "plain text"]) == [want, reference.encode_ordinary("plain text")]
    assert fresh.check_engines([text]) == "tiktoken"
    assert gpt2.hf_ordinary.encode(text, add_special_tokens=False).ids == want


# ---------------------------------------------------------------------------------------------
# File formats


def test_same_content_hash_from_every_format(gpt2, gpt2_dir, tmp_path, texts):
    saved = tmp_path / "saved"
    written = gpt2.save(saved)
    assert sorted(p.name for p in written) == ["encoder.json", "tokenizer.json", "vocab.bpe"]
    # The Hugging Face pair, written from OpenAI's files (same formats, other names and layout).
    hf_pair = tmp_path / "hf"
    hf_pair.mkdir()
    encoder = json.loads((gpt2_dir / "encoder.json").read_text(encoding="utf-8"))
    (hf_pair / "vocab.json").write_text(json.dumps(dict(sorted(encoder.items(), key=lambda kv: -kv[1]))),
                                        encoding="utf-8")  # ensure_ascii and another order
    shutil.copyfile(gpt2_dir / "vocab.bpe", hf_pair / "merges.txt")
    # A folder with only a tokenizer.json.
    json_only = tmp_path / "json-only"
    json_only.mkdir()
    shutil.copyfile(saved / "tokenizer.json", json_only / "tokenizer.json")

    loaded = {
        "openai": load_tokenizer(gpt2_dir),
        "saved tokenizer.json": load_tokenizer(saved / "tokenizer.json"),
        "saved pair": load_tokenizer(saved),
        "hf pair": load_tokenizer(hf_pair),
        "folder with tokenizer.json": load_tokenizer(json_only),
    }
    hashes = {name: t.content_hash for name, t in loaded.items()}
    assert set(hashes.values()) == {gpt2.content_hash}, hashes
    for name, t in loaded.items():  # the same ranks and merges: the same ids whatever the engine
        assert (t.vocab_size, t.eot_id) == (50257, 50256), name
        assert t.ranks == gpt2.ranks and t.merges == gpt2.merges and t.specials == gpt2.specials, name
    sample = texts[:10]
    want = gpt2.encode_batch(sample)
    # save() writes OpenAI's pair back unchanged, and a tokenizer.json that tokenizers itself reads.
    assert json.loads((saved / "encoder.json").read_text(encoding="utf-8")) == encoder
    merges = [line for line in (gpt2_dir / "vocab.bpe").read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#version")]
    assert [line for line in (saved / "vocab.bpe").read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#version")] == merges
    from tokenizers import Tokenizer

    hf = Tokenizer.from_file(str(saved / "tokenizer.json"))
    assert [e.ids for e in hf.encode_batch(sample, add_special_tokens=False)] == want
    assert hf.token_to_id(EOT) == 50256


def test_content_hash_tells_tokenizers_apart(gpt2, tmp_path):
    shutil.copytree(gpt2.source, tmp_path / "bpe")
    lines = (tmp_path / "bpe" / "vocab.bpe").read_text(encoding="utf-8").splitlines()
    lines[5], lines[6] = lines[6], lines[5]  # two merges swapped: another tokenizer
    (tmp_path / "bpe" / "vocab.bpe").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert load_tokenizer(tmp_path / "bpe").content_hash != gpt2.content_hash


GARBAGE_JSON = {
    "not-json": "{this is not json",
    "json-list": "[1, 2, 3]",
    "wordpiece": json.dumps({"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a": 1}},
                             "pre_tokenizer": {"type": "BertPreTokenizer"}}),
    "bpe-not-byte-level": json.dumps({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]},
                                      "pre_tokenizer": {"type": "Whitespace"}}),
    "bpe-foreign-alphabet": json.dumps({"model": {"type": "BPE", "vocab": {"東": 0, "京": 1, "東京": 2},
                                                  "merges": ["東 京"]},
                                        "pre_tokenizer": {"type": "ByteLevel"}}),
    "bpe-empty": json.dumps({"model": {"type": "BPE", "vocab": {}, "merges": []},
                             "pre_tokenizer": {"type": "ByteLevel"}}),
}


@pytest.mark.parametrize("name", list(GARBAGE_JSON))
def test_garbage_tokenizer_json_is_a_config_error(tmp_path, name):
    path = tmp_path / "tokenizer.json"
    path.write_text(GARBAGE_JSON[name], encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        tok = load_tokenizer(path)
        _ = (tok.vocab_size, tok.eot_id)  # what the stage asks first
    assert err.value.key == "--tokenizer"


def test_byte_level_bpe_without_endoftext_is_refused_when_used(tmp_path):
    byte_vocab = {ch: b for ch, b in byte_decoder().items()}
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps({"model": {"type": "BPE", "vocab": byte_vocab, "merges": []},
                                "pre_tokenizer": {"type": "ByteLevel"}}), encoding="utf-8")
    tok = load_tokenizer(path)
    assert tok.vocab_size == 256
    with pytest.raises(ConfigError, match="endoftext"):
        _ = tok.eot_id


@pytest.mark.parametrize("present", [[], ["encoder.json"], ["vocab.bpe"], ["vocab.json"], ["merges.txt"],
                                     ["encoder.json", "merges.txt"]])
def test_folder_without_a_complete_tokenizer_is_a_config_error(gpt2_dir, tmp_path, present):
    source = {"encoder.json": "encoder.json", "vocab.json": "encoder.json", "vocab.bpe": "vocab.bpe",
              "merges.txt": "vocab.bpe"}
    for name in present:
        shutil.copyfile(gpt2_dir / source[name], tmp_path / name)
    with pytest.raises(ConfigError, match="none of"):
        load_tokenizer(tmp_path)


def test_missing_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_tokenizer(tmp_path / "nowhere" / "tokenizer.json")


def test_tokenizer_json_settings_are_honoured_or_refused(tmp_path):
    """A byte-level BPE tokenizer.json whose normalizer or pre-tokenizer options differ from GPT-2's
    (a lower-casing normalizer, ``add_prefix_space``) must not be silently encoded as if it were GPT-2's."""
    from tokenizers import Tokenizer

    tok = train_bpe(["Hello World, hello world. " * 20, "The quick brown fox jumps. " * 20], 300)
    tok.save(tmp_path)
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    data["normalizer"] = {"type": "Lowercase"}
    data["pre_tokenizer"]["add_prefix_space"] = True
    path = tmp_path / "other.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    text = "Hello World"
    try:
        loaded = load_tokenizer(path)
    except ConfigError:
        return  # refusing it is fine
    own = Tokenizer.from_file(str(path)).encode(text, add_special_tokens=False).ids
    assert loaded.encode_batch([text]) == [own]


# ---------------------------------------------------------------------------------------------
# Training


@pytest.fixture(scope="module")
def train_texts(texts) -> list[str]:
    return texts[::2]  # about 1.2 MB: half of each corpus


@pytest.fixture(scope="module")
def trained(train_texts) -> BpeTokenizer:
    return train_bpe(iter(train_texts), 2000)


def test_trained_vocab_is_byte_level_with_endoftext_last(trained):
    assert trained.vocab_size == 2000
    assert trained.eot_id == 1999 and trained.specials == {EOT: 1999}
    assert sorted(trained.ranks.values()) == list(range(1999))
    assert {bytes([b]) for b in range(256)} <= set(trained.ranks)
    assert len(trained.merges) == 2000 - 257
    # The id of a merge's result is its merge rank (what lets tiktoken encode it identically).
    assert all(trained.ranks[a + b] == 256 + i for i, (a, b) in enumerate(trained.merges))
    assert trained.token_dtype.__name__ == "uint16"


def test_trained_merges_stay_inside_one_pre_token(trained, train_texts):
    pattern = regex.compile(GPT2_PATTERN)
    # Every merged token lies inside one pre-token of the training text: join the distinct
    # pre-tokens with a byte the corpus lacks, so a substring search cannot cross two of them.
    pretokens = {p.encode("utf-8") for t in train_texts for p in pattern.findall(t)}
    assert not any(b"\x00" in p for p in pretokens)
    blob = b"\x00".join(pretokens)
    merged = [t for t in trained.ranks if len(t) > 1]
    assert len(merged) == 2000 - 257
    outside = [t for t in merged if t not in blob]
    assert not outside, outside[:10]
    # And, read as text, each is a single pre-token of GPT-2's pattern: letters with at most one
    # leading space, digits, punctuation or whitespace, never a mix.
    for token in merged:
        text = token.decode("utf-8", errors="ignore")  # drop bytes of characters cut in two
        if text:
            assert pattern.findall(text) == [text], token
    assert any(t.startswith(b" ") and t[1:].isalpha() for t in merged)  # " the"-style tokens exist


def test_trained_tokenizer_round_trips_any_text(trained):
    rng = random.Random(7)
    pool = [c for c in map(chr, range(0x30000)) if not 0xD800 <= ord(c) < 0xE000]
    randoms = ["".join(rng.choice(pool) for _ in range(rng.randint(1, 200))) for _ in range(50)]
    samples = [*TRICKY, *randoms, "".join(map(chr, range(256)))]
    fast = trained.tiktoken.encode_ordinary_batch(samples, num_threads=1)
    ref = [e.ids for e in trained.hf.encode_batch(samples, add_special_tokens=False)]
    assert fast == ref
    for text, ids in zip(samples, fast, strict=True):
        assert trained.decode(ids) == text
        assert all(0 <= i < trained.eot_id for i in ids)


def test_trained_tokenizer_is_deterministic(trained, train_texts):
    again = train_bpe((t for t in train_texts), 2000)
    assert again.content_hash == trained.content_hash
    assert again.merges == trained.merges


def test_trained_tokenizer_uses_tiktoken_identical_to_tokenizers(trained, texts, tmp_path):
    fresh = BpeTokenizer(dict(trained.ranks), list(trained.merges), dict(trained.specials), source="trained")
    assert fresh.check_engines(texts) == "tiktoken"
    fast = fresh.encode_batch(texts, threads=2)  # text it was trained on and text it was not
    some = slice(0, None, 3)
    assert fast[some] == [e.ids for e in trained.hf.encode_batch(texts[some], add_special_tokens=False)]
    assert sum(map(len, fast[some])) > 150_000
    # Saved and loaded back in either format: the same tokenizer.
    trained.save(tmp_path)
    assert load_tokenizer(tmp_path).content_hash == trained.content_hash
    assert load_tokenizer(tmp_path / "tokenizer.json").content_hash == trained.content_hash


def test_small_corpus_gives_fewer_tokens_but_endoftext_still_last():
    tok = train_bpe(["abab abab cdcd"] * 10, 1000)
    assert 257 < tok.vocab_size < 1000
    assert tok.eot_id == tok.vocab_size - 1
    assert tok.decode(tok.encode_batch(["abab cd zz"])[0]) == "abab cd zz"


def test_vocab_size_below_bytes_plus_endoftext_is_a_config_error():
    with pytest.raises(ConfigError):
        train_bpe(["some text"], 256)


def test_learned_token_spelled_like_a_special_token_stays_ordinary():
    """Haskell's ``<|>`` operator (and any ``<|...|>``-shaped punctuation run) can be learned as an
    ordinary merge; it must not be mistaken for a special token, which leaves the tokenizer unusable."""
    corpus = ["f <|> g = x<|>y, a<|>b; pure x<|>empty " * 30, "hello world, plain words here. " * 30] * 10
    tok = train_bpe(corpus, 300)
    assert set(tok.specials) == {EOT}
    assert b"<|>" in tok.ranks
    ids = tok.encode_batch(["a<|>b"])[0]
    assert tok.decode(ids) == "a<|>b"
