"""The training of one process (rank), torchtitan-style: a ``Trainer`` whose methods are the phases.

``Trainer.train`` runs them: ``init_distributed`` (device, process group), ``build_data`` (the
token windows, the resolved batch), ``build_model`` (GPT on the meta device, ``fully_shard`` per
block then the root, the weights initialised after sharding), ``resume`` (the newest valid
checkpoint through ``load_state_dict``), then per optimizer step ``train_step``, ``log`` and
``save``; ``close`` at the end whatever happened. Launching processes is webtext/train/launch.py.

One optimizer step: the rank's slice of the global batch in micro-batches (gradient sync only
on the last), the loss averaged over all ranks, the global gradient norm clipped, and a check
on all ranks together that loss and norm are finite: if not, no rank updates, the step is
logged with the windows it read, and after ``max_skipped_steps`` such steps in a row training
stops (exit status 1; the newest checkpoint is the last good state). Metrics go to
``RUN/metrics.jsonl`` (one object per step) from rank 0, which alone prints.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtext.config import to_dict
from webtext.errors import ConfigError, FatalError
from webtext.paths import write_error
from webtext.train import rank_errors
from webtext.train.config import TrainConfig
from webtext.train.metrics_log import truncate_metrics

log = logging.getLogger(__name__)

PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10G": 125.0}  # dense bf16


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


def attention_kernels(first: str) -> contextlib.AbstractContextManager[Any]:
    """The scaled-dot-product attention kernels, ``first`` tried before the others ("auto": PyTorch's
    order). Entered around the steps, so torch.compile traces the model under the same choice."""
    if first == "auto":
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION,
             "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}
    # The rest stay allowed after it, so a shape or device the kernel cannot serve still runs.
    return sdpa_kernel([order[first]] + [b for k, b in order.items() if k != first], set_priority=True)


@dataclass
class StepResult:
    """One optimizer step as every rank saw it (loss and norm already reduced over ranks)."""

    step: int
    lr: float
    loss: Any  # 0-d tensors: read (synchronising) only where logged
    norm: Any
    updated: bool
    seconds: float


class Trainer:
    """One rank's training run in ``run``; ``train()`` is the whole of it and returns the exit status."""

    def __init__(self, cfg: TrainConfig, run: Path) -> None:
        self.cfg, self.run = cfg, Path(run)
        self.metrics_path = self.run / "metrics.jsonl"
        self.owns_group = False
        self.writer: Any = None
        self.step = self.base_step = self.base_samples = self.skipped_in_row = 0

    def train(self) -> int:
        try:
            self.init_distributed()
            self.build_data()
            self.build_model()
            self.resume()
            with attention_kernels(self.cfg.attention):
                return self.train_steps()
        except FatalError as exc:
            rank_errors.note(exc)  # before close(): peers see the note before their collectives break
            raise
        finally:
            self.close()

    def train_steps(self) -> int:
        """Steps until ``max_steps`` (checkpoints on the way); 0, or ``stop``'s code after too many skipped steps."""
        while self.step < self.cfg.max_steps:
            result = self.train_step()
            self.log(result)
            if self.skipped_in_row >= self.cfg.max_skipped_steps:
                return self.stop()
            if self.step == self.cfg.max_steps or (self.cfg.checkpoint_every
                                                  and self.step % self.cfg.checkpoint_every == 0):
                self.save()
        return 0

    # -- phases ---------------------------------------------------------------------------------

    def init_distributed(self) -> None:
        """The device of this rank and the process group (joined if a launcher already made one)."""
        import torch
        import torch.distributed as dist

        cfg = self.cfg
        local = int(os.environ.get("LOCAL_RANK", 0))
        self.use_cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
        if cfg.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True)
            torch.backends.cudnn.benchmark = False
        self.device = torch.device(f"cuda:{local}") if self.use_cuda else torch.device("cpu")
        if self.use_cuda:
            torch.cuda.set_device(self.device)
        self.owns_group = not dist.is_initialized()
        if self.owns_group:
            dist.init_process_group("nccl" if self.use_cuda else "gloo")
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        if self.rank != 0:  # console output on rank 0 only
            logging.getLogger().setLevel(logging.WARNING)
        if self.rank == 0:
            self.run.mkdir(parents=True, exist_ok=True)

    def build_data(self) -> None:
        """The train split's windows, the model shape its vocabulary implies, the resolved batch."""
        from webtext.tokenize.shards import TokenDataset
        from webtext.train.data import WindowSampler
        from webtext.train.fingerprint import digest, identity
        from webtext.train.presets import model_config, resolved

        self.identity = identity(self.cfg)  # before resolving: the settings as given
        self.fingerprint = digest(self.identity)
        self.data = TokenDataset(Path(self.cfg.data), "train")
        self.model_cfg = model_config(self.cfg, self.data.vocab_size)
        self.cfg = cfg = resolved(self.cfg, self.model_cfg, self.world)
        assert cfg.batch_size and cfg.micro_batch_size and cfg.seq_len
        self.per_rank = cfg.batch_size // self.world
        self.accum = self.per_rank // cfg.micro_batch_size
        self.sampler = WindowSampler(self.data, cfg.seq_len, cfg.seed)

    def build_model(self) -> None:
        """GPT on the meta device, sharded (FSDP2), then given real storage and its initial weights.

        Every rank draws the full initial values from a generator seeded with ``seed`` and keeps
        its shard, so the weights equal an eager ``GPT(cfg)`` after ``torch.manual_seed(seed)``
        whatever the world size; the global RNG is left where that eager build leaves it.
        """
        import torch
        from torch.distributed.tensor import DTensor, distribute_tensor

        from webtext.train.model import GPT, count_parameters, flops_per_token
        from webtext.train.parallelize import parallelize

        cfg = self.cfg
        with torch.device("meta"):
            model = GPT(self.model_cfg)
        model = parallelize(model, self.device, compile=cfg.compile, compile_mode=cfg.compile_mode,
                            activation_checkpointing=cfg.activation_checkpointing)
        model.to_empty(device=self.device)
        if model.lm_head.weight is not model.transformer.wte.weight:
            raise RuntimeError("the output head lost its tie to the token embedding when the model was materialised")
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        with torch.no_grad():
            for module, name, value in model.initial_values(generator):
                param = getattr(module, name)
                value = value.to(self.device)
                if isinstance(param, DTensor):  # every rank holds the full value: no communication
                    value = distribute_tensor(value, param.device_mesh, param.placements, src_data_rank=None)
                param.copy_(value)
        torch.set_rng_state(generator.get_state())
        self.model = model
        self.params = list(model.parameters())
        decay = [p for p in self.params if p.dim() >= 2]
        no_decay = [p for p in self.params if p.dim() < 2]
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), fused=self.use_cuda or None,
            foreach=None if self.use_cuda else True,
        )
        self.n_params = count_parameters(self.model_cfg)
        self.flops = flops_per_token(self.model_cfg, cfg.seq_len)  # type: ignore[arg-type]
        self.peak = peak_flops(self.device, cfg)

    def resume(self) -> None:
        """With ``resume``: continue from the newest valid checkpoint (same model; same fingerprint
        unless ``resume_changed``). Otherwise, or when there is none, start at step 0 afresh."""
        import torch.distributed as dist

        from webtext.train import checkpoint
        from webtext.train.fingerprint import changes

        cfg = self.cfg
        found = [checkpoint.latest_valid(self.run) if cfg.resume and self.rank == 0 else None]
        if cfg.resume:  # verified once (rank 0 reads every byte) and told to all
            dist.broadcast_object_list(found, src=0)
        if cfg.resume and found[0] is None and self.rank == 0:
            log.info("resume: no valid checkpoint in %s; starting from step 0", self.run)
        if found[0] is None:
            if self.rank == 0 and self.metrics_path.exists():  # a fresh start (also a resume that found nothing)
                self.metrics_path.unlink()
        else:
            path, rec = found[0]
            if rec.get("model_args") != self.model_cfg.to_dict():
                raise ConfigError("resume", f"{path} holds a different model ({rec.get('model_args')}) than this "
                                            f"run's ({self.model_cfg.to_dict()}): use another --out or the same model "
                                            "settings")
            changed = changes(rec["identity"], self.identity) if "identity" in rec else []
            if changed and not cfg.resume_changed:
                raise ConfigError("resume", f"{path} was trained with other data or settings: {'; '.join(changed)}. "
                                            "Use another --out to start afresh, or --resume-changed to continue "
                                            "from those weights anyway")
            if changed and self.rank == 0:
                log.warning("resuming %s although %s changed (--resume-changed)", path, "; ".join(changed))
            state = self.state_dict()
            checkpoint.load(path, state)  # in place: DCP reshards to this world size
            self.load_state_dict(state)
            self.step = self.base_step = int(rec["step"])
            self.base_samples = int(rec.get("samples", self.step * cfg.batch_size))
            if self.rank == 0:
                log.info("resumed from %s (step %d; saved by %d process(es), now %d)", path, self.step,
                         rec.get("world_size", 0), self.world)
                truncate_metrics(self.metrics_path, self.step)  # past the checkpoint, and a torn line
        if self.rank == 0:
            log.info("model: %s, %s parameters; global batch %d x %d tokens = %d micro-batches of %d on %d "
                     "process(es) x %d accumulation", cfg.preset, f"{self.n_params:,}", cfg.batch_size, cfg.seq_len,
                     cfg.batch_size // cfg.micro_batch_size, cfg.micro_batch_size, self.world, self.accum)
            if cfg.tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(self.run / "tb"))

    def loss(self, x: Any, y: Any) -> Any:
        """The mean loss of one micro-batch (tests patch this to make steps non-finite)."""
        return self.model(x, y)

    def train_step(self) -> StepResult:
        """One optimizer step over the global batch; skipped on every rank if any saw a non-finite value."""
        import torch
        import torch.distributed as dist

        cfg, rank = self.cfg, self.rank
        t0 = time.perf_counter()
        lr = lr_at(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        first = self.base_samples + (self.step - self.base_step) * cfg.batch_size  # samples consumed so far
        loss_sum = torch.zeros((), device=self.device)
        refs = []
        for k in range(self.accum):
            start = rank * self.per_rank + k * cfg.micro_batch_size
            x, y, r = self.sampler.batch(first, range(start, start + cfg.micro_batch_size))  # type: ignore[operator]
            refs += r
            self.model.set_requires_gradient_sync(k == self.accum - 1)
            if self.use_cuda:  # pinned and asynchronous: the copy does not wait for the GPU to drain its queue
                x, y = (t.pin_memory().to(self.device, non_blocking=True) for t in (x, y))
            loss = self.loss(x.to(self.device), y.to(self.device)) / self.accum
            loss.backward()
            loss_sum += loss.detach()
        dist.all_reduce(loss_sum, op=dist.ReduceOp.AVG)
        norm = torch.nn.utils.clip_grad_norm_(self.params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
        ok = (torch.isfinite(loss_sum) & torch.isfinite(norm)).to(torch.int32)
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
        self.step += 1
        updated = bool(ok.item())
        if updated:
            self.optimizer.step()
            self.skipped_in_row = 0
        else:
            self.skipped_in_row += 1
            where = ", ".join(f"shard {r.shard} offset {r.offset}" for r in refs[:4])
            log.warning("step %d: non-finite loss or gradient norm on some rank; skipped (no update). rank %d read "
                        "%s%s", self.step, rank, where, " ..." if len(refs) > 4 else "")
        self.optimizer.zero_grad(set_to_none=True)
        if self.use_cuda:
            torch.cuda.synchronize()
        return StepResult(self.step, lr, loss_sum, norm, updated, time.perf_counter() - t0)

    def log(self, result: StepResult) -> None:
        """Rank 0: a metrics.jsonl row every step, TensorBoard scalars, a console line every ``log_every``."""
        if self.rank != 0:
            return
        cfg = self.cfg
        tokens_per_s = cfg.batch_size * cfg.seq_len / result.seconds  # type: ignore[operator]
        loss_v, norm_v = result.loss.item(), result.norm.item()
        row = {"step": result.step, "loss": loss_v if math.isfinite(loss_v) else None, "lr": result.lr,
               "grad_norm": norm_v if math.isfinite(norm_v) else None, "tokens_per_s": tokens_per_s,
               "mfu": self.flops * tokens_per_s / (self.peak * self.world) if self.peak else None,
               "skipped": not result.updated}
        line = json.dumps(row) + "\n"
        try:
            with open(self.metrics_path, "a") as f:
                f.write(line)
        except OSError as exc:  # a torn line it may leave is cut by the next reader (metrics_log)
            err = write_error(exc, self.metrics_path, needed=len(line))
            if err is None:
                raise
            raise err from exc
        if self.writer is not None and row["loss"] is not None:
            self.writer.add_scalar("loss", loss_v, result.step)
            self.writer.add_scalar("lr", result.lr, result.step)
        if result.step % cfg.log_every == 0 or result.step == cfg.max_steps or result.step == 1:
            mfu = f", mfu {row['mfu']:.1%}" if row["mfu"] is not None else ""
            log.info("step %d/%d: loss %.4f, lr %.2e, grad norm %.3f, %s tokens/s%s", result.step, cfg.max_steps,
                     loss_v, result.lr, norm_v, f"{tokens_per_s:,.0f}", mfu)

    # -- checkpoint -----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds: model and optimizer state (sharded, DCP) and the CPU RNG."""
        import torch
        from torch.distributed.checkpoint.state_dict import get_state_dict

        msd, osd = get_state_dict(self.model, self.optimizer)
        return {"model": msd, "optim": osd, "rng": {"cpu": torch.get_rng_state()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import torch
        from torch.distributed.checkpoint.state_dict import set_state_dict

        set_state_dict(self.model, self.optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
        torch.set_rng_state(state["rng"]["cpu"])

    def save(self) -> None:
        from webtext.train import checkpoint

        cfg = self.cfg
        record = {"model_args": self.model_cfg.to_dict(), "config": to_dict(cfg), "world_size": self.world,
                  "tokenizer_hash": self.data.meta.get("tokenizer_hash"), "n_params": self.n_params,
                  "identity": self.identity, "fingerprint": self.fingerprint,
                  "samples": self.base_samples + (self.step - self.base_step) * cfg.batch_size}  # type: ignore[operator]
        checkpoint.save(self.run, self.step, self.state_dict(), record, cfg.keep_checkpoints)

    # -- the end --------------------------------------------------------------------------------

    def stop(self) -> int:
        """Too many non-finite steps in a row: exit status 1, no checkpoint of this state."""
        import torch.distributed as dist

        if self.rank == 0:
            log.error("%d non-finite steps in a row: stopping; the newest checkpoint in %s is the last good state",
                      self.skipped_in_row, self.run)
        dist.barrier()
        return 1

    def close(self) -> None:
        """Release what the run holds, also after an error: the writer, and a process group it made."""
        import torch.distributed as dist

        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
        self.owns_group = False


def train_process(cfg: TrainConfig, run: Path) -> int:
    """Train on this process's rank (the launcher made the environment); returns the exit status."""
    return Trainer(cfg, run).train()
