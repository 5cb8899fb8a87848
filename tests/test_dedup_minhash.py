"""What a dedup signature is: our MinHash equals datasketch's bit for bit, normalisation, the LSH
band split (datasketch's parameters and candidates) and the union-find kernels."""

from __future__ import annotations

import importlib
import random
from collections import defaultdict
from itertools import combinations

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH
from hypothesis import given, settings
from hypothesis import strategies as st
from realdata import shared_data

from webtext.dedup.buckets import group_bounds, required_matches
from webtext.dedup.kernels import band_keys, resolve_roots, union_pairs
from webtext.dedup.minhash import (
    MinHasher,
    estimated_jaccard,
    exact_hash,
    lsh_params,
    normalise_text,
    shingle_hash,
    shingles,
)

EMPTY = np.uint32(0xFFFFFFFF)

NON_ASCII = [
    "東京は日本の首都です。 人口 は 非常 に 多い です 大阪 京都 名古屋 札幌",  # CJK, mostly no spaces
    "北京 上海 广州 深圳 天津 重庆 成都 武汉 西安 南京 杭州",
    "Привет мир как дела у тебя сегодня всё хорошо спасибо большое",  # Cyrillic
    "مرحبا بالعالم كيف حالك اليوم يا صديقي العزيز في المدينة",  # Arabic (right to left)
    "😀 🎉 👍🏽 family 👨‍👩‍👧 emoji text 🇫🇷 flags here now",  # emoji, ZWJ sequences, modifiers
    "ﬁne ﬂow ﬀ ligatures ＨＥＬＬＯ ｗｏｒｌｄ fullwidth Straße İstanbul ΣΊΣΥΦΟΣ",  # NFKC and casefold
    "a\u00a0b\u2003c\u3000d\u0085e\u2028f\x1cg\th\ni\r\nj",  # exotic whitespace between words
    "ascii then ünïcödé then 한국어 텍스트 then हिन्दी पाठ then ไทย",
]
EDGE = ["", " ", "\t\n \u3000 \u00a0", None, "a", "a b", "b a", "one two three four", "x" * 5000]
COMBOS = [(128, 1, 5), (64, 42, 3), (256, 7, 1), (16, 2**32 - 1, 9)]  # (num_perm, seed, ngram); 128/1/5 default


@pytest.fixture(scope="module")
def wiki_docs() -> list[str]:
    """A few hundred documents cut from WikiText-2's test split: paragraphs and some headings."""
    lines = (shared_data("wikitext-2") / "test.txt").read_text(encoding="utf-8").split("\n")
    paragraphs = [line for line in lines if len(line.split()) >= 20][:250]
    headings = [line for line in lines if line.strip().startswith("=")][:50]  # 2..10 words: shorter than most n
    return paragraphs + headings


def datasketch_values(text: str | None, num_perm: int, seed: int, ngram: int) -> tuple[np.ndarray, int]:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=shingle_hash)
    sh = shingles(text, ngram)
    m.update_batch(sh)
    return m.hashvalues, len(sh)


def assert_equal_to_datasketch(texts, num_perm, seed, ngram):
    sigs = MinHasher(num_perm, seed, ngram).signatures(texts)
    assert sigs.values.shape == (len(texts), num_perm) and sigs.values.dtype == np.uint32
    for i, text in enumerate(texts):
        expected, n = datasketch_values(text, num_perm, seed, ngram)
        assert expected.dtype == np.uint32
        assert np.array_equal(sigs.values[i], expected), f"signature of text {i} differs: {text!r:.80}"
        assert sigs.n_shingles[i] == n, f"shingle count of text {i}: {text!r:.80}"
        assert sigs.exact[i] == exact_hash(normalise_text(text).encode())


# ---------------------------------------------------------------------------------------------
# Signatures == datasketch


@pytest.mark.parametrize(("num_perm", "seed", "ngram"), COMBOS)
def test_signatures_equal_datasketch_on_real_text(wiki_docs, num_perm, seed, ngram):
    assert len(wiki_docs) == 300
    assert_equal_to_datasketch(wiki_docs, num_perm, seed, ngram)


