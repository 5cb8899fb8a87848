"""How training processes start: in this process (torchrun or an outer launcher made the
environment, or one process), as ``--nproc`` local processes, or on Ray Train's TorchTrainer.

Each process then runs ``Trainer`` (webtext/train/trainer.py). Settings that cannot work are
refused here (a ConfigError) before any process starts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from webtext.config import to_dict
from webtext.errors import FatalError
from webtext.paths import atomic_write_bytes
from webtext.train import rank_errors
from webtext.train.config import TrainConfig
from webtext.train.trainer import train_process


def check_config(cfg: TrainConfig, world: int) -> None:
    """Raise ConfigError now, before any process starts, for settings that cannot work."""
    from webtext.errors import ConfigError, VerifyError
    from webtext.tokenize.shards import TokenDataset
    from webtext.train.presets import model_config, resolved

    try:
        data = TokenDataset(Path(cfg.data), "train", verify=None)
    except VerifyError as exc:
        raise ConfigError("data", f"{cfg.data} is not a finished tokens dataset: {exc}") from exc
    if not data.shards:
        raise ConfigError("data", f"{cfg.data} has no train/ token shards")
    resolved(cfg, model_config(cfg, data.vocab_size), world)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(cfg: TrainConfig, run: Path) -> int:
    """Run training; returns the exit status (0 done, 1 stopped on non-finite steps or a rank failed)."""
    from webtext.tokenize.shard_digests import verify_token_shards

    run = Path(run)
    if "WORLD_SIZE" in os.environ and "RANK" in os.environ:  # torchrun / an outer launcher
        # a process this function started finds the shards verified (the run's memo); a torchrun rank checks them
        verify_token_shards(Path(cfg.data), "train", run)
        return train_process(cfg, run)
    check_config(cfg, cfg.nproc)
    verify_token_shards(Path(cfg.data), "train", run)  # by sha256, once per run: same-size corruption included
    if cfg.launcher == "ray":
        return _launch_ray(cfg, run)
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "WORLD_SIZE": str(cfg.nproc)}
    if cfg.nproc == 1:
        os.environ.update({**env, "RANK": "0", "LOCAL_RANK": "0"})
        try:
            return train_process(cfg, run)
        finally:
            for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
                os.environ.pop(k, None)
    spec = run / "launch-config.json"
    atomic_write_bytes(spec, json.dumps(to_dict(cfg)).encode())  # a full disk here is a WriteError naming it
    threads = max(1, (os.cpu_count() or 1) // cfg.nproc)
    with tempfile.TemporaryDirectory(prefix="webtext-rank-errors-") as errors:
        env[rank_errors.ENV] = errors
        procs = [subprocess.Popen([sys.executable, "-m", "webtext.train", "--config-json", str(spec), "--out",
                                   str(run)],
                                  env={**env, "RANK": str(r), "LOCAL_RANK": str(r), "OMP_NUM_THREADS": str(threads)})
                 for r in range(cfg.nproc)]
        codes = [p.wait() for p in procs]
        failure = rank_errors.noted(Path(errors))
    if failure is not None:
        raise failure
    bad = [c for c in codes if c]
    return bad[0] if bad else 0


def _launch_ray(cfg: TrainConfig, run: Path) -> int:
    """``--nproc`` workers of Ray Train's TorchTrainer (it sets up the process group) on the
    cluster in RAY_ADDRESS, or on an embedded local Ray."""
    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    from webtext.runner.ray_runner import init_ray

    use_gpu = cfg.device == "cuda"
    started = init_ray(num_cpus=None, dashboard=False)

    def loop(_: dict) -> None:
        status = train_process(cfg, run)
        if status:
            raise FatalError(f"training stopped with status {status}")

    trainer = TorchTrainer(loop, scaling_config=ray.train.ScalingConfig(num_workers=cfg.nproc, use_gpu=use_gpu),
                           run_config=ray.train.RunConfig(storage_path=str(run.resolve() / "ray")))
    try:
        trainer.fit()
    finally:
        if started:
            ray.shutdown()
    return 0


def config_from_json(path: Path) -> TrainConfig:
    """The config ``launch`` wrote for its ``--nproc`` processes."""
    from webtext.config import from_mapping

    data = json.loads(Path(path).read_text())
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return from_mapping(TrainConfig, {k: v for k, v in data.items() if k in fields}, "")
