"""Benchmark of the ``train`` stage on CPU: the FSDP2 trainer on one process against a plain PyTorch loop.

Data: Tiny Shakespeare (``../shared/data/tinyshakespeare``) tokenized by ``webtext-build tokenize``
with OpenAI's GPT-2 BPE (vocab 50257, as the real thing; ``_train_data.py``), cached under
``--workdir`` (default ``benchmarks/out/train``, git-ignored).

Two model configurations (GPT-2 architecture, ``webtext.train.model.GPT``):

- ``tiny``: the ``tiny`` preset (2 layers, 128 wide, 4 heads, context 128), 16 x 128-token
  sequences per step in one micro-batch. On CPU its step is dominated by the 50257-wide output
  layer and the cross-entropy over it.
- ``small``: 4 layers, 256 wide, 4 heads, context 256, 8 x 256-token sequences per step in 2
  micro-batches of 4 (gradient accumulation).

Both take 2,048 tokens a step. For each, in one run:

- **trainer**: ``webtext-build train --data TOKENS ... --device cpu`` in a child process (one
  process: FSDP2 ``fully_shard`` on each block and the root, gloo process group, fp32). Its
  tokens/s is the median of the ``tokens_per_s`` of ``RUN/metrics.jsonl`` over the steps after
  the first ``--warmup`` ones (the trainer times each step from its start -- data, forward,
  backward, clipping, optimizer, ``zero_grad`` -- and leaves out only its bookkeeping between
  steps and the final checkpoint).
- **baseline**: a plain single-process loop (this file, ``--child baseline``) in a child process:
  the same ``GPT`` built after ``torch.manual_seed(seed)`` (the trainer's init), the same
  batches (``webtext.train.data.WindowSampler``: the same windows in the same order), the same
  micro-batches, AdamW (0.9, 0.95) with weight decay 0.1 on matrices only, the same learning-rate
  schedule, gradient clipping at 1.0; no FSDP, no process group. Timed per step over the same
  scope, the median over the same steps.

Target: trainer tokens/s >= 0.9x the baseline's, from the separate runs, alternated (baseline,
trainer, baseline, trainer, ...; the medians of ``--repeats`` runs compared).

Other processes on a small machine make such separate runs noisy (their ratio moved between 0.7x
and 1.5x from run to run on a loaded 2-core machine), so a second figure runs both sides **in
lockstep**: both children start together, and from step 2 on only one runs at a time -- each is
stopped (SIGSTOP) as soon as its step's row appears and continued (SIGCONT) for its next step,
the two taking turns step by step (order alternating). Each step's seconds are measured from
outside (the time the child ran between two of its rows), so neighbouring steps of both sides see
the same machine; the figure is the median over the same steps of the per-step ratios (same
target). The trainer's own ``tokens_per_s`` is not used there (a stop may fall inside its timed
step).

Also shown: the largest difference between the per-step losses of the two sides (the same model,
data and optimizer must give the same numbers; target < 1e-4), each child's wall time (start-up,
steps, and the trainer's final checkpoint) and peak RSS. Both children run with
``OMP_NUM_THREADS=--threads`` (default 2; the baseline logs ``torch.get_num_threads()``).

    python benchmarks/train_cpu.py            # tiny + small, 20 steps (4 warm-up), 2 repetitions
    python benchmarks/train_cpu.py --quick    # smoke run: 8 steps (3 warm-up), 1 repetition
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _report import Row, TreeMemory, check_parts, finish, mib, setup, verdict, warn_if_busy

log = logging.getLogger("benchmarks.train_cpu")

TARGET_RATIO = 0.9  # trainer tokens/s / plain loop tokens/s
TARGET_LOSS_DIFF = 1e-4
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

# The optimisation recipe both sides use (the tiny preset's, spelled out for the trainer's flags).
SEED = 1337
LR, MIN_LR, WARMUP_STEPS, LR_DECAY_STEPS = 3e-3, 3e-4, 10, 2000
BETAS, WEIGHT_DECAY, GRAD_CLIP = (0.9, 0.95), 0.1, 1.0


@dataclass(frozen=True)
class Config:
    """A model (overrides of the ``tiny`` preset) and its batch."""

    n_layer: int
    n_head: int
    n_embd: int
    block_size: int
    batch_size: int  # sequences per step
    micro_batch_size: int

    @property
    def seq_len(self) -> int:
        return self.block_size

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len

    def describe(self) -> str:
        micro = self.batch_size // self.micro_batch_size
        return (f"{self.n_layer} layers x {self.n_embd} wide, {self.batch_size} x {self.seq_len} tokens a step"
                f"{f' in {micro} micro-batches' if micro > 1 else ''}")


CONFIGS = {
    "tiny": Config(n_layer=2, n_head=4, n_embd=128, block_size=128, batch_size=16, micro_batch_size=16),
    "small": Config(n_layer=4, n_head=4, n_embd=256, block_size=256, batch_size=8, micro_batch_size=4),
}


def lr_at(step: int) -> float:
    """Linear warm-up, then cosine decay to MIN_LR (the trainer's schedule, written out)."""
    if step < WARMUP_STEPS:
        return LR * (step + 1) / (WARMUP_STEPS + 1)
    ratio = min(1.0, (step - WARMUP_STEPS) / (LR_DECAY_STEPS - WARMUP_STEPS))
    return MIN_LR + 0.5 * (1 + math.cos(math.pi * ratio)) * (LR - MIN_LR)


# ---------------------------------------------------------------------------------------------
# The plain loop (a child process)


def child_baseline(args: argparse.Namespace) -> int:
    import torch

    from webtext.tokenize.shards import TokenDataset
    from webtext.train.data import WindowSampler
    from webtext.train.model import GPT, PRESETS

    cfg = CONFIGS[args.config]
    data = TokenDataset(args.tokens, "train")
    mcfg = dataclasses.replace(PRESETS["tiny"], n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
                               block_size=cfg.block_size, vocab_size=data.vocab_size)
    torch.manual_seed(SEED)
    model = GPT(mcfg)
    params = list(model.parameters())
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() >= 2], "weight_decay": WEIGHT_DECAY},
         {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
        lr=LR, betas=BETAS,
    )
    sampler = WindowSampler(data, cfg.seq_len, SEED)
    accum = cfg.batch_size // cfg.micro_batch_size
    with open(args.out, "w") as out:
        out.write(json.dumps({"threads": torch.get_num_threads(), "torch": torch.__version__}) + "\n")
        for step in range(args.steps):
            t0 = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            loss_sum = torch.zeros(())
            for k in range(accum):
                x, y, _ = sampler.batch(step * cfg.batch_size,
                                        range(k * cfg.micro_batch_size, (k + 1) * cfg.micro_batch_size))
                loss = model(x, y) / accum
                loss.backward()
                loss_sum += loss.detach()
            norm = torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            dt = time.perf_counter() - t0
            out.write(json.dumps({"step": step + 1, "loss": loss_sum.item(), "grad_norm": norm.item(),
                                  "tokens_per_s": cfg.tokens_per_step / dt}) + "\n")
            out.flush()
    return 0