@pytest.mark.parametrize(("num_perm", "seed", "ngram"), COMBOS)
def test_signatures_equal_datasketch_on_non_ascii_and_edge_texts(num_perm, seed, ngram):
    assert_equal_to_datasketch(NON_ASCII + EDGE, num_perm, seed, ngram)


def test_empty_and_whitespace_texts_have_the_empty_signature():
    texts = ["", " ", "\n\t\r ", "\u3000\u00a0\u2003", None]
    sigs = MinHasher(128, 1, 5).signatures(texts)
    empty = MinHash(num_perm=128, seed=1, hashfunc=shingle_hash).hashvalues
    assert np.all(empty == EMPTY)
    assert np.all(sigs.values == EMPTY) and np.all(sigs.n_shingles == 0)
    assert len(set(sigs.exact)) == 1  # all normalise to ""
    assert all(shingles(t, 5) == [] for t in texts)


def test_texts_shorter_than_ngram_are_one_shingle_and_stay_distinct():
    texts = ["alpha", "alpha beta", "beta alpha", "alpha beta gamma delta", "ALPHA  Beta"]
    assert shingles("alpha beta gamma delta", 5) == [b"alpha beta gamma delta"]
    sigs = MinHasher(128, 1, 5).signatures(texts)
    assert list(sigs.n_shingles) == [1, 1, 1, 1, 1]
    sim = estimated_jaccard(sigs.values[:, None, :], sigs.values[None, :, :])
    # distinct short texts share (almost) no positions; a case/space variant is the same text
    assert sim[0, 1] < 0.1 and sim[1, 2] < 0.1 and sim[1, 3] < 0.1 and sim[0, 3] < 0.1
    assert sim[1, 4] == 1.0 and sigs.exact[1] == sigs.exact[4]


def test_signatures_do_not_depend_on_the_batch(wiki_docs):
    """The kernel's word buffers are sized by the longest document: a huge text among short ones."""
    rng = random.Random(3)
    vocab = sorted({w for d in wiki_docs for w in d.split()})
    huge = " ".join(rng.choices(vocab, k=60_000))
    texts = ["short one", *wiki_docs[:20], huge, "", "x", *wiki_docs[20:40]]
    hasher = MinHasher(128, 1, 5)
    together = hasher.signatures(texts)
    for i, text in enumerate(texts):
        alone = hasher.signatures([text])
        assert np.array_equal(alone.values[0], together.values[i])
        assert alone.n_shingles[0] == together.n_shingles[i]
    assert together.n_shingles[texts.index(huge)] == 60_000 - 4
    expected, _ = datasketch_values(huge, 128, 1, 5)
    assert np.array_equal(together.values[texts.index(huge)], expected)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=6), st.sampled_from(COMBOS))
def test_signatures_equal_datasketch_on_any_unicode(texts, combo):
    assert_equal_to_datasketch(texts, *combo)


def test_shingle_hash_is_a_32_bit_order_sensitive_word_hash():
    values = [shingle_hash(s) for s in (b"a b", b"b a", b"ab", b"a bc", b"ab c", b"a b c d e")]
    assert all(0 <= v < 2**32 for v in values)
    assert len(set(values)) == len(values)
    assert shingle_hash(b"a b") == shingle_hash(b"a b")
    assert shingles("The quick  brown\tfox jumps over", 5) == [
        b"the quick brown fox jumps", b"quick brown fox jumps over"]
    assert shingles("one two", 1) == [b"one", b"two"]


# ---------------------------------------------------------------------------------------------
# Normalisation


@pytest.mark.parametrize(("a", "b"), [
    ("Hello World", "hello world"),
    ("Hello World", "  HELLO\t\n  world \r\n"),
    ("fine flow", "ﬁne ﬂow"),  # NFKC ligatures
    ("hello world", "ＨＥＬＬＯ　ｗｏｒｌｄ"),  # fullwidth letters and ideographic space
    ("strasse", "STRAßE"),  # casefold, not lower
    ("a b", "a\u00a0b"),  # no-break space
    ("x2", "x²"),  # NFKC superscript
    ("café", "cafe\u0301"),  # composed and decomposed accents
])
def test_variants_have_the_same_exact_hash_and_signature(a, b):
    assert normalise_text(a) == normalise_text(b)
    assert exact_hash(normalise_text(a).encode()) == exact_hash(normalise_text(b).encode())
    sigs = MinHasher(64, 1, 5).signatures([a, b])
    assert sigs.exact[0] == sigs.exact[1] and np.array_equal(sigs.values[0], sigs.values[1])


