"""Training batches from memory-mapped token shards, in a seeded global order, resumable exactly.

The train split's shards are cut into windows of ``seq_len + 1`` tokens starting every
``seq_len`` tokens (inputs and shifted targets). Windows are visited **without replacement** in
a permutation of all windows seeded by (seed, epoch); the global batch of step ``s`` is the
``batch_size`` windows from position ``s * batch_size`` of that endless sequence. A rank takes
its slice of the global batch, so the batch of a step does not depend on the number of
processes, and the position (samples consumed) is all a checkpoint needs to resume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from webtext.tokenize.shards import TokenDataset


@dataclass
class WindowRef:
    shard: int
    offset: int


class WindowSampler:
    def __init__(self, data: TokenDataset, seq_len: int, seed: int) -> None:
        self.data, self.seq_len, self.seed = data, seq_len, seed
        counts = np.maximum((data.sizes - 1) // seq_len, 0)  # windows per shard (each needs seq_len + 1)
        if not counts.sum():
            raise ValueError(f"no shard holds {seq_len + 1} tokens: nothing to train on")
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self.n_windows = int(self.starts[-1])
        self._perm: tuple[int, np.ndarray] | None = None

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._perm = (epoch, rng.permutation(self.n_windows))
        return self._perm[1]

    def ref(self, sample: int) -> WindowRef:
        """Where global sample number ``sample`` (0, 1, ...) comes from."""
        epoch, i = divmod(sample, self.n_windows)
        w = int(self._permutation(epoch)[i])
        shard = int(np.searchsorted(self.starts, w, side="right") - 1)
        return WindowRef(shard, (w - int(self.starts[shard])) * self.seq_len)

    def window(self, ref: WindowRef) -> np.ndarray:
        return self.data.shards[ref.shard].tokens[ref.offset:ref.offset + self.seq_len + 1]

    def batch(self, first_sample: int, rows: range) -> tuple[torch.Tensor, torch.Tensor, list[WindowRef]]:
        """(inputs, targets, where each row came from) for the rows ``rows`` of the global batch
        that starts at sample ``first_sample``."""
        refs = [self.ref(first_sample + r) for r in rows]
        arr = np.stack([self.window(r) for r in refs]).astype(np.int64)
        t = torch.from_numpy(arr)
        return t[:, :-1], t[:, 1:], refs