# ---------------------------------------------------------------------------------------------
# The timed runs


@dataclass
class Run:
    """One child run on its own: its steps' rows, wall seconds (start-up included), peak RSS."""

    rows: list[dict]
    seconds: float
    peak_rss: int

    def tokens_per_s(self, warmup: int) -> float:
        return statistics.median(r["tokens_per_s"] for r in self.rows if r["step"] > warmup)

    def losses(self) -> dict[int, float]:
        return {r["step"]: r["loss"] for r in self.rows}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def child_env(args: argparse.Namespace) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}


def failed(proc: subprocess.Popen, cmd: list[str], log_path: Path) -> SystemExit:
    tail = log_path.read_text(errors="replace")[-3000:]
    return SystemExit(f"{cmd[:4]}... exited with {proc.returncode}; log {log_path}:\n{tail}")


def run_child(cmd: list[str], log_path: Path, env: dict[str, str]) -> tuple[float, int]:
    """Run ``cmd`` to completion, its output to ``log_path``: wall seconds, peak RSS of its tree."""
    start = time.perf_counter()
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        with TreeMemory(proc.pid) as memory:
            proc.wait()
    if proc.returncode:
        raise failed(proc, cmd, log_path)
    return time.perf_counter() - start, max(memory.root_peak, memory.child_peak)