def test_different_texts_have_different_exact_hashes():
    texts = ["hello world", "hello  world!", "helloworld", "world hello", "hello wörld", ""]
    digests = {exact_hash(normalise_text(t).encode()) for t in texts}
    assert len(digests) == len(texts)
    assert normalise_text("  Hello \n World  ") == "hello world"
    assert normalise_text(None) == normalise_text("") == ""
    assert len(exact_hash(b"abc")) == 16


# ---------------------------------------------------------------------------------------------
# LSH: datasketch's parameters, the same candidates as MinHashLSH


# lsh_params is a vendored copy of datasketch's private optimiser: compared while datasketch has it.
_optimal_param = getattr(importlib.import_module("datasketch.lsh"), "_optimal_param", None)


@pytest.mark.skipif(_optimal_param is None, reason="datasketch.lsh._optimal_param is gone; the vendored copy stands")
@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.1, 0.9), (0.9, 0.1), (0.3, 0.7)])
@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.8, 0.9, 0.95])
def test_vendored_lsh_params_equal_datasketchs_private_optimiser(threshold, num_perm, weights):
    assert lsh_params(threshold, num_perm, weights) == tuple(_optimal_param(threshold, num_perm, *weights))


@pytest.mark.parametrize("num_perm", [16, 64, 128, 256])
@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9, 0.95])
def test_lsh_params_are_datasketchs(threshold, num_perm):
    bands, rows = lsh_params(threshold, num_perm)
    assert bands * rows <= num_perm
    if bands >= 2:  # MinHashLSH refuses a single band
        lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        assert (lsh.b, lsh.r) == (bands, rows)


def _near_copies(docs: list[str], rng: random.Random) -> list[str]:
    """Copies of ``docs`` with a share of their words replaced (0% to 8%)."""
    out = []
    for i, doc in enumerate(docs):
        words = doc.split()
        for j in rng.sample(range(len(words)), int(len(words) * (i % 9) * 0.01)):
            words[j] = f"edit{rng.randrange(10**6)}"
        out.append(" ".join(words))
    return out


@pytest.mark.parametrize(("threshold", "weights"), [(0.8, (0.5, 0.5)), (0.8, (0.1, 0.9)), (0.6, (0.5, 0.5))])
def test_band_keys_give_the_candidates_of_datasketch_minhashlsh(wiki_docs, threshold, weights):
    rng = random.Random(7)
    base = [d for d in wiki_docs if len(d.split()) >= 40][:120]
    texts = base + _near_copies(base, rng)
    num_perm = 128
    bands, rows = lsh_params(threshold, num_perm, weights)
    sigs = MinHasher(num_perm, 1, 5).signatures(texts)
    # ours: documents sharing the key of some band
    keys = band_keys(sigs.values, bands, rows)
    assert keys.shape == (len(texts), bands) and keys.dtype == np.uint64
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for d in range(len(texts)):
        for b in range(bands):
            groups[(b, int(keys[d, b]))].append(d)
    ours = {(x, y) for g in groups.values() for x, y in combinations(g, 2)}
    # datasketch's index over the same MinHashes
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=(bands, rows))
    minhashes = []
    for i, text in enumerate(texts):
        m = MinHash(num_perm=num_perm, seed=1, hashfunc=shingle_hash)
        m.update_batch(shingles(text, 5))
        lsh.insert(i, m)
        minhashes.append(m)
    theirs = {(min(i, j), max(i, j)) for i, m in enumerate(minhashes) for j in lsh.query(m) if i != j}
    assert ours == theirs
    unedited = {(i, i + len(base)) for i in range(0, len(base), 9)}
    assert unedited < ours  # the unedited copies and some edited ones are candidates


