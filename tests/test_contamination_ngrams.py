"""GPT-2's n-gram normalisation and hash: the compiled bulk hasher equals the plain definitions."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from realdata import shared_data

from webtext.contamination.decontaminate import word_spans
from webtext.contamination.ngrams import gpt2_words, hash_texts, ngram_hash, ngram_strings

M64 = (1 << 64) - 1
REFERENCE_WORD = re.compile(r"[a-z0-9]+")  # the acceptance check's normalisation, written out again

TRICKY = [
    "İstanbul is the largest city in Türkiye, and İzmir is the third",  # 'İ'.lower() is two code points
    "The KELVIN sign K and the ANGSTROM sign Å lower-case to ASCII k and to å",
    "Die Straße in München heißt GROSSE STRASSE, nicht große straße",
    "東京 is Tokyo, 北京 is Beijing; 日本語のテキスト mixed with English words here",
    "emoji 😀 between 🎉 words 👍🏽 and flags 🇫🇷 and a family 👨‍👩‍👧 are separators",
    "digits 1 2 3 4 5 6 7 8 9 10 3.14159 2,718 1e10 0x1F 007 and １２３ full-width",
    "punctuation!!! --- (brackets) [more] {braces} <tags> don't can't won't e-mail a/b/c",
    "tabs\tand\nnew\r\nlines\x0bvertical\x0cfeed\u2028line\u2029para\u00a0nbsp\u200bzero width",
    "Ünïcödé àccents ÉCOLE école Æsop Œuvre ﬁnancial ligature ǅ titlecase",
    "short text",
    "one",
    "",
    None,
    "   ",
    "ALL CAPS SENTENCE WITH EXACTLY NINE WORDS IN IT OK",
    "x" * 3000 + " y z " + "w " * 50,
]


# ---------------------------------------------------------------------------------------------
# An independent implementation of the documented hash (FNV-1a per word, ordered combination,
# MurmurHash3's 64-bit finaliser of the combination xor the word count).


def _fnv1a(word: bytes) -> int:
    h = 0xCBF29CE484222325
    for c in word:
        h = ((h ^ c) * 0x100000001B3) & M64
    return h


def _fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & M64
    return k ^ (k >> 33)


def _reference_hash(words: list[str]) -> int:
    g = 0x243F6A8885A308D3
    for w in words:
        g = ((g + _fnv1a(w.encode())) * 0x9E3779B97F4A7C15) & M64
    return _fmix64(g ^ len(words))


def _reference(texts, n: int) -> tuple[list[int], list[int]]:
    hashes, counts = [], []
    for t in texts:
        words = REFERENCE_WORD.findall((t or "").lower())
        grams = [words[i:i + n] for i in range(len(words) - n + 1)]
        hashes += [_reference_hash(g) for g in grams]
        counts.append(len(grams))
    return hashes, counts


# ---------------------------------------------------------------------------------------------


def test_gpt2_words_is_lowercased_ascii_alphanumeric_runs():
    assert gpt2_words("İstanbul") == ["i", "stanbul"]  # 'i' + U+0307 (combining dot) + 'stanbul'
    assert gpt2_words("\u212a") == ["k"]  # KELVIN SIGN lower-cases to ASCII k
    assert gpt2_words("Straße") == ["stra", "e"]
    assert gpt2_words("東京 😀 ١٢٣ １２３") == []  # no ASCII letters or digits
    assert gpt2_words("Don't STOP 3.14 e-mail") == ["don", "t", "stop", "3", "14", "e", "mail"]
    assert gpt2_words("") == []
    for t in TRICKY:
        assert gpt2_words(t or "") == REFERENCE_WORD.findall((t or "").lower())


def test_ngram_strings_and_hash_follow_the_definition():
    assert ngram_strings("A b, C! d", 2) == ["a b", "b c", "c d"]
    assert ngram_strings("a b", 3) == []
    assert ngram_hash("the quick brown fox jumps over the lazy") == _reference_hash(
        ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy"])
    # Pinned: saved Bloom filters and reports depend on this exact hash scheme.
    assert ngram_hash("the quick brown fox jumps over the lazy") == 13236977183734270084
    assert ngram_hash("a b") != ngram_hash("b a") != ngram_hash("ab")
    assert ngram_hash("a b") != ngram_hash("a b c")


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13])
def test_hash_texts_matches_reference_on_tricky_text(n):
    batch = hash_texts(TRICKY, n)
    want_hashes, want_counts = _reference(TRICKY, n)
    assert batch.counts.tolist() == want_counts
    assert batch.hashes.dtype == np.uint64
    assert batch.hashes.tolist() == want_hashes
    assert batch.hashes.tolist() == [ngram_hash(g) for t in TRICKY for g in ngram_strings(t or "", n)]
    assert batch.starts().tolist() == [0, *np.cumsum(want_counts).tolist()]


def test_hash_texts_on_real_benchmark_lines():
    lines = [line for line in (shared_data("wikitext-2") / "test.txt").read_text(encoding="utf-8").splitlines()
             if line.strip()][:1500]
    lines += [line for line in (shared_data("ptb") / "ptb.test.txt").read_text().splitlines() if line.strip()][:1500]
    for n in (8, 13):
        batch = hash_texts(lines, n)
        assert batch.counts.tolist() == [len(ngram_strings(t, n)) for t in lines]
        assert batch.hashes.tolist() == [ngram_hash(g) for t in lines for g in ngram_strings(t, n)]
    assert len(hash_texts(lines, 8).hashes) > 10_000  # the comparison covered real volume


def test_empty_and_missing_texts():
    batch = hash_texts([None, "", "   ", "!!!"], 8)
    assert batch.counts.tolist() == [0, 0, 0, 0] and len(batch.hashes) == 0
    batch = hash_texts([], 8)
    assert len(batch.counts) == 0 and len(batch.hashes) == 0
    batch = hash_texts(["one two three", None, "a b c d e f g h"], 8)  # shorter than n, missing, exactly n
    assert batch.counts.tolist() == [0, 0, 1]
    assert batch.hashes.tolist() == [ngram_hash("a b c d e f g h")]


def test_ngrams_never_cross_text_boundaries():
    a, b = "alpha beta gamma delta", "epsilon zeta eta theta"
    batch = hash_texts([a, b], 3)
    assert batch.counts.tolist() == [2, 2]
    across = {ngram_hash(g) for g in ["gamma delta epsilon", "delta epsilon zeta"]}
    assert not across & set(batch.hashes.tolist())
    joined = hash_texts([a + " " + b], 3)
    assert across <= set(joined.hashes.tolist()) and len(joined.hashes) == 6
    # Texts that individually have fewer than n words give nothing, even in a long batch.
    many = hash_texts([f"w{i} x" for i in range(500)], 3)
    assert len(many.hashes) == 0 and many.counts.sum() == 0


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), st.text(max_size=80),
                                st.text(alphabet="aAbB1 \u0130\u212a\u00df.-\n", max_size=60)), max_size=8),
       n=st.integers(min_value=2, max_value=9))
def test_hash_texts_property(texts, n):
    batch = hash_texts(texts, n)
    want_hashes, want_counts = _reference(texts, n)
    assert batch.counts.tolist() == want_counts
    assert batch.hashes.tolist() == want_hashes


def test_word_spans_map_words_back_to_the_original_text():
    for text in TRICKY:
        text = text or ""
        spans = word_spans(text)
        words = gpt2_words(text)
        assert len(spans) == len(words)
        assert all(0 <= s < e <= len(text) for s, e in spans)
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        if len(text.lower()) == len(text):
            assert [text[s:e].lower() for s, e in spans] == words
    assert word_spans("İstanbul \u212aelvin") == [(0, 1), (1, 8), (9, 15)]


def test_unigrams_of_many_short_texts():
    """BUG (webtext/contamination/ngrams.py, hash_texts): the output buffer holds total_bytes // 2 + 1
    hashes, but with n = 1 (allowed: --ngram 1..64) a 1-byte text has one n-gram, so many short texts
    overflow it and the numba kernel writes past the end (heap corruption, the process aborts).
    Run in a subprocess so the crash cannot take pytest down."""
    code = textwrap.dedent("""
        from webtext.contamination.ngrams import hash_texts
        b = hash_texts(["a"] * 1000, 1)
        assert len(b.hashes) == b.counts.sum() == 1000, (len(b.hashes), b.counts.sum())
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"hash_texts(['a'] * 1000, 1) failed: rc {proc.returncode} {proc.stderr[-500:]}"


