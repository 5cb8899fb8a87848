"""numpy helpers the stages share."""

from __future__ import annotations

import numpy as np


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of a 1-d integer array, ascending: ``np.unique(values)``, by a sort.

    numpy 2.4's ``np.unique`` finds the distinct values with a hash table and sorts them afterwards: ~15x slower than
    a sort on 250,000 random 64-bit n-gram hashes (0.12 s against 0.008 s measured here), a noticeable share of a
    small ``contamination`` run."""
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
