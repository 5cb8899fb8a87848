"""What makes an exported model folder usable by Hugging Face tools beyond its weights: the
tokenizer files, the generation defaults and the model card.

``transformers`` loads a tokenizer from ``tokenizer.json`` (fast) or GPT-2's ``vocab.json`` +
``merges.txt`` (slow, and what older tools read), configured by ``tokenizer_config.json`` and
``special_tokens_map.json``; without them ``AutoTokenizer`` silently builds an empty tokenizer.
Every tokenizer this project loads is GPT-2's byte-level BPE kind, so all four are written.
``<|endoftext|>`` is GPT-2's only special token: the bos, eos and unk token at once.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from webtext.errors import ConfigError

log = logging.getLogger(__name__)

EVAL_RESULTS = Path("eval") / "results.json"  # the eval stage's output, looked for next to the run
TOP_K = 40  # GPT-2's paper sampled its examples with top-k 40


def tokens_tokenizer_source(tokens: str | Path | None) -> str | None:
    """The tokenizer a tokens dataset was made with (that dataset's manifest names it)."""
    from webtext.data import Manifest

    manifest = Manifest.read(Path(tokens)) if tokens and Path(tokens).is_dir() else None
    return (manifest.config or {}).get("tokenizer") if manifest else None


def run_tokenizer_source(record: dict[str, Any]) -> str | None:
    """The tokenizer the run's tokens dataset was made with."""
    return tokens_tokenizer_source((record.get("config") or {}).get("data"))


def checked_tokenizer(source: str | None, want: str | None, key: str, fix: str) -> Any:
    """The tokenizer at ``source``, refused (ConfigError under ``key``, ending with ``fix``) if it is
    missing or its hash is not ``want``."""
    from webtext.tokenize.bpe import load_tokenizer

    if not source or not Path(source).exists():
        raise ConfigError(key, f"the run's tokens dataset does not name a tokenizer that exists ({source}): {fix}")
    tok = load_tokenizer(source)
    if want and tok.content_hash != want:
        raise ConfigError(key, f"{source} has hash {tok.content_hash[:12]}, the model was trained with "
                               f"{want[:12]}: {fix}")
    return tok


def checkpoint_tokenizer(record: dict[str, Any], given: str | Path | None) -> Any:
    """The checkpoint's tokenizer: ``given`` or the one its tokens dataset names; refused if its
    hash is not the one the checkpoint was trained with."""
    return checked_tokenizer(str(given) if given else run_tokenizer_source(record), record.get("tokenizer_hash"),
                             "tokenizer", "give --tokenizer (the tokenizer the tokens dataset was made with)")


def tokenizer_files(tok: Any, context: int) -> dict[str, bytes]:
    """The tokenizer files of a Hugging Face folder (name -> content)."""
    from webtext.tokenize.bpe import EOT

    vocab, merges = tok.gpt2_files()
    added = {str(i): {"content": name, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                      "special": True} for name, i in sorted(tok.specials.items(), key=lambda kv: kv[1])}
    config = {
        "tokenizer_class": "GPT2Tokenizer", "model_max_length": context, "bos_token": EOT, "eos_token": EOT,
        "unk_token": EOT, "pad_token": None, "add_prefix_space": False, "add_bos_token": False, "errors": "replace",
        "clean_up_tokenization_spaces": False, "added_tokens_decoder": added,
    }
    return {
        "tokenizer.json": tok.hf.to_str(pretty=False).encode(),
        "vocab.json": vocab,
        "merges.txt": merges,
        "tokenizer_config.json": _json(config),
        "special_tokens_map.json": _json({"bos_token": EOT, "eos_token": EOT, "unk_token": EOT}),
    }


def generation_config(eot_id: int, context: int) -> bytes:
    """Sampling defaults ``generate`` and ``pipeline`` read: stop at ``<|endoftext|>`` (also the
    padding), never past the context. (transformers is not needed to export: no version is recorded.)"""
    return _json({"bos_token_id": eot_id, "eos_token_id": eot_id, "pad_token_id": eot_id, "max_length": context,
                  "do_sample": True, "top_k": TOP_K})


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()


def eval_results(checkpoint: Path) -> dict[str, Any] | None:
    """``eval/results.json`` next to the run (or inside it) when it scored this checkpoint."""
    checkpoint = Path(checkpoint).resolve()
    run = checkpoint.parent
    for path in (run.parent / EVAL_RESULTS, run / EVAL_RESULTS):
        if not path.is_file():
            continue
        try:
            results = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            log.warning("export-hf: ignoring unreadable %s (%s)", path, exc)
            continue
        scored = Path(str((results.get("model") or {}).get("path", ""))).resolve()
        if scored in (checkpoint, run) and isinstance(results.get("tasks"), dict):
            return {**results, "_path": str(path)}
        log.info("export-hf: %s scored %s, not %s: the model card leaves it out", path, scored, checkpoint)
    return None


def _data_lines(record: dict[str, Any], tok: Any) -> list[str]:
    from webtext.data import Manifest

    data = (record.get("config") or {}).get("data")
    lines = [f"- tokenizer: byte-level BPE (GPT-2's kind), {tok.vocab_size:,} tokens, sha256 "
             f"`{tok.content_hash[:16]}`"]
    manifest = Manifest.read(Path(data)) if data and Path(data).is_dir() else None
    if manifest is None:
        return [f"- tokens dataset: `{data}` (not found at export time)", *lines]
    from webtext.tokenize.shards import describe

    splits = describe(Path(data))
    sizes = ", ".join(f"{k} {v['tokens']:,} tokens in {v['documents']:,} documents" for k, v in splits.items())
    folders = dict.fromkeys(_folder_of(str(i.get("path", "?"))) for i in manifest.inputs)  # files -> their folders
    sources = ", ".join(f"`{name}`" for name in list(folders)[:5])
    return [f"- tokens dataset: `{Path(data).name}` ({sizes}); made from {sources or 'unrecorded inputs'} with "
            f"`webtext-build tokenize`", *lines]


def _folder_of(path: str) -> str:
    p = Path(path)
    return p.parent.name if p.suffix in (".parquet", ".arrow", ".json") else p.name


def _last_loss(run: Path, step: int) -> float | None:
    from webtext.train.metrics_log import read_metrics

    for row in read_metrics(run / "metrics.jsonl"):
        if row.get("step") == step:
            return row.get("loss")
    return None


def model_card(checkpoint: Path, record: dict[str, Any], tok: Any, n_params: int) -> bytes:
    """``README.md``: what the model is, what it was trained on and for how long, eval numbers
    where ``eval/results.json`` scored this checkpoint, and how to generate with it."""
    checkpoint = Path(checkpoint)
    args, cfg = record["model_args"], record.get("config") or {}
    step = record["step"]
    seq_len = cfg.get("seq_len") or args["block_size"]
    samples = record.get("samples")
    tokens = f"{samples * seq_len:,} tokens ({samples:,} windows of {seq_len})" if samples else "not recorded"
    loss = _last_loss(checkpoint.parent, step)
    lines = [
        "---", "library_name: transformers", "pipeline_tag: text-generation", "tags:", "- gpt2", "- webtext", "---",
        "", f"# {checkpoint.parent.name} (step {step:,})", "",
        f"A GPT-2 language model ({args['n_layer']} layers, {args['n_head']} heads, width {args['n_embd']}, "
        f"context {args['block_size']:,}, {n_params:,} parameters) trained with `webtext-build train` and "
        "exported with `webtext-build export-hf`.", "",
        "## Training", "",
        f"- steps: {step:,}; tokens seen: {tokens}",
        f"- preset `{cfg.get('preset')}`, global batch {cfg.get('batch_size')} sequences, peak learning rate "
        f"{cfg.get('lr')}, seed {cfg.get('seed')}",
        f"- training loss at step {step:,}: {loss:.4f}" if loss is not None else "- training loss: not recorded",
        f"- run fingerprint `{str(record.get('fingerprint', ''))[:16]}`",
        "", "## Data", "", *_data_lines(record, tok), "",
        "## Evaluation", "",
    ]
    results = eval_results(checkpoint)
    if results is None:
        lines.append("Not evaluated: no `eval/results.json` next to the run scored this checkpoint "
                     "(`webtext-build eval` writes one).")
    else:
        lines += ["| task | metric | value |", "|---|---|---|"]
        for task, metrics in sorted(results["tasks"].items()):
            for metric, value in (metrics or {}).items():
                shown = f"{value:.4g}" if isinstance(value, float) else str(value)
                lines.append(f"| {task} | {metric} | {shown} |")
        lines += ["", f"From `{Path(results['_path']).parent.name}/results.json` (`webtext-build eval`)."]
    lines += [
        "", "## Use", "", "```python", "from transformers import pipeline", "",
        'generate = pipeline("text-generation", model="PATH/TO/THIS/FOLDER")',
        'print(generate("The meaning of life is")[0]["generated_text"])', "```", "",
        f"Sampling defaults (`generation_config.json`): top-k {TOP_K}, stop at `<|endoftext|>`, at most "
        f"{args['block_size']:,} tokens in all (the context).", "",
        "## Limitations", "",
        "Trained on text from the web: it reproduces its biases and errors, and it makes things up. Not for "
        "decisions about people.", "",
    ]
    return "\n".join(lines).encode()
