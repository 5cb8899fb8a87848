"""Run the stages a ``pipelines.yaml`` declares, in order, and summarise what each produced."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from webtext.config import PipelineConfig
from webtext.data import Manifest
from webtext.errors import ConfigError
from webtext.runner import Runner

log = logging.getLogger(__name__)


def _run_urls(cfg: Any, out: Path, runner: Runner) -> Manifest:
    from webtext.crawl.url_stage import run_urls

    return run_urls(cfg, out, runner)


def _run_crawl(cfg: Any, out: Path, runner: Runner) -> Manifest:
    from webtext.crawl.crawl_stage import run_crawl

    return run_crawl(cfg, out, runner)


def _run_extract(cfg: Any, out: Path, runner: Runner) -> Manifest:
    from webtext.extract.extract_stage import run_extract

    return run_extract(cfg, out, runner)


#: Stage name -> function(config, out folder, runner) -> manifest. Order is pipeline order.
STAGE_FUNCTIONS: dict[str, Callable[[Any, Path, Runner], Manifest]] = {
    "urls": _run_urls, "crawl": _run_crawl, "extract": _run_extract,
}


def summarise(stage: str, manifest: Manifest) -> str:
    """One line per stage for humans: the counts that matter."""
    s = manifest.stats
    if stage == "urls":
        sub = s.get("submissions", {})
        drops = {k[8:]: v for k, v in sub.items() if k.startswith("dropped_") and v}
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(drops.items(), key=lambda kv: -kv[1])[:6])
        return (
            f"urls: {sub.get('lines', 0):,} lines -> {sub.get('kept_submissions', 0):,} submissions -> "
            f"{s.get('urls', 0):,} distinct URLs -> {s.get('kept_urls', 0):,} kept "
            f"(karma drop {s.get('dropped_karma', 0):,}; line drops: {top or 'none'})"
        )
    if stage == "crawl":
        errors = {k[6:]: v for k, v in s.items() if k.startswith("error_") and v}
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:6])
        return (f"crawl: {s.get('urls', 0):,} URLs -> {s.get('stored', 0):,} pages stored in WARC "
                f"({s.get('status_200', 0):,} answered 200; errors: {top or 'none'})")
    if stage == "extract":
        drops = {k[8:]: v for k, v in s.items() if k.startswith("dropped_") and v}
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(drops.items(), key=lambda kv: -kv[1]))
        return f"extract: {s.get('records', 0):,} pages -> {s.get('kept', 0):,} documents (dropped: {top or 'none'})"
    return f"{stage}: {s}"


def run_pipeline(
    pipeline: PipelineConfig, runner: Runner, only: Sequence[str] | None = None
) -> dict[str, Manifest]:
    """Run the declared stages (or ``only`` those) in pipeline order."""
    names = [n for n in STAGE_FUNCTIONS if n in pipeline.stages]
    if only:
        unknown = [n for n in only if n not in pipeline.stages]
        if unknown:
            raise ConfigError("--stages", f"{unknown[0]!r} is not declared in {pipeline.source}; "
                                          f"declared: {', '.join(names)}")
        names = [n for n in names if n in only]
    results: dict[str, Manifest] = {}
    for name in names:
        out = pipeline.outs[name]
        log.info("stage %s -> %s", name, out)
        results[name] = STAGE_FUNCTIONS[name](pipeline.stages[name], out, runner)
        log.info("%s", summarise(name, results[name]))
    return results
