"""The training loop of one process (rank), torchtitan-style, and how processes are launched.

One optimizer step: the rank's slice of the global batch in micro-batches (gradient sync only
on the last), the loss averaged over all ranks, the global gradient norm clipped, and a check
on all ranks together that loss and norm are finite: if not, no rank updates, the step is
logged with the windows it read, and after ``max_skipped_steps`` such steps in a row training
stops (exit status 1; the newest checkpoint is the last good state). Metrics go to
``RUN/metrics.jsonl`` (one object per step) from rank 0, which alone prints.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from webtext.config import to_dict
from webtext.errors import FatalError
from webtext.train.config import TrainConfig

log = logging.getLogger(__name__)

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10G": 125.0}  # dense bf16


def _env_world() -> tuple[int, int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr``, cosine decay to ``min_lr`` over ``lr_decay_steps``, then flat."""
    assert cfg.lr is not None and cfg.min_lr is not None and cfg.warmup_steps is not None
    assert cfg.lr_decay_steps is not None
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / (cfg.warmup_steps + 1)
    if step >= cfg.lr_decay_steps:
        return cfg.min_lr
    ratio = (step - cfg.warmup_steps) / max(1, cfg.lr_decay_steps - cfg.warmup_steps)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (cfg.lr - cfg.min_lr)


def peak_flops(device: Any, cfg: TrainConfig) -> float | None:
    import torch

    if cfg.peak_tflops:
        return cfg.peak_tflops * 1e12
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tf in PEAK_TFLOPS.items():
            if key in name:
                return tf * 1e12
    return None


def _truncate_metrics(path: Path, step: int) -> None:
    """Forget metrics past the checkpoint a resumed run starts from (they will be redone)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line).get("step", 0) <= step]
    path.write_text("".join(line + "\n" for line in keep))


def train_process(cfg: TrainConfig, run: Path) -> int:
    """Train on this process's rank; returns the exit status."""
    import torch
    import torch.distributed as dist

    _, _, local = _env_world()
    use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    if cfg.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    device = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        return _train(cfg, Path(run), device, use_cuda)
    finally:
        if owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _agreed_checkpoint(run: Path, rank: int) -> tuple[Path, dict[str, Any]] | None:
    """The newest valid checkpoint, verified once (rank 0: it reads every byte) and told to all."""
    import torch.distributed as dist

    from webtext.train import checkpoint

    found = [checkpoint.latest_valid(run) if rank == 0 else None]
    dist.broadcast_object_list(found, src=0)
    return found[0]


