# ruff: noqa: F811 (the fixtures imported from train_fixtures are arguments of the tests)
"""The training loop: LR schedule, data order, learning, determinism, exact resume, FSDP over 2
processes (gloo) and resume with another world size, metrics, NaN skipping, batch checks.

Multi-process runs cost ~5-15 s each here; this file starts three (``fsdp2_run``, the resume
from 1 to 2 processes, and the batch check with ``--nproc 2``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
import torch
import torch.distributed as dist
from train_fixtures import (  # noqa: F401 (fixtures)
    BASE_STEPS,
    BATCH,
    SEED,
    SEQ,
    base_run,
    captured_logs,
    comparable,
    copy_run,
    losses,
    metrics,
    non_finite_steps,
    same_weights,
    step_dirs,
    tokens_dir,
    train,
    weights,
)

from webtext.tokenize.shards import TokenDataset
from webtext.train.config import TrainConfig
from webtext.train.data import WindowSampler
from webtext.train.presets import RECIPES, model_config, resolved
from webtext.train.trainer import lr_at

# ---------------------------------------------------------------------------------------------
# LR schedule


def schedule(**kw) -> TrainConfig:
    return TrainConfig(**{"data": "x", "lr": 1e-3, "min_lr": 1e-4, "warmup_steps": 10, "lr_decay_steps": 110, **kw})


def test_lr_warmup_is_linear_up_to_the_peak():
    cfg = schedule()
    warm = [lr_at(s, cfg) for s in range(11)]
    assert warm[0] == pytest.approx(1e-3 / 11)
    assert np.allclose(np.diff(warm), 1e-3 / 11)
    assert warm[10] == pytest.approx(1e-3)


def test_lr_cosine_decay_then_floor_at_min_lr():
    cfg = schedule()
    decay = [lr_at(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in itertools.pairwise(decay))
    assert lr_at(60, cfg) == pytest.approx((1e-3 + 1e-4) / 2)  # half way: cos(pi/2)
    assert lr_at(35, cfg) == pytest.approx(1e-4 + 0.5 * (1 + math.cos(math.pi / 4)) * 9e-4)
    for s in (110, 111, 500, 10**7):
        assert lr_at(s, cfg) == pytest.approx(1e-4)
    assert min(lr_at(s, cfg) for s in range(10, 1000)) >= 1e-4 - 1e-15  # never below the floor after warm-up


def test_lr_schedule_does_not_depend_on_max_steps():
    short, long = schedule(max_steps=20), schedule(max_steps=100_000)
    assert [lr_at(s, short) for s in range(200)] == [lr_at(s, long) for s in range(200)]
    # nor do the defaults the preset fills in
    a, b = (resolved(TrainConfig(data="x", preset="gpt2", max_steps=m), model_config(TrainConfig(data="x"), 50257), 1)
            for m in (10, 1_000_000))
    assert a.lr_decay_steps == b.lr_decay_steps == RECIPES["gpt2"].lr_decay_steps
    assert (a.lr, a.min_lr, a.warmup_steps) == (b.lr, b.min_lr, b.warmup_steps)
    assert (a.lr, a.min_lr, a.warmup_steps) == (6e-4, pytest.approx(6e-5), 700)


def test_resolved_batch_and_accumulation():
    m = model_config(TrainConfig(data="x", preset="gpt2"), 50257)
    cfg = resolved(TrainConfig(data="x", preset="gpt2", total_batch_tokens=524288, micro_batch_size=16), m, 8)
    assert (cfg.batch_size, cfg.seq_len, cfg.micro_batch_size) == (512, 1024, 16)  # 4 micro-batches per rank
    from webtext.errors import ConfigError

    with pytest.raises(ConfigError, match="does not divide"):
        resolved(TrainConfig(data="x", preset="gpt2", batch_size=12), m, 8)
    with pytest.raises(ConfigError, match="does not divide"):
        resolved(TrainConfig(data="x", preset="gpt2", batch_size=16, micro_batch_size=3), m, 2)
    with pytest.raises(ConfigError, match="multiple of seq_len"):
        resolved(TrainConfig(data="x", preset="gpt2", total_batch_tokens=1000), m, 1)


# ---------------------------------------------------------------------------------------------
# Data order


@pytest.fixture(scope="module")
def dataset(tokens_dir) -> TokenDataset:
    ds = TokenDataset(tokens_dir, "train")
    assert len(ds.shards) >= 2  # windows map across shards
    return ds


def test_sampler_visits_every_window_once_per_epoch(dataset):
    s = WindowSampler(dataset, SEQ, SEED)
    expected = {(k, o) for k, n in enumerate(dataset.sizes) for o in range(0, (int(n) - 1) // SEQ * SEQ, SEQ)}
    assert s.n_windows == len(expected)
    for epoch in (0, 1):
        seen = [s.ref(epoch * s.n_windows + i) for i in range(s.n_windows)]
        assert {(r.shard, r.offset) for r in seen} == expected  # without replacement, all of them
    first, second = ([(r.shard, r.offset) for r in (s.ref(e * s.n_windows + i) for i in range(50))] for e in (0, 1))
    assert first != second  # each epoch its own order
    ref = s.ref(123)
    window = s.window(ref)
    assert len(window) == SEQ + 1
    assert np.array_equal(window, dataset.shards[ref.shard].tokens[ref.offset:ref.offset + SEQ + 1])
    x, y, refs = s.batch(40, range(4))
    assert x.shape == y.shape == (4, SEQ) and x.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert refs == [s.ref(40 + i) for i in range(4)]


def test_sampler_order_is_seeded(dataset):
    a, b, c = (WindowSampler(dataset, SEQ, seed) for seed in (SEED, SEED, SEED + 1))
    order = [(a.ref(i).shard, a.ref(i).offset) for i in range(100)]
    assert order == [(b.ref(i).shard, b.ref(i).offset) for i in range(100)]
    assert order != [(c.ref(i).shard, c.ref(i).offset) for i in range(100)]
    assert order != sorted(order)  # shuffled


@pytest.mark.parametrize("world", [2, 4, 8])
def test_global_batch_does_not_depend_on_world_size(dataset, world):
    s = WindowSampler(dataset, SEQ, SEED)
    batch, step = 16, 5
    whole, _, _ = s.batch(step * batch, range(batch))
    per_rank = batch // world
    # each rank's slice as the trainer takes it, in micro-batches of 2 when they fit
    micro = min(2, per_rank)
    parts = [s.batch(step * batch, range(r * per_rank + k * micro, r * per_rank + (k + 1) * micro))[0]
             for r in range(world) for k in range(per_rank // micro)]
    assert torch.equal(torch.cat(parts), whole)


# ---------------------------------------------------------------------------------------------
# The trainer on one process


def test_loss_decreases(base_run):
    loss = losses(base_run)
    assert sorted(loss) == list(range(1, BASE_STEPS + 1))
    assert abs(loss[1] - math.log(500)) < 0.3  # starts near uniform over the vocabulary
    assert loss[BASE_STEPS] < loss[1] - 0.3
    assert all(loss[s] < loss[1] for s in range(3, BASE_STEPS + 1))


def test_metrics_rows(base_run, tokens_dir):
    rows = metrics(base_run)
    assert [r["step"] for r in rows] == list(range(1, BASE_STEPS + 1))
    cfg = TrainConfig(data=str(tokens_dir), preset="tiny", batch_size=BATCH, seq_len=SEQ)
    cfg = resolved(cfg, model_config(cfg, 500), 1)
    for r in rows:
        assert set(r) >= {"step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu"}
        assert math.isfinite(r["loss"]) and r["grad_norm"] > 0 and r["tokens_per_s"] > 0
        assert r["mfu"] is None  # no known peak on CPU
        assert r["skipped"] is False
        assert r["lr"] == pytest.approx(lr_at(r["step"] - 1, cfg), rel=1e-12)
    manifest = json.loads((base_run / "_manifest.json").read_text())
    assert manifest["stats"]["steps"] == BASE_STEPS and manifest["stats"]["skipped_steps"] == 0
    assert manifest["stats"]["last_loss"] == rows[-1]["loss"]


def test_mfu_with_a_given_peak(tokens_dir, tmp_path):
    from webtext.train.model import PRESETS, flops_per_token

    assert train(tokens_dir, tmp_path / "run", 1, "--peak-tflops", "1") == 0
    (row,) = metrics(tmp_path / "run")
    cfg = dataclasses.replace(PRESETS["tiny"], vocab_size=500)
    assert row["mfu"] == pytest.approx(flops_per_token(cfg, SEQ) * row["tokens_per_s"] / 1e12)


def test_deterministic_runs_are_identical(base_run, tokens_dir, tmp_path):
    assert train(tokens_dir, tmp_path / "again", BASE_STEPS) == 0
    assert comparable(metrics(tmp_path / "again")) == comparable(metrics(base_run))
    assert same_weights(weights(tmp_path / "again"), weights(base_run / f"step-{BASE_STEPS}"))


def test_gradient_accumulation_gives_the_full_batch_step(base_run, tokens_dir, tmp_path):
    assert train(tokens_dir, tmp_path / "micro", 3, "--micro-batch-size", "2") == 0  # 4 micro-batches
    ref, got = losses(base_run), losses(tmp_path / "micro")
    assert all(abs(got[s] - ref[s]) < 1e-5 for s in (1, 2, 3))


def test_resume_is_exact(base_run, tokens_dir, tmp_path):
    run = tmp_path / "run"
    assert train(tokens_dir, run, 3, "--checkpoint-every", "3") == 0
    assert step_dirs(run) == ["step-3"]
    assert train(tokens_dir, run, BASE_STEPS, "--checkpoint-every", "3", "--resume") == 0
    assert comparable(metrics(run)) == comparable(metrics(base_run))  # bit for bit
    assert same_weights(weights(run / f"step-{BASE_STEPS}"), weights(base_run / f"step-{BASE_STEPS}"))


def test_resume_of_a_finished_run_does_nothing_more(base_run, tmp_path, tokens_dir):
    run = copy_run(base_run, tmp_path / "run")
    assert train(tokens_dir, run, BASE_STEPS, "--resume", "--checkpoint-every", "1", "--keep-checkpoints", "10") == 0
    assert comparable(metrics(run)) == comparable(metrics(base_run))


# ---------------------------------------------------------------------------------------------
# FSDP over 2 processes and a changing world size


@pytest.fixture(scope="module")
def fsdp2_run(tokens_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("fsdp2") / "run"
    assert train(tokens_dir, out, 4, "--nproc", "2", "--checkpoint-every", "2", "--keep-checkpoints", "10") == 0
    return out


@pytest.mark.slow  # ~20 s: a two-process FSDP2 run
def test_two_processes_give_the_losses_of_one(base_run, fsdp2_run):
    ref, got = losses(base_run), losses(fsdp2_run)
    assert sorted(got) == [1, 2, 3, 4]
    assert max(abs(got[s] - ref[s]) for s in got) < 1e-4
    record = json.loads((fsdp2_run / "step-4" / "webtext-checkpoint.json").read_text())
    assert record["world_size"] == 2
    assert {"__0_0.distcp", "__1_0.distcp"} <= set(record["files"])  # each rank wrote its shard


@pytest.mark.slow  # needs fsdp2_run (~20 s: a two-process FSDP2 run)
def test_resume_from_two_processes_on_one(base_run, fsdp2_run, tmp_path, tokens_dir):
    run = copy_run(fsdp2_run, tmp_path / "run")
    assert train(tokens_dir, run, BASE_STEPS, "--checkpoint-every", "2", "--keep-checkpoints", "10", "--resume") == 0
    ref, got = losses(base_run), losses(run)
    assert [r["step"] for r in metrics(run)] == list(range(1, BASE_STEPS + 1))
    assert max(abs(got[s] - ref[s]) for s in got) < 1e-4
    assert json.loads((run / "step-6" / "webtext-checkpoint.json").read_text())["world_size"] == 1


@pytest.mark.slow  # ~26 s: a two-process resume
def test_resume_from_one_process_on_two(base_run, tmp_path, tokens_dir):
    run = copy_run(base_run, tmp_path / "run", upto=3)
    assert train(tokens_dir, run, BASE_STEPS, "--nproc", "2", "--resume") == 0
    ref, got = losses(base_run), losses(run)
    assert [r["step"] for r in metrics(run)] == list(range(1, BASE_STEPS + 1))
    assert all(got[s] == ref[s] for s in (1, 2, 3))  # kept from the first run
    assert max(abs(got[s] - ref[s]) for s in (4, 5, 6)) < 1e-4
    assert json.loads((run / "step-6" / "webtext-checkpoint.json").read_text())["world_size"] == 2


# ---------------------------------------------------------------------------------------------
# Non-finite steps


@pytest.fixture(scope="module")
def nan_run(tokens_dir, tmp_path_factory):
    """Step 3 non-finite (skipped, training goes on), then 5 and 6: two in a row stop it."""
    out = tmp_path_factory.mktemp("nan") / "run"
    with captured_logs() as records, non_finite_steps({3, 5, 6}):
        rc = train(tokens_dir, out, 8, "--max-skipped-steps", "2", "--checkpoint-every", "1", "--keep-checkpoints",
                   "10")
    return out, rc, [r.getMessage() for r in records]


def test_non_finite_step_is_skipped_and_logged(nan_run, base_run):
    run, _, messages = nan_run
    rows = {r["step"]: r for r in metrics(run)}
    ref = metrics(base_run)
    assert comparable([rows[1], rows[2]]) == comparable(ref[:2])
    assert rows[3]["skipped"] is True and rows[3]["loss"] is None
    assert rows[4]["skipped"] is False and math.isfinite(rows[4]["loss"])
    # no update at step 3: its checkpoint holds the weights of step 2; step 4 updates again
    w2, w3, w4 = (weights(run / f"step-{s}") for s in (2, 3, 4))
    assert same_weights(w3, w2)
    assert not same_weights(w4, w3)
    skipped = [m for m in messages if m.startswith("step 3:")]
    assert len(skipped) == 1 and "skipped" in skipped[0] and "shard" in skipped[0] and "offset" in skipped[0]


def test_consecutive_non_finite_steps_stop_training(nan_run, tokens_dir, tmp_path):
    run, rc, messages = nan_run
    assert rc == 1
    assert [r["step"] for r in metrics(run)] == [1, 2, 3, 4, 5, 6]
    assert [r["skipped"] for r in metrics(run)][4:] == [True, True]
    assert "step-6" not in step_dirs(run)  # no checkpoint of the failed step
    from webtext.train.checkpoint import latest_valid

    found = latest_valid(run)
    assert found is not None and found[0].name == "step-5"
    assert same_weights(weights(found[0]), weights(run / "step-4"))  # the last good state
    assert any("non-finite steps in a row" in m for m in messages)
    # and the run goes on from there once the cause is gone
    again = copy_run(run, tmp_path / "again")
    assert train(tokens_dir, again, 7, "--resume") == 0
    assert [r["step"] for r in metrics(again)] == list(range(1, 8))


# ---------------------------------------------------------------------------------------------
# Batch checks


def test_micro_batch_that_does_not_divide_is_a_config_error(tokens_dir, tmp_path, capsys):
    try:
        assert train(tokens_dir, tmp_path / "run", 2, "--micro-batch-size", "3") == 2
    finally:
        leaked = dist.is_initialized()
        if leaked:
            dist.destroy_process_group()
    err = capsys.readouterr().err
    assert "configuration error" in err and "--micro-batch-size" in err


def test_config_error_leaves_no_process_group(tokens_dir, tmp_path):
    """A ConfigError raised after the process group was made (Trainer.build_data resolves the batch)
    must not leave the group behind (Trainer.close), or an in-process caller (CLI tests, the
    pipeline, a Ray worker) keeps a stale one that the next run silently reuses."""
    try:
        assert train(tokens_dir, tmp_path / "run", 2, "--micro-batch-size", "3") == 2
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def test_batch_that_does_not_divide_over_processes_is_a_config_error(tokens_dir, tmp_path, capfd):
    """With --nproc 2 the batch check runs before any process starts (launch.check_config): a
    configuration error (exit 2), not ranks dying with a traceback and 'FatalError' (exit 1)."""
    rc = train(tokens_dir, tmp_path / "run", 2, "--nproc", "2", "--batch-size", "7")
    err = capfd.readouterr().err
    assert rc == 2, err[-2000:]
    assert "configuration error" in err and "--batch-size" in err


# ---------------------------------------------------------------------------------------------
# torch.compile under FSDP2


def test_compile_mode_reaches_every_compiled_region(tokens_dir, tmp_path, monkeypatch):
    """--compile compiles each block and the head (final norm, head, loss) with --compile-mode; the regions are
    recorded here instead of compiled (the compiled run itself is the slow test below)."""
    compiled = []

    def record(fn, mode=None, **kw):
        compiled.append((getattr(fn, "__name__", type(fn).__name__), mode))
        return fn

    monkeypatch.setattr(torch, "compile", record)
    assert train(tokens_dir, tmp_path / "run", 1, "--compile", "--compile-mode", "max-autotune-no-cudagraphs") == 0
    assert compiled == [("Block", "max-autotune-no-cudagraphs")] * 2 + [("head", "max-autotune-no-cudagraphs")]
    with pytest.raises(SystemExit) as exit_:  # argparse names the choices
        train(tokens_dir, tmp_path / "bad", 1, "--compile", "--compile-mode", "fast")
    assert exit_.value.code == 2


@pytest.mark.slow  # ~1 min: inductor compiles 2 blocks and the head, forward and backward, on the CPU
def test_compiled_training_gives_the_losses_of_eager_training(base_run, tokens_dir, tmp_path):
    """The compiled regions run under FSDP2's hooks (the head's tied weight gathered by the root) and train as the
    eager model does: the same losses up to float rounding, and a checkpoint an eager run resumes from."""
    run = tmp_path / "compiled"
    assert train(tokens_dir, run, 3, "--compile", "--checkpoint-every", "3") == 0
    ref, got = losses(base_run), losses(run)
    assert all(abs(got[s] - ref[s]) < 1e-4 for s in (1, 2, 3)), (got, ref)
    assert train(tokens_dir, run, 4, "--resume") == 0  # an eager resume of the compiled run's checkpoint
    assert abs(losses(run)[4] - ref[4]) < 1e-4
