"""The ``eval`` stage as the registry sees it (light: torch is imported when it runs)."""

from __future__ import annotations

from webtext.data import Manifest
from webtext.eval.config import EvalConfig
from webtext.stage_spec import DemoContext, StageSpec


def summarise(manifest: Manifest) -> str:
    from webtext.eval.eval_stage import summarise as summarise_results

    return summarise_results(manifest)


def demo(ctx: DemoContext) -> EvalConfig:
    """The demo's tiny trained model on the demo benchmark, one passage per line (rolling)."""
    return EvalConfig(model=str(ctx.out("train")), tasks=[f"demo-quiz=lines:{ctx.benchmark}"], device="cpu")


STAGE = StageSpec(
    name="eval", config=EvalConfig, run="webtext.eval.eval_stage:run_eval",
    help="GPT-2's zero-shot Table 3 tasks (= lm-evaluation-harness), per example",
    summarise=summarise, out_help="results folder: results.json/md/html, examples/<NAME>.parquet", uses_runner=False,
    demo=demo, static_inputs=EvalConfig.static_inputs,
)
