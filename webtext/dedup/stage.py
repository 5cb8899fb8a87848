"""The ``dedup`` stage as the registry sees it (light: no numba kernels)."""

from __future__ import annotations

from webtext.data import Manifest
from webtext.dedup.config import DedupConfig
from webtext.paths import side_dir
from webtext.stage_spec import DemoContext, StageSpec


def summarise(manifest: Manifest) -> str:
    s = manifest.stats
    return (f"dedup: {s.get('documents', 0):,} documents -> {s.get('kept', 0):,} kept "
            f"({s.get('removed_exact', 0):,} exact and {s.get('removed_near', 0):,} near duplicates removed)")


def demo(ctx: DemoContext) -> DedupConfig:
    return DedupConfig(inputs=[str(ctx.out("extract"))], partitions=4)


def demo_report(ctx: DemoContext) -> str:
    """How the website's planted copies fared: extracted with their original, and caught by dedup."""
    import pyarrow.parquet as pq

    from webtext.extract.extract_stage import doc_id

    docs = {r["id"] for f in sorted(ctx.out("extract").glob("part-*.parquet"))
            for r in pq.read_table(f, columns=["id"]).to_pylist()}
    removed = {r["id"]: r["kind"] for f in sorted(side_dir(ctx.out("dedup"), "duplicates").glob("part-*.parquet"))
               for r in pq.read_table(f).to_pylist()}
    lines = []
    for kind in ("exact_dup", "near_dup"):
        pairs = [(doc_id(p.url), doc_id(p.original)) for p in ctx.site.pages if p.kind == kind and p.original]
        both = [(a, b) for a, b in pairs if a in docs and b in docs]
        caught = sum(1 for a, b in both if a in removed or b in removed)
        lines.append(f"{len(pairs)} {kind.replace('_dup', '')} copies planted, {len(both)} extracted with their "
                     f"original, {caught} caught")
    kinds = list(removed.values())
    return (f"dedup on the demo web: {'; '.join(lines)}; removed {kinds.count('exact')} exact and "
            f"{kinds.count('near')} near duplicates in all")


STAGE = StageSpec(
    name="dedup", config=DedupConfig, run="webtext.dedup.dedup_stage:run_dedup",
    help="remove exact and MinHash-LSH near-duplicate documents", summarise=summarise, demo=demo,
    demo_report=demo_report, static_inputs=DedupConfig.static_inputs,
)