def baseline_cmd(name: str, tokens: Path, steps: int, out: Path) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", "baseline", "--config", name,
            "--tokens", str(tokens), "--steps", str(steps), "--out", str(out)]


def trainer_cmd(cfg: Config, tokens: Path, steps: int, out: Path) -> list[str]:
    """``webtext-build train`` (as ``python -m webtext.cli``, the console script's function)."""
    return [sys.executable, "-m", "webtext.cli", "-q", "train", "--data", str(tokens), "--preset", "tiny",
            "--device", "cpu",
            "--n-layer", str(cfg.n_layer), "--n-head", str(cfg.n_head), "--n-embd", str(cfg.n_embd),
            "--block-size", str(cfg.block_size), "--seq-len", str(cfg.seq_len),
            "--batch-size", str(cfg.batch_size), "--micro-batch-size", str(cfg.micro_batch_size),
            "--lr", str(LR), "--min-lr", str(MIN_LR), "--warmup-steps", str(WARMUP_STEPS),
            "--lr-decay-steps", str(LR_DECAY_STEPS), "--beta1", str(BETAS[0]), "--beta2", str(BETAS[1]),
            "--weight-decay", str(WEIGHT_DECAY), "--grad-clip", str(GRAD_CLIP), "--seed", str(SEED),
            "--max-steps", str(steps), "--log-every", str(10**6), "--out", str(out)]


def run_baseline(name: str, tokens: Path, args: argparse.Namespace, i: int) -> Run:
    out = args.workdir / f"baseline-{name}-{i}.jsonl"
    out.unlink(missing_ok=True)
    seconds, peak = run_child(baseline_cmd(name, tokens, args.steps, out), args.workdir / f"baseline-{name}-{i}.log",
                              child_env(args))
    head, *rows = read_jsonl(out)
    if head["threads"] != args.threads:
        log.warning("the plain loop ran with %d threads, not %d", head["threads"], args.threads)
    run = Run(rows, seconds, peak)
    log.info("plain loop %s #%d: %s tokens/s (median), %.1f s in all", name, i + 1,
             f"{run.tokens_per_s(args.warmup):,.0f}", seconds)
    return run


def run_trainer(name: str, tokens: Path, args: argparse.Namespace, i: int) -> Run:
    out = args.workdir / "runs" / f"trainer-{name}-{i}"
    shutil.rmtree(out, ignore_errors=True)
    seconds, peak = run_child(trainer_cmd(CONFIGS[name], tokens, args.steps, out),
                              args.workdir / f"trainer-{name}-{i}.log", child_env(args))
    run = Run(read_jsonl(out / "metrics.jsonl"), seconds, peak)
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    log.info("trainer    %s #%d: %s tokens/s (median), %.1f s in all", name, i + 1,
             f"{run.tokens_per_s(args.warmup):,.0f}", seconds)
    return run


# ---------------------------------------------------------------------------------------------
# Lockstep: both children at once, one step at a time each


