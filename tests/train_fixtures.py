"""Shared set-up of the train-stage tests: one small real tokens dataset and one reference run.

The tokens dataset is Tiny Shakespeare (../shared/data) cut into ~3000-character documents in
three Parquet files, tokenized with a 500-token byte-level BPE trained on it (500 is not a
multiple of 64, so ``pad_vocab`` really pads). Every training run uses the ``tiny`` preset with a
global batch of 8 windows of 64 tokens, seed 7 and ``--deterministic``: a step costs ~0.1 s.

``base_run`` is the reference: 6 steps, a checkpoint after every step, all kept. Tests read it and
never write into it (they copy what they need with ``copy_run``).

torch runs single-threaded here (restored afterwards): on a busy 2-core machine two threads per
process are several times slower than one, and subprocesses get ``OMP_NUM_THREADS=1`` too.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from real_data import shared_data

from webtext.cli import main

VOCAB = 500
BATCH, SEQ, SEED = 8, 64, 7
COMMON = ["--preset", "tiny", "--batch-size", str(BATCH), "--seq-len", str(SEQ), "--seed", str(SEED),
          "--deterministic"]
BASE_STEPS = 6
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def train_argv(tokens: Path, out: Path, steps: int, *flags: str) -> list[str]:
    return ["-q", "train", "--data", str(tokens), *COMMON, "--max-steps", str(steps), "--out", str(out), *flags]


def train(tokens: Path, out: Path, steps: int, *flags: str) -> int:
    """``webtext-build train`` in this process (``--nproc N`` still spawns N processes); the exit status."""
    return main(train_argv(tokens, out, steps, *flags))


def subprocess_argv(tokens: Path, out: Path, steps: int, *flags: str, quiet: bool = True) -> list[str]:
    argv = train_argv(tokens, out, steps, *flags)
    return [sys.executable, "-m", "webtext.cli", *(argv if quiet else argv[1:])]


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines() if line.strip()]


def comparable(rows: list[dict]) -> list[tuple]:
    """What two runs of the same config must agree on (all but the timing columns)."""
    return [(r["step"], r["loss"], r["lr"], r["grad_norm"], r["skipped"]) for r in rows]


def losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in metrics(run)}


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    """The model weights of a ``step-N`` folder (or a run's newest valid one), verified."""
    from webtext.train.export import load_model

    model, _ = load_model(Path(checkpoint))
    return {k: v.clone() for k, v in model.state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def copy_run(src: Path, dst: Path, upto: int | None = None) -> Path:
    """A copy of a run folder with only the checkpoints of steps <= ``upto`` (all when None)."""

    def ignore(_: str, names: list[str]) -> list[str]:
        if upto is None:
            return []
        return [n for n in names if n.startswith("step-") and int(n.split("-")[1]) > upto]

    shutil.copytree(src, dst, ignore=ignore)
    return dst


def step_dirs(run: Path) -> list[str]:
    return sorted((p.name for p in Path(run).iterdir() if p.name.startswith(("step-", ".tmp-step-"))),
                  key=lambda n: (n.startswith("."), int(n.rsplit("-", 1)[1])))


@contextmanager
def captured_logs(name: str = "webtext") -> Iterator[list[logging.LogRecord]]:
    """Log records of ``name`` at WARNING and above (``setup_logging`` replaces the root's handlers,
    so pytest's caplog does not see them)."""
    records: list[logging.LogRecord] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = ListHandler(logging.WARNING)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


@contextmanager
def non_finite_steps(steps: set[int]) -> Iterator[None]:
    """In-process training makes the loss of these (1-based) optimizer steps non-finite: a patch of
    ``Trainer.loss``, the one place a micro-batch's loss is computed (not a production setting)."""
    from unittest import mock

    from webtext.train.trainer import Trainer

    real = Trainer.loss

    def loss(self: Trainer, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = real(self, x, y)
        return value * float("nan") if self.step + 1 in steps else value

    with mock.patch.object(Trainer, "loss", loss):
        yield


# Test modules import these two fixtures; pytest then defines them once per module, so the work is
# cached here to happen once per session.
_CACHE: dict[str, Path] = {}
_TORCH_SETTINGS: list[tuple[int, bool]] = []


def _build_tokens(root: Path) -> Path:
    from webtext.tokenize.bpe import train_bpe

    text = (shared_data("tinyshakespeare") / "input.txt").read_text(encoding="utf-8")
    docs = [text[i:i + 3000] for i in range(0, len(text), 3000)]
    ids = [f"s{i:04d}" for i in range(len(docs))]
    third = -(-len(docs) // 3)
    (root / "docs").mkdir()
    for k in range(3):
        part = slice(k * third, (k + 1) * third)
        pq.write_table(pa.table({"id": ids[part], "text": docs[part]}), root / "docs" / f"part-{k:05d}.parquet")
    train_bpe(docs, VOCAB).save(root / "tokenizer")
    rc = main(["-q", "tokenize", str(root / "docs"), "--tokenizer", str(root / "tokenizer"), "--out",
               str(root / "tokens"), "--val-fraction", "0.04", "--shard-tokens", "150000", "--runner", "local"])
    assert rc == 0
    return root / "tokens"


@pytest.fixture(scope="session")
def tokens_dir(tmp_path_factory) -> Iterator[Path]:
    """Tiny Shakespeare tokenized with a 500-token BPE trained on it (train/ and ~4% val/)."""
    if "tokens" not in _CACHE:
        _CACHE["tokens"] = _build_tokens(tmp_path_factory.mktemp("train-data"))
        _TORCH_SETTINGS.append((torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()))
        torch.set_num_threads(1)
    yield _CACHE["tokens"]
    threads, deterministic = _TORCH_SETTINGS[0]  # training runs with --deterministic switch it on
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="session")
def base_run(tokens_dir, tmp_path_factory) -> Path:
    """The reference run: 6 steps, a checkpoint after each, all kept. Read only."""
    if "base" not in _CACHE:
        out = tmp_path_factory.mktemp("base") / "run"
        assert train(tokens_dir, out, BASE_STEPS, "--checkpoint-every", "1", "--keep-checkpoints", "10") == 0
        _CACHE["base"] = out
    return _CACHE["base"]