@pytest.mark.parametrize("n", [1, 3, 8])
def test_hash_texts_reads_arrow_columns_in_place(n):
    import pyarrow as pa

    want = hash_texts(TRICKY, n)
    for column in (pa.array(TRICKY, pa.string()), pa.array(TRICKY, pa.large_string()),
                   pa.chunked_array([pa.array(TRICKY[:5]), pa.array(TRICKY[5:])])):
        got = hash_texts(column, n)
        assert got.counts.tolist() == want.counts.tolist()
        assert got.hashes.tolist() == want.hashes.tolist()
    sliced = pa.array(["zero one two", *TRICKY], pa.string()).slice(1)
    assert hash_texts(sliced, n).hashes.tolist() == want.hashes.tolist()
    assert len(hash_texts(pa.array([], pa.string()), n).counts) == 0


@pytest.mark.parametrize("n", [1, 8])
def test_hash_texts_in_two_threads_equals_one(n, monkeypatch):
    """A batch split between this thread and a helper hashes to the same n-grams in the same order,
    wherever the split falls (a tiny SPLIT_BYTES puts it inside every kind of text)."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    from webtext.contamination import ngrams

    texts = [t for _ in range(3) for t in TRICKY]
    want = hash_texts(texts, n)
    monkeypatch.setattr(ngrams, "SPLIT_BYTES", 1)
    with ThreadPoolExecutor(1) as helper:
        for batch in (texts, pa.array(texts, pa.string()), pa.array(texts, pa.string()).slice(7), texts[:2]):
            ref = hash_texts(batch, n)
            for compact in (True, False):
                got = hash_texts(batch, n, compact=compact, helper=helper)
                assert got.counts.tolist() == ref.counts.tolist()
                assert got.hashes.tolist() == ref.hashes.tolist()
        assert hash_texts(texts, n, helper=helper).hashes.tolist() == want.hashes.tolist()
