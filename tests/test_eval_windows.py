"""Rolling windows and context/continuation inputs built exactly as lm-evaluation-harness builds them."""

from __future__ import annotations

import random

import pytest

from webtext.eval.windows import encode_pair, pair_input, rolling_windows


def test_rolling_windows_equal_lm_eval_on_random_lengths():
    utils = pytest.importorskip("lm_eval.utils")
    rng = random.Random(0)
    for _ in range(2000):
        n, max_len = rng.randint(0, 400), rng.randint(1, 50)
        stride = rng.choice([max_len, rng.randint(1, max_len)])
        tokens = [rng.randrange(1000) for _ in range(n)]
        ref = [((c + b)[-(max_len + 1):][:-1], len(b)) for c, b in map(
            utils.make_disjoint_window, utils.get_rolling_token_windows(tokens, 7777, max_len, max_len - stride + 1))]
        assert rolling_windows(tokens, 7777, max_len, stride) == ref, (n, max_len, stride)


def test_every_token_scored_once_with_its_true_history():
    tokens = list(range(100, 137))
    for stride in (1, 3, 8):
        windows = rolling_windows(tokens, 0, 8, stride)
        scored = []
        for inp, n in windows:
            assert len(inp) <= 8
            full = [0, *tokens]
            start = full.index(inp[0]) if inp[0] else 0
            assert full[start: start + len(inp)] == inp  # a contiguous stretch of the true history
            scored += full[start + len(inp) - n + 1: start + len(inp) + 1]
        assert scored == tokens
        if stride < 8:  # overlapping windows: every later window sees >= 8 - stride tokens before its first target
            assert all(len(inp) - n >= 8 - stride for inp, n in windows[1:])


def test_encode_pair_moves_trailing_spaces_and_inputs_are_cut_from_the_left():
    def encode(s):
        return [ord(c) for c in s]  # one token per character: the split is visible

    ctx, cont = encode_pair(encode, "the cat ", "sat")
    assert ctx == encode("the cat") and cont == encode(" sat")
    inp, n, cut = pair_input(list(range(10)), [10, 11], 8)
    assert inp == list(range(3, 11)) and n == 2 and cut
    assert pair_input([1, 2], [3], 8) == ([1, 2], 1, False)
