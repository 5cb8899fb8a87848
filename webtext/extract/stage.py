"""The ``extract`` stage as the registry sees it (light: no trafilatura)."""

from __future__ import annotations

from webtext.data import Manifest
from webtext.extract.config import ExtractConfig
from webtext.stage_spec import DemoContext, StageSpec, top_counts


def summarise(manifest: Manifest) -> str:
    s = manifest.stats
    return (f"extract: {s.get('records', 0):,} pages -> {s.get('kept', 0):,} documents "
            f"(dropped: {top_counts(s, 'dropped_') or 'none'})")


def demo(ctx: DemoContext) -> ExtractConfig:
    return ExtractConfig(inputs=[str(ctx.out("crawl"))], languages=["en"])


STAGE = StageSpec(
    name="extract", config=ExtractConfig, run="webtext.extract.extract_stage:run_extract",
    help="main text of stored HTML with trafilatura + GPT-2-style cleaning", summarise=summarise, demo=demo,
    static_inputs=ExtractConfig.static_inputs,
)