def _train(cfg: TrainConfig, run: Path, device: Any, use_cuda: bool) -> int:
    import torch
    import torch.distributed as dist
    from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

    from webtext.tokenize.shards import TokenDataset
    from webtext.train import checkpoint
    from webtext.train.data import WindowSampler
    from webtext.train.model import GPT, count_parameters, flops_per_token
    from webtext.train.parallelize import parallelize
    from webtext.train.presets import model_config, resolved

    rank, world = dist.get_rank(), dist.get_world_size()
    if rank != 0:  # console output on rank 0 only
        logging.getLogger().setLevel(logging.WARNING)
    run = Path(run)
    if rank == 0:
        run.mkdir(parents=True, exist_ok=True)

    data = TokenDataset(Path(cfg.data), "train")
    mcfg = model_config(cfg, data.vocab_size)
    cfg = resolved(cfg, mcfg, world)
    assert cfg.batch_size and cfg.micro_batch_size and cfg.seq_len
    accum = cfg.batch_size // world // cfg.micro_batch_size
    torch.manual_seed(cfg.seed)
    model = GPT(mcfg)  # the same full initialisation on every rank, whatever the world size
    n_params = count_parameters(mcfg)
    model.to(device)
    model = parallelize(model, device, compile=cfg.compile, activation_checkpointing=cfg.activation_checkpointing)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=use_cuda or None, foreach=None if use_cuda else True,
    )
    sampler = WindowSampler(data, cfg.seq_len, cfg.seed)
    metrics_path = run / "metrics.jsonl"
    record = {"model_args": mcfg.to_dict(), "config": to_dict(cfg), "world_size": world,
              "tokenizer_hash": data.meta.get("tokenizer_hash"), "n_params": n_params}

    step = base_step = base_samples = 0
    found = _agreed_checkpoint(run, rank) if cfg.resume else None
    if cfg.resume and found is None and rank == 0:
        log.info("resume: no valid checkpoint in %s; starting from step 0", run)
    if found is not None:
        path, rec = found
        if rec.get("model_args") != mcfg.to_dict():
            from webtext.errors import ConfigError

            raise ConfigError("resume", f"{path} holds a different model ({rec.get('model_args')}) than this "
                                        f"run's ({mcfg.to_dict()}): use another --out or the same model settings")
        msd, osd = get_state_dict(model, optimizer)
        state = {"model": msd, "optim": osd, "rng": {"cpu": torch.get_rng_state()}}
        checkpoint.load(path, state)
        set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        torch.set_rng_state(state["rng"]["cpu"])
        step = base_step = int(rec["step"])
        base_samples = int(rec.get("samples", step * cfg.batch_size))
        if rank == 0:
            log.info("resumed from %s (step %d; saved by %d process(es), now %d)", path, step,
                     rec.get("world_size", 0), world)
            _truncate_metrics(metrics_path, step)
    elif rank == 0 and metrics_path.exists():  # a fresh start (also a resume that found nothing)
        metrics_path.unlink()
    if rank == 0:
        log.info("model: %s, %s parameters; global batch %d x %d tokens = %d micro-batches of %d on %d process(es) "
                 "x %d accumulation", cfg.preset, f"{n_params:,}", cfg.batch_size, cfg.seq_len,
                 cfg.batch_size // cfg.micro_batch_size, cfg.micro_batch_size, world, accum)
    writer = None
    if cfg.tensorboard and rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run / "tb"))
    flops = flops_per_token(mcfg, cfg.seq_len)
    peak = peak_flops(device, cfg)
    skipped_in_row = 0
    per_rank = cfg.batch_size // world
    params = list(model.parameters())

    def save(at: int) -> None:
        msd, osd = get_state_dict(model, optimizer)
        rng = {"cpu": torch.get_rng_state()}
        checkpoint.save(run, at, {"model": msd, "optim": osd, "rng": rng},
                        {**record, "samples": base_samples + (at - base_step) * cfg.batch_size}, cfg.keep_checkpoints)

    while step < cfg.max_steps:
        t0 = time.perf_counter()
        lr = lr_at(step, cfg)
        for group in optimizer.param_groups:
            group["lr"] = lr
        first = base_samples + (step - base_step) * cfg.batch_size  # samples consumed so far
        loss_sum = torch.zeros((), device=device)
        refs = []
        for k in range(accum):
            rows = range(rank * per_rank + k * cfg.micro_batch_size, rank * per_rank + (k + 1) * cfg.micro_batch_size)
            x, y, r = sampler.batch(first, rows)
            refs += r
            model.set_requires_gradient_sync(k == accum - 1)
            loss = model(x.to(device), y.to(device)) / accum
            if step + 1 in cfg.inject_nan_steps:
                loss = loss * float("nan")
            loss.backward()
            loss_sum += loss.detach()
        dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
        norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
        finite = torch.isfinite(loss_sum) & torch.isfinite(norm)
        ok = finite.to(torch.int32)
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
        step += 1
        if ok.item():
            optimizer.step()
            skipped_in_row = 0
        else:
            skipped_in_row += 1
            where = ", ".join(f"shard {r.shard} offset {r.offset}" for r in refs[:4])
            log.warning("step %d: non-finite loss or gradient norm on some rank; skipped (no update). rank %d read "
                        "%s%s", step, rank, where, " ..." if len(refs) > 4 else "")
        optimizer.zero_grad(set_to_none=True)
        if use_cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        tokens_per_s = cfg.batch_size * cfg.seq_len / dt
        if rank == 0:
            loss_v, norm_v = loss_sum.item(), norm.item()
            row = {"step": step, "loss": loss_v if math.isfinite(loss_v) else None, "lr": lr,
                   "grad_norm": norm_v if math.isfinite(norm_v) else None, "tokens_per_s": tokens_per_s,
                   "mfu": flops * tokens_per_s / (peak * world) if peak else None, "skipped": not bool(ok.item())}
            with open(metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            if writer is not None and row["loss"] is not None:
                writer.add_scalar("loss", loss_v, step)
                writer.add_scalar("lr", lr, step)
            if step % cfg.log_every == 0 or step == cfg.max_steps or step == 1:
                mfu = f", mfu {row['mfu']:.1%}" if row["mfu"] is not None else ""
                log.info("step %d/%d: loss %.4f, lr %.2e, grad norm %.3f, %s tokens/s%s", step, cfg.max_steps,
                         loss_v, lr, norm_v, f"{tokens_per_s:,.0f}", mfu)
        if skipped_in_row >= cfg.max_skipped_steps:
            if rank == 0:
                log.error("%d non-finite steps in a row: stopping; the newest checkpoint in %s is the last good state",
                          skipped_in_row, run)
            dist.barrier()
            return 1
        if step == cfg.max_steps or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0):
            save(step)
    if writer is not None:
        writer.close()
    return 0


# ---------------------------------------------------------------------------------------------
# Launching


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
    """Run training: in this process (torchrun already launched us, or one process), as
    ``--nproc`` local processes, or on Ray Train."""
    run = Path(run)
    if "WORLD_SIZE" in os.environ and "RANK" in os.environ:  # torchrun / an outer launcher
        return train_process(cfg, run)
    check_config(cfg, cfg.nproc)
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
    run.mkdir(parents=True, exist_ok=True)
    spec = run / "launch-config.json"
    spec.write_text(json.dumps(to_dict(cfg)))
    threads = max(1, (os.cpu_count() or 1) // cfg.nproc)
    procs = [subprocess.Popen([sys.executable, "-m", "webtext.train", "--config-json", str(spec), "--out", str(run)],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r), "OMP_NUM_THREADS": str(threads)})
             for r in range(cfg.nproc)]
    codes = [p.wait() for p in procs]
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
    from webtext.config import from_mapping

    data = json.loads(Path(path).read_text())
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    return from_mapping(TrainConfig, {k: v for k, v in data.items() if k in fields}, "")
