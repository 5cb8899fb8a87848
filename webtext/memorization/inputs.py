"""What the report reads from the other stages' folders, in one place.

Eval folder (``webtext-build eval``), the fields this stage relies on:
- ``results.json``: ``tasks.<NAME>`` (optionally ``tasks.<NAME>.kind``) and ``model``, the evaluated
  model's identity: a dict with any of ``path`` (a run folder or its ``step-N``), ``step``,
  ``tokenizer_hash``, ``model_args`` — or just the path as a string;
- ``examples/<NAME>.parquet``: ``example`` (int, the unit and index of contamination's table),
  ``loglikelihood`` (nats), ``n_tokens``, ``n_words``, ``n_bytes``, and where they apply
  ``correct`` (bool) and ``prediction``.
Contamination folder: ``report.json`` (``ngram``, ``mode``), ``examples/<NAME>.parquet``
(``example``, ``overlap_percent``: NaN for an example without n-grams), ``corpus.bloom``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webtext.errors import ConfigError
from webtext.eval.metrics import task_kind

EVAL_COLUMNS = ("example", "loglikelihood", "n_tokens", "n_words", "n_bytes")


def side_folder(folder: Path, name: str) -> Path:
    """A side folder under its plain name or one that folder readers skip (``_name``, ``__name``)."""
    for candidate in (name, f"_{name}", f"__{name}", f".{name}"):
        if (Path(folder) / candidate).is_dir():
            return Path(folder) / candidate
    return Path(folder) / name


@dataclass
class EvalFolder:
    path: Path
    results: dict[str, Any]

    @classmethod
    def open(cls, path: Path) -> EvalFolder:
        path = Path(path)
        results_file = path / "results.json"
        if not results_file.is_file():
            raise ConfigError("eval", f"{path} has no results.json: run `webtext-build eval` on the run's model first")
        return cls(path, json.loads(results_file.read_text()))

    def tasks(self) -> list[str]:
        folder = side_folder(self.path, "examples")
        return sorted(p.stem for p in folder.glob("*.parquet"))

    def examples_file(self, name: str) -> Path:
        return side_folder(self.path, "examples") / f"{name}.parquet"

    def kind(self, name: str) -> str:
        """The task's kind: known names by their method, else what eval recorded, else rolling
        (a generic one-example-per-line benchmark is scored line by line like a rolling task)."""
        recorded = (self.results.get("tasks", {}).get(name) or {}).get("kind")
        return task_kind(name) or recorded or "rolling"

    def examples(self, name: str) -> dict[str, Any]:
        """The per-example columns of a task (numpy arrays), sorted by ``example``."""
        import numpy as np
        import pyarrow.parquet as pq

        path = self.examples_file(name)
        table = pq.read_table(path)
        missing = [c for c in EVAL_COLUMNS if c not in table.column_names]
        if missing:
            raise ConfigError("eval", f"{path} lacks column(s) {', '.join(missing)}: not an eval examples table")
        table = table.sort_by("example")
        cols = {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names if c != "prediction"}
        for c in ("correct", "correct_stopword_filter"):
            if c in cols:
                cols[c] = np.asarray([bool(x) for x in table.column(c).to_pylist()])
        return cols

    def identity(self) -> dict[str, Any] | None:
        model = self.results.get("model")
        if isinstance(model, str):
            return {"path": model}
        return model if isinstance(model, dict) else None


def check_eval_model(ev: EvalFolder, run: Path, records: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """The identity eval recorded, checked against the run's checkpoints (``records``: step ->
    checkpoint record); a mismatch is a ConfigError naming both."""
    ident = ev.identity()
    if not ident:
        raise ConfigError("eval", f"{ev.path / 'results.json'} records no `model`: its results cannot be tied to "
                                  f"{run}; re-run `webtext-build eval {run} ...`")
    run = Path(run).resolve()
    problems = []
    path = ident.get("path") or ident.get("checkpoint") or ident.get("run")
    if path:
        p = Path(path).resolve()
        if p != run and p.parent != run:
            problems.append(f"model {path}")
    step = ident.get("step")
    if step is not None and int(step) not in records:
        problems.append(f"step {step} (the run has {sorted(records)})")
    chosen = records.get(int(step)) if step is not None else records[max(records)]
    for key in ("tokenizer_hash", "model_args"):
        if ident.get(key) is not None and chosen is not None and chosen.get(key) is not None \
                and ident[key] != chosen[key]:
            problems.append(f"{key} {str(ident[key])[:40]} (the run's: {str(chosen[key])[:40]})")
    if problems:
        raise ConfigError("eval", f"{ev.path} evaluated another model ({'; '.join(problems)}), not {run}: run "
                                  f"`webtext-build eval {run} ...` or pass the --run that eval used")
    return ident


def contamination_examples(report: Path, name: str) -> dict[str, Any] | None:
    """Contamination's per-example overlap of a benchmark (sorted by ``example``), or None."""
    import pyarrow.parquet as pq

    path = side_folder(report, "examples") / f"{name}.parquet"
    if not path.is_file():
        return None
    table = pq.read_table(path, columns=["example", "overlap_percent"]).sort_by("example")
    return {c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names}


def contamination_report(report: Path) -> dict[str, Any]:
    path = Path(report) / "report.json"
    if not path.is_file():
        raise ConfigError("contamination", f"{report} has no report.json: run `webtext-build contamination` first")
    return json.loads(path.read_text())
