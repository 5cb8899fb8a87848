"""``webtext.arrays``: numpy helpers equal to numpy's own functions."""

from __future__ import annotations

import numpy as np
import pytest

from webtext.arrays import sorted_unique


@pytest.mark.parametrize("dtype", [np.uint64, np.int64, np.int32])
@pytest.mark.parametrize("size", [0, 1, 2, 7, 1000])
def test_sorted_unique_is_np_unique(dtype, size):
    rng = np.random.default_rng(size)
    for high in (3, 2**31 - 1):  # many repeats, and nearly none
        values = rng.integers(0, high, size).astype(dtype)
        got = sorted_unique(values)
        assert got.dtype == values.dtype
        np.testing.assert_array_equal(got, np.unique(values))
