"""The ``eval`` stage: score each task, write per-example rows, results and the manifest.

Output folder: ``results.json`` (``tasks.<NAME>.<metric>``; the model's identity; the window
scheme: context, stride, contexts cut from the left), ``results.md`` / ``results.html`` (Table 3
layout beside the paper's rows), ``examples/<NAME>.parquet`` (one row per example, the unit and
index of ``contamination``'s), and ``_manifest.json`` last. A rerun with the same config, model
and task files finds the manifest's fingerprint unchanged and returns it without scoring.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from webtext.config import to_dict
from webtext.data import Manifest, describe_file, write_parquet
from webtext.eval.config import EvalConfig
from webtext.eval.metrics import aggregate
from webtext.paths import atomic_write_bytes

log = logging.getLogger(__name__)

EXAMPLES_DIR = "examples"


def _task_inputs(cfg: EvalConfig) -> list[dict[str, Any]]:
    from webtext.contamination.benchmarks import _field_of
    from webtext.runner import input_identity

    out = []
    for spec in cfg.tasks:
        source = spec.partition("=")[2].removeprefix("lines:")
        path = Path(_field_of(source)[0])
        if path.is_file():
            out.append(input_identity(path))
        elif path.is_dir():
            out += [input_identity(p) for p in sorted(path.iterdir()) if p.is_file()]
    return out


def _fingerprint(cfg: EvalConfig, model_identity: dict[str, Any], inputs: list[dict[str, Any]]) -> str:
    from webtext import __version__

    blob = json.dumps({"config": to_dict(cfg), "model": model_identity.get("sha256"),
                       "tokenizer": model_identity.get("tokenizer_hash"), "inputs": inputs, "code": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _device(cfg: EvalConfig) -> tuple[str, str]:
    import torch

    from webtext.errors import ConfigError

    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", "CUDA is not available here: use --device cpu")
    return device, cfg.dtype or ("bf16" if device == "cuda" else "fp32")


def run_eval(cfg: EvalConfig, out: Path, runner: object = None) -> Manifest:
    """Score every task of ``cfg`` with its model into ``out`` (the runner is not used: one
    process drives the model, batching across examples)."""
    import numpy as np
    import pyarrow as pa
    import torch

    from webtext.errors import ConfigError
    from webtext.eval import tasks as T
    from webtext.eval.loading import load
    from webtext.eval.scorer import Scorer

    out = Path(out)
    loaded = load(cfg.model, cfg.tokenizer)
    inputs = _task_inputs(cfg)
    fingerprint = _fingerprint(cfg, loaded.identity, inputs)
    done = Manifest.read(out)
    if done is not None and done.fingerprint == fingerprint:
        log.info("eval: %s is up to date (same config, model and task files); skipped", out)
        return done
    block = loaded.model.config.block_size
    context = cfg.context or block
    if context > block:
        raise ConfigError("context", f"{context} exceeds the model's context of {block}")
    stride = cfg.stride or context
    if stride > context:
        raise ConfigError("stride", f"must be <= the context ({context})")
    tasks = [T.load_task(spec, cfg.limit) for spec in cfg.tasks]  # every file checked before any scoring
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ConfigError("--task", "each task NAME may appear once")
    device, dtype = _device(cfg)
    tok = loaded.tokenizer
    token_bytes = [b""] * tok.vocab_size
    for t, i in tok.ranks.items():
        token_bytes[i] = t
    for s, i in tok.specials.items():
        token_bytes[i] = s.encode()
    token_len = np.array([len(b) for b in token_bytes], dtype=np.int64)
    mask = None
    if any(t.method == "lambada" for t in tasks):
        m = np.zeros(loaded.model.config.vocab_size, dtype=bool)
        m[: tok.vocab_size] = T.stopword_mask(token_bytes, tok.vocab_size)
        mask = torch.from_numpy(m)
    scorer = Scorer(loaded.model, device, dtype, cfg.batch_size, filter_mask=mask)
    log.info("eval: %s on %s (%s), context %d, stride %d, %d task(s)", loaded.identity["path"], device, dtype,
             context, stride, len(tasks))

    (out / EXAMPLES_DIR).mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"tasks": {}, "examples": {}, "tokens_scored": {}, "seconds": {}}
    truncated: dict[str, int] = {}
    files = []
    for task in tasks:
        t0 = time.perf_counter()
        cut = 0
        if task.method == "rolling":
            plan = T.plan_rolling(task, tok, token_len, context, stride)
            scored = scorer.score(plan.requests)
            rows = T.finish_rolling(plan, scored)
        elif task.method == "lambada":
            requests, cut = T.plan_lambada(task, tok, context)
            scored = scorer.score(requests)
            rows = T.finish_lambada(task, scored, tok.decode)
        else:
            requests, cut = T.plan_cbt(task, tok, context)
            scored = scorer.score(requests)
            rows = T.finish_cbt(task, scored)
        truncated[task.name] = cut
        n_tokens = int(sum(len(s.ll) for s in scored))
        seconds = time.perf_counter() - t0
        results["tasks"][task.name] = aggregate(task.kind, rows)
        results["examples"][task.name] = len(rows["example"])
        results["tokens_scored"][task.name] = n_tokens
        results["seconds"][task.name] = round(seconds, 3)
        path = out / EXAMPLES_DIR / f"{task.name}.parquet"
        write_parquet(path, pa.table(rows))
        files.append(describe_file(out, path))
        log.info("eval: %s: %s (%d tokens in %.1f s, %.0f tokens/s)", task.name, results["tasks"][task.name],
                 n_tokens, seconds, n_tokens / max(seconds, 1e-9))

    canonical = {t.name: T._canonical(t.name) for t in tasks}
    results = {
        "model": loaded.identity, "device": device, "dtype": dtype,
        "windows": {"context": context, "stride": stride,
                    "scheme": "disjoint (lm-eval)" if stride == context else "overlapping",
                    "truncated_contexts": truncated},
        **results,
    }
    from webtext.eval.report import render_html, render_md

    written = {"results.json": json.dumps(results, indent=2), "results.md": render_md(results, canonical),
               "results.html": render_html(results, canonical)}
    for name, text in written.items():
        atomic_write_bytes(out / name, text.encode())
        files.append(describe_file(out, out / name))
    stats = {"tasks": results["tasks"], "examples": results["examples"],
             "tokens_scored": sum(results["tokens_scored"].values()),
             "seconds": round(sum(results["seconds"].values()), 3), "truncated_contexts": sum(truncated.values())}
    manifest = Manifest(stage="eval", fingerprint=fingerprint, config=to_dict(cfg),
                        inputs=[{"path": loaded.identity["path"], "model_sha256": loaded.identity["sha256"]}, *inputs],
                        shards=[{"index": 0, "files": [f.__dict__ for f in files]}], stats=stats)
    manifest.write(out)
    return manifest


def summarise(manifest: Manifest) -> str:
    """One line: each task's headline metric."""
    s = manifest.stats
    heads = {"word_perplexity": "word ppl", "perplexity": "ppl", "accuracy": "acc", "bits_per_byte": "bpb",
             "bits_per_character": "bpc"}
    parts = []
    for name, metrics in (s.get("tasks") or {}).items():
        shown = [f"{label} {metrics[k]:.3f}" for k, label in heads.items()
                 if isinstance(metrics.get(k), float) and not (k == "bits_per_byte" and "word_perplexity" in metrics)]
        parts.append(f"{name} {' '.join(shown)}")
    return (f"eval: {'; '.join(parts) or 'no tasks'} ({s.get('tokens_scored', 0):,} tokens scored in "
            f"{s.get('seconds', 0):.1f} s)")
