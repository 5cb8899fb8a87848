# ruff: noqa: F811 (the fixtures imported from train_fixtures are arguments of the tests)
"""The train stage's fingerprint: the settings that decide what is trained and the data's manifest.

A changed fingerprint makes ``--resume`` refuse the run folder's checkpoints unless
``--resume-changed`` asks to continue; execution knobs (steps, processes, logging) may change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import torch
import torch.distributed as dist
from train_fixtures import (  # noqa: F401 (fixtures)
    BASE_STEPS,
    COMMON,
    base_run,
    copy_run,
    metrics,
    tokens_dir,
    train,
)

from webtext.paths import MANIFEST
from webtext.train.config import TrainConfig
from webtext.train.fingerprint import fingerprint
from webtext.train.model import GPT


def config(tokens, **kw) -> TrainConfig:
    settings = {"preset": "tiny", "batch_size": 8, "seq_len": 64, "seed": 7, "deterministic": True, **kw}
    return TrainConfig(data=str(tokens), **settings)


def changed_data(tokens_dir, tmp_path):
    """A copy of the tokens dataset whose manifest differs (as a re-tokenized dataset's would)."""
    copy = shutil.copytree(tokens_dir, tmp_path / "tokens-changed")
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["stats"]["retokenized"] = 1
    (copy / MANIFEST).write_text(json.dumps(manifest))
    return copy


def test_manifest_carries_the_runs_fingerprint(base_run, tokens_dir):
    manifest = json.loads((base_run / MANIFEST).read_text())
    assert manifest["fingerprint"] == fingerprint(config(tokens_dir, max_steps=BASE_STEPS))
    assert len(manifest["fingerprint"]) == 64


def test_fingerprint_follows_settings_and_data_not_execution_knobs(tokens_dir, tmp_path):
    base = fingerprint(config(tokens_dir))
    for knob in ({"max_steps": 5}, {"nproc": 2}, {"checkpoint_every": 3}, {"keep_checkpoints": 4},
                 {"resume": True}, {"log_every": 1}, {"micro_batch_size": 2}, {"device": "cpu"}):
        assert fingerprint(config(tokens_dir, **knob)) == base, knob
    for setting in ({"lr": 1e-3}, {"seed": 8}, {"n_layer": 3}, {"weight_decay": 0.0}):
        assert fingerprint(config(tokens_dir, **setting)) != base, setting
    moved = shutil.copytree(tokens_dir, tmp_path / "moved")  # the same data elsewhere: the same run
    assert fingerprint(config(moved)) == base
    assert fingerprint(config(changed_data(tokens_dir, tmp_path))) != base


def test_resume_with_other_settings_is_refused_unless_asked(base_run, tokens_dir, tmp_path, capsys):
    run = copy_run(base_run, tmp_path / "run", upto=3)
    assert train(tokens_dir, run, BASE_STEPS, "--resume", "--lr", "1e-3") == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "lr (None -> 0.001)" in err and "--resume-changed" in err
    assert [r["step"] for r in metrics(run)] == list(range(1, BASE_STEPS + 1))  # untouched
    assert train(tokens_dir, run, BASE_STEPS, "--resume", "--lr", "1e-3", "--resume-changed") == 0
    assert [r["step"] for r in metrics(run)] == list(range(1, BASE_STEPS + 1))


def test_resume_on_changed_data_is_refused(base_run, tokens_dir, tmp_path, capsys):
    run = copy_run(base_run, tmp_path / "run", upto=3)
    assert train(changed_data(tokens_dir, tmp_path), run, BASE_STEPS, "--resume") == 2
    err = capsys.readouterr().err
    assert "the tokens dataset (its manifest)" in err
    moved = shutil.copytree(tokens_dir, tmp_path / "moved")  # same manifest, other folder: resumes
    assert train(moved, run, BASE_STEPS, "--resume") == 0


def test_trainer_initial_weights_equal_the_eager_model(tokens_dir, tmp_path):
    """Built on the meta device, sharded, then initialised: the eager GPT(cfg) of the same seed."""
    from webtext.train.trainer import Trainer

    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29517", "RANK": "0", "WORLD_SIZE": "1"})
    trainer = Trainer(config(tokens_dir), tmp_path / "run")
    try:
        trainer.init_distributed()
        trainer.build_data()
        trainer.build_model()
        got = {k: v.full_tensor() for k, v in trainer.model.state_dict().items()}
        torch.manual_seed(7)
        want = GPT(trainer.model_cfg).state_dict()
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want)
    finally:
        trainer.close()
        for k in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
            os.environ.pop(k, None)
    assert not dist.is_initialized()


def test_train_main_does_not_import_the_cli(tokens_dir, tmp_path):
    """``python -m webtext.train`` parses its flags itself (no back-edge to webtext.cli)."""
    code = ("import sys; from webtext.train.__main__ import main; rc = main(sys.argv[1:]); "
            "assert 'webtext.cli' not in sys.modules, 'webtext.train imported webtext.cli'; sys.exit(rc)")
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code, "--data", str(tokens_dir), *COMMON, "--max-steps", "1",
                           "--out", str(out), "-q"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert [r["step"] for r in metrics(out)] == [1]
