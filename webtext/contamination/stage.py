"""The ``contamination`` and ``decontaminate`` stages as the registry sees them (light)."""

from __future__ import annotations

from webtext.contamination.config import ContaminationConfig, DecontaminateConfig
from webtext.data import Manifest
from webtext.stage_spec import DemoContext, StageSpec


def summarise_contamination(manifest: Manifest) -> str:
    s = manifest.stats
    overlaps = ", ".join(f"{k[12:]} {v / 1e4:.2f}%" for k, v in s.items() if k.startswith("overlap_ppm_"))
    return f"contamination: overlap of benchmark n-grams with the corpus: {overlaps or 'none'}"


def summarise_decontaminate(manifest: Manifest) -> str:
    s = manifest.stats
    return (f"decontaminate: {s.get('documents', 0):,} documents -> {s.get('kept', 0):,} kept "
            f"({s.get('trimmed', 0):,} trimmed, {s.get('removed_chars', 0):,} characters removed)")


def demo_contamination(ctx: DemoContext) -> ContaminationConfig:
    return ContaminationConfig(inputs=[str(ctx.out("dedup"))], benchmarks=[f"demo-quiz=lines:{ctx.benchmark}"],
                               mode="bloom", random_check=100_000)


def demo_report(ctx: DemoContext) -> str:
    """The report's table (benchmark rows) and where its HTML page is."""
    report = ctx.out("contamination")
    table = [line for line in (report / "report.md").read_text().splitlines()[4:8] if line.startswith("|")]
    return "\n".join([*table, f"contamination report: {report / 'report.html'}"])


CONTAMINATION = StageSpec(
    name="contamination", config=ContaminationConfig,
    run="webtext.contamination.contamination_stage:run_contamination",
    help="GPT-2's n-gram overlap of benchmark test sets with a corpus + report",
    summarise=summarise_contamination, demo=demo_contamination, demo_report=demo_report,
    static_inputs=ContaminationConfig.static_inputs,
)

DECONTAMINATE = StageSpec(
    name="decontaminate", config=DecontaminateConfig, run="webtext.contamination.decontaminate:run_decontaminate",
    help="remove the benchmark text a contamination report found", summarise=summarise_decontaminate,
    static_inputs=DecontaminateConfig.static_inputs,
)
