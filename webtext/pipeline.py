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


#: Stage name -> where its ``run_<stage>(config, out folder, runner) -> Manifest`` lives, imported
#: only when the stage runs (``import webtext`` stays light). Order is pipeline order.
_STAGE_PATHS = {
    "urls": "webtext.crawl.url_stage:run_urls",
    "crawl": "webtext.crawl.crawl_stage:run_crawl",
    "extract": "webtext.extract.extract_stage:run_extract",
    "dedup": "webtext.dedup.dedup_stage:run_dedup",
    "contamination": "webtext.contamination.contamination_stage:run_contamination",
    "decontaminate": "webtext.contamination.decontaminate:run_decontaminate",
    "train-tokenizer": "webtext.tokenize.encode:run_train_tokenizer",
    "tokenize": "webtext.tokenize.encode:run_tokenize",
    "train": "webtext.train.run:run_train",
    "eval": "webtext.eval.eval_stage:run_eval",
}


def _lazy(path: str) -> Callable[[Any, Path, Runner], Manifest]:
    module, name = path.split(":")

    def run(cfg: Any, out: Path, runner: Runner) -> Manifest:
        import importlib

        return getattr(importlib.import_module(module), name)(cfg, out, runner)

    run.__name__ = name
    return run


STAGE_FUNCTIONS: dict[str, Callable[[Any, Path, Runner], Manifest]] = {
    stage: _lazy(path) for stage, path in _STAGE_PATHS.items()
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
    if stage == "dedup":
        return (f"dedup: {s.get('documents', 0):,} documents -> {s.get('kept', 0):,} kept "
                f"({s.get('removed_exact', 0):,} exact and {s.get('removed_near', 0):,} near duplicates removed)")
    if stage == "contamination":
        overlaps = ", ".join(f"{k[12:]} {v / 1e4:.2f}%" for k, v in s.items() if k.startswith("overlap_ppm_"))
        return f"contamination: overlap of benchmark n-grams with the corpus: {overlaps or 'none'}"
    if stage == "decontaminate":
        return (f"decontaminate: {s.get('documents', 0):,} documents -> {s.get('kept', 0):,} kept "
                f"({s.get('trimmed', 0):,} trimmed, {s.get('removed_chars', 0):,} characters removed)")
    if stage == "train-tokenizer":
        return f"train-tokenizer: vocab {s.get('vocab_size', 0):,} (<|endoftext|> = {s.get('eot_id')})"
    if stage == "tokenize":
        tokens = s.get("train_tokens", 0) + s.get("val_tokens", 0)
        docs = s.get("train_documents", 0) + s.get("val_documents", 0)
        per_doc = tokens / docs if docs else 0.0
        bpt = s.get("text_bytes", 0) / tokens if tokens else 0.0
        return (f"tokenize: {docs:,} documents -> {tokens:,} tokens ({s.get('train_tokens', 0):,} train, "
                f"{s.get('val_tokens', 0):,} val; {per_doc:,.0f} tokens per document, {bpt:.2f} bytes per token; "
                f"{s.get('empty_documents', 0):,} empty skipped)")
    if stage == "train":
        return (f"train: {s.get('steps', 0):,} steps, loss {s.get('first_loss', float('nan')):.3f} -> "
                f"{s.get('last_loss', float('nan')):.3f}; checkpoint {s.get('checkpoint')}")
    if stage == "eval":
        from webtext.eval.eval_stage import summarise as eval_summarise

        return eval_summarise(manifest)
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