@pytest.mark.parametrize(("threshold", "num_perm", "need"), [
    (0.8, 128, 103), (0.5, 128, 64), (1.0, 128, 128), (0.9, 10, 9), (0.75, 64, 48),
    (0.56, 100, 56), (0.55, 100, 55),  # 0.56 * 100 == 56.00000000000001 in floating point
])
def test_required_matches_is_the_estimated_jaccard_threshold(threshold, num_perm, need):
    assert required_matches(threshold, num_perm) == need
    for equal in range(num_perm + 1):
        x = np.zeros(num_perm, np.uint32)
        y = np.r_[np.zeros(equal, np.uint32), np.ones(num_perm - equal, np.uint32)]
        assert (estimated_jaccard(x, y) >= threshold - 1e-12) == (equal >= need)


def test_estimated_jaccard_is_datasketchs(wiki_docs):
    a, b = wiki_docs[0], " ".join(wiki_docs[0].split()[:60] + wiki_docs[1].split()[:20])
    sigs = MinHasher(128, 1, 5).signatures([a, b])
    ma, mb = (MinHash(num_perm=128, seed=1, hashfunc=shingle_hash) for _ in range(2))
    ma.update_batch(shingles(a, 5))
    mb.update_batch(shingles(b, 5))
    assert estimated_jaccard(sigs.values[0], sigs.values[1]) == ma.jaccard(mb)


def test_group_bounds_split_sorted_records_into_runs():
    band = np.array([0, 0, 0, 1, 1, 2], np.uint16)
    key = np.array([5, 5, 7, 5, 5, 5], np.uint64)
    assert group_bounds(band, key).tolist() == [0, 2, 3, 5, 6]


# ---------------------------------------------------------------------------------------------
# Union-find


def _components_by_search(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Reference: each node's component minimum, by breadth-first search."""
    adj: dict[int, list[int]] = defaultdict(list)
    for x, y in pairs:
        adj[x].append(y)
        adj[y].append(x)
    root = np.arange(n)
    seen = set()
    for start in range(n):
        if start in seen:
            continue
        comp, todo = [], [start]
        seen.add(start)
        while todo:
            v = todo.pop()
            comp.append(v)
            for w in adj[v]:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        root[comp] = min(comp)
    return root


def _roots(n: int, left: np.ndarray, right: np.ndarray, chunk: int = 97) -> np.ndarray:
    parent = np.arange(n, dtype=np.int64)
    union_pairs(parent, left.astype(np.int64), right.astype(np.int64))
    out = np.empty(n, np.int64)
    for start in range(0, n, chunk):  # resolved in chunks, as the clusters pass does
        end = min(start + chunk, n)
        buf = np.empty(end - start, np.int64)
        resolve_roots(parent, start, end, buf)
        out[start:end] = buf
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_union_find_roots_are_component_minima_in_any_pair_order(seed):
    rng = random.Random(seed)
    n = 1000
    pairs = [(rng.randrange(n), rng.randrange(n)) for _ in range(700)]
    pairs += [(i, i + 1) for i in range(500, 560)]  # one long chain
    pairs += [(900, 900)]  # a self pair is harmless
    expected = _components_by_search(n, pairs)
    arr = np.array(pairs, dtype=np.int64)
    first = _roots(n, arr[:, 0], arr[:, 1])
    assert np.array_equal(first, expected)
    for _ in range(3):
        shuffled = arr[rng.sample(range(len(arr)), len(arr))]
        flip = np.array([rng.random() < 0.5 for _ in range(len(arr))])
        left = np.where(flip, shuffled[:, 1], shuffled[:, 0])
        right = np.where(flip, shuffled[:, 0], shuffled[:, 1])
        assert np.array_equal(_roots(n, left, right), first)
    assert np.all(first <= np.arange(n))
    # pairs fed in several batches (one per pair file) give the same roots
    parent = np.arange(n, dtype=np.int64)
    for part in np.array_split(arr, 5):
        union_pairs(parent, part[:, 1].copy(), part[:, 0].copy())
    out = np.empty(n, np.int64)
    resolve_roots(parent, 0, n, out)
    assert np.array_equal(out, expected)


def test_union_find_without_pairs_leaves_every_node_its_own_root():
    assert np.array_equal(_roots(10, np.empty(0, np.int64), np.empty(0, np.int64)), np.arange(10))
