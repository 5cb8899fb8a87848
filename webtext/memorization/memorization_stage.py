"""The ``memorization`` stage: one report from four measurements (GPT-2 section 4; Carlini et al.).

Inputs: a train run (every checkpoint), its tokens dataset (train/val splits; its manifest names
the docs it was made from, for lineage and the train-corpus scan), a contamination report
(per-example overlap, ``corpus.bloom``) and the eval folder of the run's model (per-example
scores). Output folder: ``report.json`` / ``report.md`` / ``report.html`` with ``plots/``, and the
tables every figure is recomputed from: ``clean_vs_dirty/<TASK>.parquet``,
``train_vs_heldout/part-00000.parquet``, ``extraction/part-00000.parquet``,
``sample_overlap/part-00000.parquet``. It runs in this process (the model decides the speed, not
the shards); a rerun with the same inputs and config is skipped.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import numpy as np

from webtext.arrays import sorted_unique
from webtext.config import to_dict
from webtext.data import Manifest, write_parquet
from webtext.errors import ConfigError
from webtext.memorization.config import MemorizationConfig
from webtext.runner import ShardOutput, ShardTask, input_identity, run_stage

log = logging.getLogger(__name__)

SIDE = ["clean_vs_dirty", "train_vs_heldout", "extraction", "sample_overlap", "plots", "report.json", "report.md",
        "report.html"]


def _docs_files(tokens: Path) -> list[Path]:
    """The docs the tokens dataset was made from (its manifest's config inputs)."""
    from webtext.inputs import parquet_files

    manifest = Manifest.read(tokens)
    if manifest is None:
        raise ConfigError("tokens", f"{tokens} has no _manifest.json: not a finished tokens dataset")
    try:
        return parquet_files(list(manifest.config.get("inputs") or []))
    except ConfigError as exc:
        raise ConfigError("tokens", f"the docs {tokens} was made from are gone ({exc}): lineage and the train "
                                    "corpus need them") from exc


def _tokenizer(tokens: Path, expected_hash: str | None):
    from webtext.train.hf_folder import checked_tokenizer, tokens_tokenizer_source

    return checked_tokenizer(tokens_tokenizer_source(tokens), expected_hash, "tokens",
                             f"samples and texts cannot be decoded without the tokenizer {tokens} was made with")


def check_inputs(cfg: MemorizationConfig) -> dict[str, Any]:
    """Everything that can be wrong with the inputs, found before any model runs."""
    from webtext.errors import VerifyError
    from webtext.memorization.heldout import checkpoints
    from webtext.memorization.inputs import EvalFolder, check_eval_model, contamination_report
    from webtext.tokenize.shard_digests import verify_token_shards
    from webtext.tokenize.shards import TokenDataset

    ckpts = checkpoints(Path(cfg.run))
    ev = EvalFolder.open(Path(cfg.eval))
    ident = check_eval_model(ev, Path(cfg.run), {s: rec for s, (_, rec) in ckpts.items()})
    crep = contamination_report(Path(cfg.contamination))
    bloom = Path(cfg.contamination) / "corpus.bloom"
    if not cfg.exact and not bloom.is_file():
        raise ConfigError("contamination", f"{cfg.contamination} has no corpus.bloom (a report made in exact mode?): "
                                           "re-run `webtext-build contamination ... --mode bloom`, or pass --exact to "
                                           "measure sample overlap against an exact n-gram set of the train documents")
    docs = _docs_files(Path(cfg.tokens))
    tok_hash = ckpts[max(ckpts)][1].get("tokenizer_hash")
    for split in ("train", "val"):  # by sha256: a same-size flip would change the losses and extractions silently
        verify_token_shards(Path(cfg.tokens), split)
    try:
        train = TokenDataset(Path(cfg.tokens), "train", tokenizer_hash=tok_hash)
        val = TokenDataset(Path(cfg.tokens), "val", tokenizer_hash=tok_hash)
    except VerifyError as exc:
        raise ConfigError("tokens", f"{cfg.tokens} is not a usable tokens dataset: {exc}") from exc
    if not train.shards or not val.shards:
        raise ConfigError("tokens", f"{cfg.tokens} needs both a train/ and a val/ split: re-run `webtext-build "
                                    "tokenize` with --val-fraction > 0")
    context = int(ckpts[max(ckpts)][1]["model_args"].get("block_size", 1024))
    if cfg.prefix_tokens + cfg.suffix_tokens > context + 1:
        raise ConfigError("prefix_tokens", f"{cfg.prefix_tokens} + {cfg.suffix_tokens} tokens exceed the model's "
                                           f"context of {context}")
    return {"checkpoints": ckpts, "eval": ev, "identity": ident, "contamination": crep, "docs": docs,
            "train": train, "val": val, "tokenizer": _tokenizer(Path(cfg.tokens), tok_hash)}


def run_memorization(cfg: MemorizationConfig, out: Path, runner: object = None) -> Manifest:
    """Build the report into ``out`` (the runner is not used: the work is one model in this process)."""
    from webtext.runner.local import LocalRunner

    out = Path(out)
    checked = check_inputs(cfg)
    inputs = [input_identity(Path(p)) for p in (cfg.run, cfg.tokens, cfg.contamination, cfg.eval)]
    return run_stage(stage="memorization", dataset=out, config=to_dict(cfg), inputs=inputs,
                     tasks=[ShardTask(0, "report", {})], shard_fn=functools.partial(_report, cfg, out, checked),
                     runner=LocalRunner(), side_dirs=SIDE)


class _Report:
    """The four sections, each a phase writing its table; ``json`` collects report.json."""

    def __init__(self, cfg: MemorizationConfig, out: Path, checked: dict[str, Any]) -> None:
        self.cfg, self.out, self.checked = cfg, out, checked
        self.ckpts = checked["checkpoints"]
        self.train, self.val, self.tok = checked["train"], checked["val"], checked["tokenizer"]
        self.files: list[Path] = []
        self.notes: list[str] = []
        self.json: dict[str, Any] = {}
        self.model = None

    def _write(self, path: Path, table) -> None:
        write_parquet(path, table)
        self.files.append(path)

    def clean_vs_dirty(self) -> None:
        from webtext.memorization import clean_dirty
        from webtext.memorization.inputs import contamination_examples, side_folder

        ev = self.checked["eval"]
        section: dict[str, Any] = {}
        for name in ev.tasks():
            co = contamination_examples(Path(self.cfg.contamination), name)
            if co is None:
                self.notes.append(f"eval task {name} has no per-example overlap in the contamination report: left out")
                continue
            cols = ev.examples(name)
            report_file = side_folder(Path(self.cfg.contamination), "examples") / f"{name}.parquet"
            overlap = clean_dirty.join(cols, co, ev.examples_file(name), report_file)
            section[name] = clean_dirty.task_report(ev.kind(name), cols, overlap, self.cfg.heavy_overlap,
                                                    self.cfg.bootstrap, self.cfg.seed)
            if not section[name]["dirty"]["n"]:
                self.notes.append(f"{name}: no example shares an n-gram with the corpus (the dirty set is empty)")
            self._write(self.out / "clean_vs_dirty" / f"{name}.parquet",
                        clean_dirty.joined_table(cols, overlap, self.cfg.heavy_overlap))
        if not section:
            self.notes.append("no task is in both the eval folder and the contamination report")
        self.json["clean_vs_dirty"] = section

    def train_vs_heldout(self) -> None:
        import pyarrow as pa

        from webtext.memorization import heldout

        first = self.ckpts[min(self.ckpts)][1]["model_args"]
        length = heldout.window_length(int(first["block_size"]), self.train, self.val)
        windows = {s: heldout.fixed_windows(d, self.cfg.seed, self.cfg.heldout_tokens, length)
                   for s, d in (("train", self.train), ("val", self.val))}
        curve = []
        for step, (path, record) in self.ckpts.items():
            model = heldout.load(path, record, self.cfg.device)
            losses = {s: heldout.mean_loss(model, w, self.cfg.batch_size, self.cfg.device) for s, w in windows.items()}
            curve.append({"step": step, "train_loss": losses["train"], "val_loss": losses["val"]})
            log.info("step %d: train loss %.4f, val loss %.4f", step, losses["train"], losses["val"])
            self.model = model  # the newest checkpoint's model is used by the sections after this one
        scored = windows["train"].shape[0] * (length - 1)
        self.json["train_vs_heldout"] = curve
        self.json["train_vs_heldout_info"] = {
            "tokens_per_split": scored, "window_tokens": length - 1, "windows": int(windows["train"].shape[0]),
            "gap_at_last_step": curve[-1]["val_loss"] - curve[-1]["train_loss"], "last_step": curve[-1]["step"]}
        n = len(curve)
        self._write(self.out / "train_vs_heldout" / "part-00000.parquet", pa.table({
            "step": [c["step"] for c in curve], "train_loss": [c["train_loss"] for c in curve],
            "val_loss": [c["val_loss"] for c in curve], "tokens_per_split": [scored] * n}))

    def extraction(self) -> None:
        import pyarrow as pa

        from webtext.memorization import extraction as ex

        cfg = self.cfg
        train = ex.pick(self.train, "train", cfg.documents, cfg.prefix_tokens, cfg.suffix_tokens, cfg.seed)
        val = ex.pick(self.val, "val", len(train.ids), cfg.prefix_tokens, cfg.suffix_tokens, cfg.seed)
        if len(train.ids) < cfg.documents:
            self.notes.append(f"extraction: {train.eligible} train documents have >= {cfg.prefix_tokens} + "
                              f"{cfg.suffix_tokens} tokens; asked for {cfg.documents}, used {len(train.ids)}")
        if len(val.ids) < len(train.ids):
            self.notes.append(f"extraction: {val.eligible} val documents have >= {cfg.prefix_tokens} + "
                              f"{cfg.suffix_tokens} tokens; used {len(val.ids)} against {len(train.ids)} train ones")
        rows = ex.lineage(self.checked["docs"], set(train.ids) | set(val.ids))
        missing = len(set(train.ids) | set(val.ids)) - len(rows)
        if missing:
            self.notes.append(f"extraction: {missing} document(s) not found in the docs the tokens were made from "
                              "(no lineage for them)")
        section, tables = {}, []
        for picked in (train, val):
            gen = ex.extract(self.model, picked, cfg.batch_size, cfg.device)
            matched = ex.matched_prefix(gen, picked.suffix)
            section[picked.split] = ex.summary(matched, cfg.suffix_tokens, picked)
            tables.append(ex.table(picked, gen, matched, rows, self._decode))
        section["prefix_tokens"], section["suffix_tokens"] = cfg.prefix_tokens, cfg.suffix_tokens
        self.json["extraction"] = section
        self._write(self.out / "extraction" / "part-00000.parquet", pa.concat_tables(tables))

    def _decode(self, ids) -> str:
        return self.tok.decode([int(i) for i in ids])

    def sample_overlap(self) -> None:
        import pyarrow as pa

        from webtext.memorization import overlap as ov

        cfg = self.cfg
        ngram = int(self.checked["contamination"].get("ngram", 8))
        length = min(cfg.sample_tokens, self.model.config.block_size)
        samples = ov.sample(self.model, self.tok.eot_id, cfg.samples, length, cfg.top_k, cfg.seed, cfg.batch_size,
                            cfg.device)
        sample_texts = [self._decode(s) for s in samples]
        val_ids, val_texts = self._val_documents()
        s_hash, s_counts = ov.measure(sample_texts, ngram)
        v_hash, v_counts = ov.measure(val_texts, ngram)
        targets = sorted_unique(np.concatenate([v_hash, s_hash] if cfg.exact else [v_hash]))
        val_set = {i for s in self.val.shards for i in s.ids.to_pylist()}
        found, counts = ov.train_scan(self.checked["docs"], val_set, targets, ngram)
        train_ref = (f"exact {ngram}-gram set of the train documents ({counts['train_documents']:,} documents, "
                     f"{counts['train_ngrams']:,} n-grams; the {len(val_set):,} val documents left out)")

        def in_train(h: np.ndarray) -> np.ndarray:
            pos = np.searchsorted(targets, h)
            pos[pos == len(targets)] = 0
            return (targets[pos] == h) & found[pos] if len(targets) else np.zeros(len(h), dtype=bool)

        if cfg.exact:
            s_hit, s_ref = in_train(s_hash), train_ref
        else:
            from webtext.contamination.bloom import BloomFilter

            bloom = BloomFilter.load(Path(cfg.contamination) / "corpus.bloom")
            if bloom.ngram != ngram:
                raise ConfigError("contamination", f"corpus.bloom holds {bloom.ngram}-grams, the report {ngram}-grams")
            s_hit = ov.found_in_bloom(bloom, s_hash)
            s_ref = (f"the contamination report's corpus.bloom ({bloom.items:,} n-grams of every document the report "
                     "scanned, val documents included)")
        s_found, s_pct = ov.per_text(s_counts, s_hit)
        v_found, v_pct = ov.per_text(v_counts, in_train(v_hash))
        self.json["sample_overlap"] = {
            "samples": {**ov.summary(s_pct, s_ref), "tokens": length, "top_k": cfg.top_k},
            "val_documents": ov.summary(v_pct, train_ref), "ngram": ngram}
        self._write(self.out / "sample_overlap" / "part-00000.parquet", pa.concat_tables([
            ov.table("sample", [f"sample-{i}" for i in range(len(samples))], sample_texts, s_counts, s_found, s_pct),
            ov.table("val_document", val_ids, val_texts, v_counts, v_found, v_pct)]))

    def _val_documents(self) -> tuple[list[str], list[str]]:
        """Up to ``--documents`` val documents (seeded), decoded from their tokens (lossless BPE)."""
        docs = [(i, t) for i, t in self.val.documents()]
        rng = np.random.default_rng([self.cfg.seed, 2])
        take = sorted(rng.choice(len(docs), size=min(len(docs), max(self.cfg.documents, 1)), replace=False).tolist())
        eot = self.tok.eot_id
        return [docs[j][0] for j in take], [self._decode(t[:-1] if len(t) and t[-1] == eot else t)
                                           for j in take for t in [docs[j][1]]]


def _report(cfg: MemorizationConfig, out: Path, checked: dict[str, Any], task: ShardTask) -> ShardOutput:
    from webtext.memorization.report import write_report

    rep = _Report(cfg, out, checked)
    rep.clean_vs_dirty()
    rep.train_vs_heldout()
    rep.extraction()
    rep.sample_overlap()
    ident = checked["identity"]
    rep.json["model"] = {"run": str(Path(cfg.run).resolve()), "checkpoints": sorted(rep.ckpts),
                         "eval_model": ident, "tokenizer_hash": rep.tok.content_hash}
    rep.json["notes"] = rep.notes
    rep.files += write_report(out, rep.json)
    j = rep.json
    scored = j["extraction"]["train"]["documents"] + j["extraction"]["val"]["documents"]
    counts: dict[str, int | float] = {
        "total": scored, "kept": scored,  # the books count extraction/'s rows, one per document prompted
        "tasks": len(j["clean_vs_dirty"]), "checkpoints": len(j["train_vs_heldout"]),
        "train_documents": j["extraction"]["train"]["documents"], "val_documents": j["extraction"]["val"]["documents"],
        "train_extracted": j["extraction"]["train"]["extracted"], "val_extracted": j["extraction"]["val"]["extracted"],
        "samples": j["sample_overlap"]["samples"]["n"],
    }
    return ShardOutput(files=rep.files, counts=counts)


def summarise(manifest: Manifest) -> str:
    """One line: the headline counts."""
    s = manifest.stats
    return (f"memorization: {s.get('tasks', 0)} task(s) clean vs dirty, {s.get('checkpoints', 0)} checkpoints; "
            f"extracted {s.get('train_extracted', 0)}/{s.get('train_documents', 0)} train vs "
            f"{s.get('val_extracted', 0)}/{s.get('val_documents', 0)} val documents")


def headline(folder: Path) -> list[str]:
    """The report's headline lines (for the demo): clean-minus-all deltas, extraction, overlap."""
    import json

    rep = json.loads((Path(folder) / "report.json").read_text())
    lines = []
    for task, t in rep["clean_vs_dirty"].items():
        parts = []
        for metric, d in t["delta"].items():
            if d["value"] is not None:
                ci = (f" [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]" if d["ci_low"] is not None else "")
                parts.append(f"{metric} {t['clean'][metric]:.3f} clean vs {t['all'][metric]:.3f} all "
                             f"(delta {d['value']:+.3f}{ci})")
        lines.append(f"{task}: {t['all']['n']} examples, {t['dirty']['n']} dirty, {t['heavy']['n']} heavy; "
                     + ("; ".join(parts) or "no clean examples"))
    ex = rep["extraction"]
    rate = {s: ex[s]["exact_match_rate"] for s in ("train", "val")}
    lines.append("extraction ({}+{} tokens): train {} of {} documents, val {} of {}".format(
        ex["prefix_tokens"], ex["suffix_tokens"],
        "n/a" if rate["train"] is None else f"{rate['train']:.1%}", ex["train"]["documents"],
        "n/a" if rate["val"] is None else f"{rate['val']:.1%}", ex["val"]["documents"]))
    so = rep["sample_overlap"]
    med = {k: so[k]["median_percent"] for k in ("samples", "val_documents")}
    lines.append("{}-gram overlap with the training corpus, median: samples {}, val documents {}".format(
        so["ngram"], *("n/a" if med[k] is None else f"{med[k]:.1f}%" for k in ("samples", "val_documents"))))
    return lines