class Stepper:
    """A child process that appends one line a step to ``rows``, run one step at a time: it is
    stopped (SIGSTOP) as soon as a step's line appears and continued (SIGCONT) for the next."""

    def __init__(self, cmd: list[str], rows: Path, header_lines: int, log_path: Path, env: dict[str, str]) -> None:
        self.cmd, self.rows, self.header_lines, self.log_path = cmd, rows, header_lines, log_path
        self.out = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        # its own process group: a group with a stopped member gets SIGHUP when it is orphaned (as when the
        # shell that started this benchmark exits), which would end this benchmark with it
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, env=env, process_group=0)
        self.done = 0  # steps whose line has appeared
        self.lag = 0.0  # seconds it ran past its last line before it was stopped (counted in the next step)

    def steps_written(self) -> int:
        try:
            return max(0, self.rows.read_bytes().count(b"\n") - self.header_lines)
        except OSError:
            return 0

    def poll_step(self) -> bool:
        """Stop the child if a new step's line has appeared; True then."""
        code = self.proc.poll()
        n = self.steps_written()
        if n > self.done:
            seen = time.perf_counter()
            if code is None:  # (a child that has just exited is a zombie: the signal is harmless)
                os.kill(self.proc.pid, signal.SIGSTOP)
            self.lag = time.perf_counter() - seen
            self.done = n
            return True
        if code is not None:
            raise failed(self.proc, self.cmd, self.log_path)
        return False

    def step(self, poll: float) -> float:
        """Let the child run its next step alone; the seconds it ran for it."""
        start = time.perf_counter()
        os.kill(self.proc.pid, signal.SIGCONT)
        lag = self.lag
        while not self.poll_step():
            time.sleep(poll)
        return time.perf_counter() - start - self.lag + lag

    def close(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        code = self.proc.wait()
        self.out.close()
        if code:
            raise failed(self.proc, self.cmd, self.log_path)


def lockstep(name: str, tokens: Path, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """Seconds of each step (2..steps) of the plain loop and of the trainer, run side by side with
    only one of them running at any time, taking turns step by step (the order alternating)."""
    base_rows = args.workdir / f"lockstep-baseline-{name}.jsonl"
    base_rows.unlink(missing_ok=True)
    run = args.workdir / "runs" / f"lockstep-trainer-{name}"
    shutil.rmtree(run, ignore_errors=True)
    env = child_env(args)
    sides = [Stepper(baseline_cmd(name, tokens, args.steps, base_rows), base_rows, 1,
                     args.workdir / f"lockstep-baseline-{name}.log", env),
             Stepper(trainer_cmd(CONFIGS[name], tokens, args.steps, run), run / "metrics.jsonl", 0,
                     args.workdir / f"lockstep-trainer-{name}.log", env)]
    seconds: list[list[float]] = [[], []]
    try:
        while not all(s.done for s in sides):  # start-up and step 1 of both, at the same time
            for s in sides:
                if not s.done:
                    s.poll_step()
            time.sleep(args.poll)
        for k in range(2, args.steps + 1):
            for i in ((0, 1) if k % 2 else (1, 0)):
                seconds[i].append(sides[i].step(args.poll))
    finally:
        for s in sides:
            if s.proc.poll() is None and s.done < args.steps:
                s.proc.kill()
        for s in sides:
            with contextlib.suppress(SystemExit):
                s.close()
    if not args.keep:
        shutil.rmtree(run, ignore_errors=True)
    return seconds[0], seconds[1]


def figures(name: str, tokens: Path, args: argparse.Namespace) -> list[Row]:
    cfg = CONFIGS[name]
    base: list[Run] = []
    trainer: list[Run] = []
    for i in range(args.repeats):  # alternated, so a load change hits both
        base.append(run_baseline(name, tokens, args, i))
        trainer.append(run_trainer(name, tokens, args, i))
    b = statistics.median(r.tokens_per_s(args.warmup) for r in base)
    t = statistics.median(r.tokens_per_s(args.warmup) for r in trainer)
    diffs = [abs(tl - bl) for run_b, run_t in zip(base, trainer, strict=True)
             for step, bl in run_b.losses().items() if (tl := run_t.losses().get(step)) is not None]
    diff = max(diffs, default=float("nan"))
    steps = f"steps {args.warmup + 1}-{args.steps}"
    wall_b, wall_t = (statistics.median(r.seconds for r in runs) for runs in (base, trainer))
    rows = [
        Row(f"{name}: plain loop tokens/s ({steps}, median; separate runs)", f"{b:,.0f}"),
        Row(f"{name}: trainer tokens/s (metrics.jsonl, {steps}, median)", f"{t:,.0f}"),
        Row(f"{name}: trainer / plain loop (separate runs)", f"{t / b:.2f}x", f">= {TARGET_RATIO}x",
            verdict(t / b >= TARGET_RATIO)),
    ]
    if args.lockstep:
        sec_b, sec_t = lockstep(name, tokens, args)
        keep = slice(max(0, args.warmup - 1), None)  # seconds[j] is step j + 2
        ratios = [sb / st for sb, st in zip(sec_b[keep], sec_t[keep], strict=True)]
        lb = cfg.tokens_per_step / statistics.median(sec_b[keep])
        lt = cfg.tokens_per_step / statistics.median(sec_t[keep])
        ratio = statistics.median(ratios)
        log.info("lockstep %s: plain loop %s, trainer %s tokens/s; per-step ratios %s", name, f"{lb:,.0f}",
                 f"{lt:,.0f}", " ".join(f"{r:.2f}" for r in ratios))
        rows += [
            Row(f"{name}: lockstep tokens/s, plain loop / trainer ({steps}, median)", f"{lb:,.0f} / {lt:,.0f}"),
            Row(f"{name}: trainer / plain loop (lockstep, median of per-step ratios)", f"{ratio:.2f}x",
                f">= {TARGET_RATIO}x", verdict(ratio >= TARGET_RATIO)),
        ]
    rows += [
        Row(f"{name}: max |loss difference| over {args.steps} steps", f"{diff:.1e}", f"< {TARGET_LOSS_DIFF:.0e}",
            verdict(diff < TARGET_LOSS_DIFF)),
        Row(f"{name}: wall s, plain loop / trainer (start-up, steps; trainer: + checkpoint)",
            f"{wall_b:.1f} / {wall_t:.1f}"),
        Row(f"{name}: peak RSS, plain loop / trainer",
            f"{mib(max(r.peak_rss for r in base))} / {mib(max(r.peak_rss for r in trainer))}"),
    ]
    return rows


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: 8 steps (3 warm-up), 1 repetition")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"which of {', '.join(CONFIGS)} (default all)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 20; 8 quick)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="first steps left out of the medians (default 4; 3 quick)")
    parser.add_argument("--repeats", type=int, default=None, help="runs of each side, alternated (default 2; 1 quick)")
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of both children (default 2)")
    parser.add_argument("--no-lockstep", dest="lockstep", action="store_false",
                        help="skip the lockstep figure (both sides run side by side, a step at a time each)")
    parser.add_argument("--poll", type=float, default=0.005, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, default=DATA, help=f"the shared data folder (default {DATA})")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out" / "train",
                        help="tokens dataset and scratch outputs (default benchmarks/out/train/)")
    parser.add_argument("--keep", action="store_true", help="keep the trainer's run folders")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show webtext's own logging")
    parser.add_argument("--child", choices=["baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--config", choices=list(CONFIGS), help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.steps = args.steps if args.steps is not None else (8 if args.quick else 20)
    args.warmup = args.warmup if args.warmup is not None else (3 if args.quick else 4)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 2)
    if not args.child and (args.repeats < 1 or args.threads < 1 or not 0 <= args.warmup < args.steps):
        parser.error("--repeats and --threads must be >= 1, and 0 <= --warmup < --steps")
    args.parts = check_parts(parser, args.configs, tuple(CONFIGS))
    args.workdir = args.workdir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_baseline(args)
    setup(args.verbose)
    args.workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    warn_if_busy(log)

    import torch
    from _train_data import shakespeare_tokens

    tokens = shakespeare_tokens(args.workdir / "tok-shakespeare", args.data)
    rows: list[Row] = []
    for name in args.parts:
        log.info("%s: %s", name, CONFIGS[name].describe())
        rows += figures(name, tokens, args)
    configs = "; ".join(f"{n}: {CONFIGS[n].describe()}" for n in args.parts)
    header = (
        f"webtext train benchmark (CPU): FSDP2 trainer on 1 process vs a plain PyTorch loop, Tiny Shakespeare in "
        f"GPT-2 BPE (vocab 50257); {configs}; {args.steps} steps, medians over steps {args.warmup + 1}-{args.steps}, "
        f"median of {args.repeats} alternated runs; OMP_NUM_THREADS={args.threads}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, Python {platform.python_version()}, {time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
