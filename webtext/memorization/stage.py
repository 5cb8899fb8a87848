"""The ``memorization`` stage as the registry sees it (light: torch is imported when it runs)."""

from __future__ import annotations

from webtext.data import Manifest
from webtext.memorization.config import MemorizationConfig
from webtext.stage_spec import DemoContext, StageSpec


def summarise(manifest: Manifest) -> str:
    from webtext.memorization.memorization_stage import summarise as summarise_report

    return summarise_report(manifest)


def demo(ctx: DemoContext) -> MemorizationConfig | None:
    """The demo's report over its run, tokens, contamination report and eval (skipped without an eval)."""
    if not (ctx.out("eval") / "results.json").exists():
        return None
    return MemorizationConfig(
        run=str(ctx.out("train")), tokens=str(ctx.out("tokenize")), contamination=str(ctx.out("contamination")),
        eval=str(ctx.out("eval")), documents=100, samples=40, sample_tokens=128, heldout_tokens=8192, bootstrap=500,
    )


def demo_report(ctx: DemoContext) -> str:
    from webtext.memorization.memorization_stage import headline

    folder = ctx.out("memorization")
    if not (folder / "report.json").exists():  # skipped: the demo had no eval results
        return "memorization: not run (no eval results in the demo's folder)"
    return "\n".join([f"memorization report: {folder / 'report.html'}", *headline(folder)])


STAGE = StageSpec(
    name="memorization", config=MemorizationConfig, run="webtext.memorization.memorization_stage:run_memorization",
    help="generalization vs memorization: clean vs dirty, train vs held-out, extraction, sample overlap",
    summarise=summarise, out_help="report folder: report.json/md/html, plots/, extraction/ ...", uses_runner=False,
    demo=demo, demo_report=demo_report, static_inputs=MemorizationConfig.static_inputs,
)
