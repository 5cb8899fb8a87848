"""How a text becomes model inputs, exactly as lm-evaluation-harness builds them.

Rolling log-likelihood (``loglikelihood_rolling``): the tokens are cut into windows of the model's
context ``L``; the first window is conditioned on ``<|endoftext|>`` and predicts the first
``min(L, n)`` tokens; each later window predicts the next ``stride`` tokens (``stride = L``:
lm-eval's disjoint windows, each conditioned on the one token before it, except the last window,
which is filled from the left with earlier tokens). ``stride < L`` gives overlapping windows:
every token is still scored once, now with at least ``L - stride`` tokens before it. This is
``utils.get_rolling_token_windows(context_len=L - stride + 1)`` + ``make_disjoint_window``, then
``_loglikelihood_tokens``'s ``(context + continuation)[-(L + 1):][:-1]``.

Context/continuation pairs (``loglikelihood``): ``_encode_pair``: trailing spaces of the context
move to the continuation, the whole string is encoded and split at the context's length; an
input longer than ``L + 1`` tokens is cut from the left (and counted by the caller).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


def rolling_windows(tokens: Sequence[int], prefix: int, max_len: int,
                    stride: int | None = None) -> list[tuple[list[int], int]]:
    """``(input ids, n scored)`` per window: the last ``n scored`` positions of ``input ids``
    predict the next tokens; over all windows each of ``tokens`` is predicted exactly once."""
    stride = max_len if stride is None else stride
    if not 1 <= stride <= max_len:
        raise ValueError(f"stride {stride} must be in [1, {max_len}]")
    n = len(tokens)
    if n == 0:
        return []
    tokens = list(tokens)
    first = min(max_len, n)
    out = [([prefix, *tokens[: first - 1]], first)]
    predicted = first
    while predicted < n:
        pred = min(n - predicted, stride)
        end = predicted + pred
        # lm-eval's window: context tokens[end - L - 1 : end - 1], made disjoint from the predicted ones
        start = max(end - max_len - 1, 0)
        context = tokens[start: end - 1]
        context = context[: len(context) - (pred - 1)]
        seq = (context + tokens[end - pred: end])[-(max_len + 1):][:-1]
        out.append((seq, pred))
        predicted = end
    return out


def encode_pair(encode: Callable[[str], list[int]], context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-eval's ``_encode_pair`` for a causal model (an empty context is conditioned on nothing
    here: the caller puts ``<|endoftext|>`` first, as lm-eval does)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = encode(context + continuation)
    n_context = len(encode(context))
    return whole[:n_context], whole[n_context:]


def pair_input(context: list[int], continuation: list[int], max_len: int) -> tuple[list[int], int, bool]:
    """``(input ids, n scored, truncated)``: lm-eval's ``(context + continuation)[-(L + 1):][:-1]``."""
    whole = context + continuation
    return whole[-(max_len + 1):][:-1], len(continuation), len(whole) > max_len + 1
