"""``report.json``, ``report.md`` and ``report.html`` with plots; every plot is drawn from the
Parquet tables beside the report (``clean_vs_dirty/``, ``train_vs_heldout/``, ``extraction/``,
``sample_overlap/``), so each figure can be recomputed from them."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from webtext.paths import atomic_path, atomic_write_bytes

SUBSETS = ("all", "clean", "dirty", "heavy")


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def plots(out: Path, rep: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pyarrow.parquet as pq

    written = []
    curve = pq.read_table(out / "train_vs_heldout" / "part-00000.parquet").to_pydict()
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(curve["step"], curve["train_loss"], "o-", label="train")
    ax.plot(curve["step"], curve["val_loss"], "s-", label="held-out (val)")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.set_title("Train vs held-out loss (GPT-2 Figure 4)")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, out / "plots" / "train_vs_heldout.png"))
    plt.close(fig)

    so = pq.read_table(out / "sample_overlap" / "part-00000.parquet").to_pydict()
    kinds = np.asarray(so["kind"])
    pct = np.asarray(so["overlap_percent"], dtype=np.float64)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for kind, label in (("sample", "samples"), ("val_document", "val documents")):
        vals = np.sort(pct[(kinds == kind) & ~np.isnan(pct)])
        axes[0].hist(vals, bins=20, range=(0, 100), alpha=0.6, label=label)
        if len(vals):  # the empirical CDF as steps from (0, 0)
            axes[1].step(np.r_[0.0, vals], np.r_[0.0, np.arange(1, len(vals) + 1) / len(vals)], where="post",
                         label=label)
    axes[0].set_xlabel(f"% of {rep['sample_overlap']['ngram']}-grams in the training corpus")
    axes[0].set_ylabel("texts")
    axes[0].legend()
    axes[1].set_xlabel(f"% of {rep['sample_overlap']['ngram']}-grams in the training corpus")
    axes[1].set_ylabel("cumulative share")
    axes[1].set_xlim(-2, 100)
    axes[1].legend()
    fig.suptitle("Samples vs held-out documents: overlap with the training set (GPT-2 Figure 5)")
    fig.tight_layout()
    written.append(_save(fig, out / "plots" / "sample_overlap.png"))
    plt.close(fig)

    ex = pq.read_table(out / "extraction" / "part-00000.parquet", columns=["split", "matched_tokens"]).to_pydict()
    split = np.asarray(ex["split"])
    matched = np.asarray(ex["matched_tokens"])
    fig, ax = plt.subplots(figsize=(5, 3.2))
    top = rep["extraction"]["suffix_tokens"]
    for s in ("train", "val"):
        ax.hist(matched[split == s], bins=np.arange(top + 2) - 0.5, alpha=0.6, label=s)
    ax.set_xlabel("leading continuation tokens equal to the document's")
    ax.set_ylabel("documents")
    ax.set_title("Extraction: greedy continuation vs the document")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, out / "plots" / "extraction.png"))
    plt.close(fig)

    tasks = list(rep["clean_vs_dirty"])
    if tasks:
        fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.2), squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            t = pq.read_table(out / "clean_vs_dirty" / f"{task}.parquet").to_pydict()
            dirty, heavy = np.asarray(t["dirty"], bool), np.asarray(t["heavy"], bool)
            ll = np.asarray(t["loglikelihood"], dtype=np.float64)
            ntok = np.asarray(t["n_tokens"], dtype=np.float64)
            sel = {"all": np.ones_like(dirty), "clean": ~dirty, "dirty": dirty, "heavy": heavy}
            vals = [(-ll[m].sum() / ntok[m].sum()) if m.any() and ntok[m].sum() else 0.0 for m in sel.values()]
            ax.bar(list(sel), vals, color=["gray", "tab:green", "tab:red", "darkred"])
            ax.set_title(f"{task} (n = {', '.join(str(int(m.sum())) for m in sel.values())})")
            ax.set_ylabel("loss per token (nats)")
        fig.suptitle("Clean vs dirty examples")
        fig.tight_layout()
        written.append(_save(fig, out / "plots" / "clean_vs_dirty.png"))
        plt.close(fig)
    return written


def _f(v: Any, fmt: str = ".3f") -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return format(v, fmt)
    return str(v)


def markdown(rep: dict[str, Any]) -> str:
    lines = ["# Generalization vs memorization", "",
             f"Model: `{rep['model']['run']}`, checkpoints {', '.join(map(str, rep['model']['checkpoints']))}.", ""]
    lines += ["## Clean vs dirty benchmark examples", "",
              "Dirty: the example shares at least one n-gram with the corpus (contamination's `overlap_percent > 0`); "
              "heavy: overlap above the threshold. Delta: clean minus all, bootstrap 95% interval.", ""]
    for task, t in rep["clean_vs_dirty"].items():
        metrics = list(t["delta"])
        lines += [f"### {task} ({t['kind']}; heavy > {t['heavy_threshold_percent']:g}%)", "",
                  "| subset | n | loglikelihood sum | tokens | words | " + " | ".join(metrics) + " |",
                  "|---|---|---|---|---|" + "---|" * len(metrics)]
        for s in SUBSETS:
            r = t[s]
            lines.append(f"| {s} | {r['n']} | {_f(r['loglikelihood_sum'])} | {_f(r['n_tokens'])} | "
                         f"{_f(r['n_words'])} | " + " | ".join(_f(r[m]) for m in metrics) + " |")
        lines.append("| clean − all | | | | | " + " | ".join(
            f"{_f(t['delta'][m]['value'], '+.3f')} [{_f(t['delta'][m]['ci_low'], '+.3f')}, "
            f"{_f(t['delta'][m]['ci_high'], '+.3f')}]" for m in metrics) + " |")
        lines.append("")
    if rep["clean_vs_dirty"]:
        lines += ["![clean vs dirty](plots/clean_vs_dirty.png)", ""]
    info = rep["train_vs_heldout_info"]
    lines += ["## Train vs held-out loss", "",
              f"{info['windows']} fixed windows of {info['window_tokens']} tokens per split "
              f"({info['tokens_per_split']:,} tokens each). Gap (val − train) at step {info['last_step']}: "
              f"{info['gap_at_last_step']:+.4f} nats.", "", "| step | train loss | val loss |", "|---|---|---|"]
    lines += [f"| {c['step']} | {c['train_loss']:.4f} | {c['val_loss']:.4f} |" for c in rep["train_vs_heldout"]]
    lines += ["", "![train vs held-out](plots/train_vs_heldout.png)", ""]
    ex = rep["extraction"]
    lines += ["## Extraction", "",
              f"Prompt: a document's first {ex['prefix_tokens']} tokens; extracted when the greedy continuation equals "
              f"its next {ex['suffix_tokens']} tokens (`extraction/part-00000.parquet`: ids, URL, karma, texts).", "",
              "| split | documents | eligible | extracted | exact-match rate | mean matched tokens |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {s} | {ex[s]['documents']} | {ex[s]['eligible']} | {ex[s]['extracted']} | "
              f"{_f(ex[s]['exact_match_rate'], '.2%')} | {_f(ex[s]['mean_matched_tokens'], '.2f')} |"
              for s in ("train", "val")]
    lines += ["", "![extraction](plots/extraction.png)", ""]
    so = rep["sample_overlap"]
    lines += ["## Samples vs the training corpus", "",
              "| texts | n | median overlap | mean overlap | measured against |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {so[k]['n']} | {_f(so[k]['median_percent'], '.2f')}% | {_f(so[k]['mean_percent'], '.2f')}% | "
              f"{so[k]['reference']} |" for k in ("samples", "val_documents")]
    lines += ["", f"Samples: top-{so['samples']['top_k']}, up to {so['samples']['tokens']} tokens from "
              "<|endoftext|>. Overlap: share of a text's "
              f"{so['ngram']}-gram occurrences (GPT-2's normalisation) found in the reference.", "",
              "![sample overlap](plots/sample_overlap.png)", ""]
    if rep["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in rep["notes"]] + [""]
    return "\n".join(lines)


def html_page(md_text: str, rep: dict[str, Any]) -> str:
    """The Markdown's content as a standalone page (tables and images rendered)."""
    body, table = [], []

    def flush() -> None:
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
            cells = [[c.strip() for c in r.strip().strip("|").split("|")] for r in rows]
            head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
            rest = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells[1:])
            body.append(f"<table><tr>{head}</tr>{rest}</table>")
            table.clear()

    for line in md_text.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("!["):
            alt, src = line[2:].split("](")
            body.append(f'<img src="{html.escape(src.rstrip(")"))}" alt="{html.escape(alt)}">')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    flush()
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Generalization vs memorization"
            "</title>\n<style>body{font-family:sans-serif;max-width:72em;margin:2em auto}table{border-collapse:"
            "collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}img{max-width:100%}</style>"
            "</head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(out: Path, rep: dict[str, Any]) -> list[Path]:
    out = Path(out)
    files = plots(out, rep)
    md_text = markdown(rep)
    for name, text in (("report.md", md_text), ("report.html", html_page(md_text, rep)),
                       ("report.json", json.dumps(rep, indent=2, sort_keys=True, default=float))):
        atomic_write_bytes(out / name, text.encode())
        files.append(out / name)
    return files
