"""The ``train`` stage as the registry sees it (light: torch is imported when it runs)."""

from __future__ import annotations

from pathlib import Path

from webtext.data import Manifest
from webtext.stage_spec import DemoContext, StageSpec
from webtext.train.commands import add_commands
from webtext.train.config import TrainConfig

DEMO_STEPS = 240


def summarise(manifest: Manifest) -> str:
    s = manifest.stats
    return (f"train: {s.get('steps', 0):,} steps, loss {s.get('first_loss', float('nan')):.3f} -> "
            f"{s.get('last_loss', float('nan')):.3f}; checkpoint {s.get('checkpoint')}")


def demo(ctx: DemoContext) -> TrainConfig:
    return TrainConfig(data=str(ctx.out("tokenize")), preset="tiny", max_steps=DEMO_STEPS, seed=7, device="cpu",
                       batch_size=8, checkpoint_every=80, log_every=40, resume=True)


def demo_report(ctx: DemoContext) -> str:
    """The demo run's loss curve (every 25 steps) and its validation loss."""
    import json

    from webtext.train.export import eval_loss, load_model, perplexity, split_stream

    run = Path(ctx.out("train"))
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    curve = " ".join(f"{r['step']}:{r['loss']:.2f}" for r in rows if r["step"] == 1 or r["step"] % 25 == 0)
    model, _ = load_model(run)
    stream, _ = split_stream(ctx.out("tokenize"), "val")
    loss, n = eval_loss(model, stream)
    return (f"training loss by step: {curve}\nvalidation loss {loss:.3f} (perplexity {perplexity(loss):.1f}) "
            f"over {n:,} held-out tokens")


STAGE = StageSpec(
    name="train", config=TrainConfig, run="webtext.train.run:run_train",
    help="train GPT-2 on token shards (FSDP2, checkpoints, exact resume)",
    summarise=summarise, out_help="run folder: metrics.jsonl, step-N/ checkpoints", uses_runner=False,
    add_commands=add_commands, demo=demo, demo_out="run", demo_report=demo_report,
    static_inputs=TrainConfig.static_inputs,
)
