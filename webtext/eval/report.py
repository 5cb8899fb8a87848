"""``results.md`` and ``results.html``: Table 3's layout, our row beside the paper's four GPT-2 rows.

Reference numbers: Radford, Wu, Child, Luan, Amodei, Sutskever (2019), "Language Models are
Unsupervised Multitask Learners", Table 3 (zero-shot; perplexities, bits per byte/character,
accuracies in %). The paper's LAMBADA accuracy is with its stop-word filter (section 3.3), so our
row shows ``accuracy_stopword_filter`` there and plain greedy ``accuracy`` in the notes.
"""

from __future__ import annotations

import html
from typing import Any

#: Table 3 columns: (heading, canonical task, our metric, scale to the paper's unit).
COLUMNS: list[tuple[str, str, str, float]] = [
    ("LAMBADA (PPL)", "lambada", "perplexity", 1.0),
    ("LAMBADA (ACC)", "lambada", "accuracy_stopword_filter", 100.0),
    ("CBT-CN (ACC)", "cbt-cn", "accuracy", 100.0),
    ("CBT-NE (ACC)", "cbt-ne", "accuracy", 100.0),
    ("WikiText2 (PPL)", "wikitext2", "word_perplexity", 1.0),
    ("PTB (PPL)", "ptb", "word_perplexity", 1.0),
    ("enwik8 (BPB)", "enwik8", "bits_per_byte", 1.0),
    ("text8 (BPC)", "text8", "bits_per_character", 1.0),
    ("WikiText103 (PPL)", "wikitext103", "word_perplexity", 1.0),
    ("1BW (PPL)", "1bw", "word_perplexity", 1.0),
]

#: Radford et al. 2019, Table 3, in COLUMNS' order.
PAPER_TABLE3: dict[str, tuple[float, ...]] = {
    "GPT-2 117M": (35.13, 45.99, 87.65, 83.4, 29.41, 65.85, 1.16, 1.17, 37.50, 75.20),
    "GPT-2 345M": (15.60, 55.48, 92.35, 87.1, 22.76, 47.33, 1.01, 1.06, 26.37, 55.72),
    "GPT-2 762M": (10.87, 60.12, 93.45, 88.0, 19.93, 40.31, 0.97, 1.02, 22.05, 44.575),
    "GPT-2 1542M": (8.63, 63.24, 93.30, 89.05, 18.34, 35.76, 0.93, 0.98, 17.48, 42.16),
}
CITATION = ("Radford et al. (2019), Language Models are Unsupervised Multitask Learners, Table 3 "
            "(zero-shot; LAMBADA accuracy with the stop-word filter)")


def our_row(tasks: dict[str, dict[str, Any]], canonical: dict[str, str | None]) -> list[float | None]:
    """Our value for each Table 3 column (None where that task was not run)."""
    by_kind = {canonical[name]: metrics for name, metrics in tasks.items() if canonical.get(name)}
    row: list[float | None] = []
    for _, task, metric, scale in COLUMNS:
        value = by_kind.get(task, {}).get(metric)
        row.append(None if value is None else float(value) * scale)
    return row


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}" if abs(v) < 1000 else f"{v:,.0f}"


def _notes(results: dict[str, Any]) -> list[str]:
    w = results["windows"]
    notes = [
        f"Model: {results['model'].get('path')} ({results['model'].get('kind')}, sha256 "
        f"{str(results['model'].get('sha256'))[:12]}), {results['device']} {results['dtype']}.",
        f"Windows: context {w['context']}, stride {w['stride']} ({w['scheme']}); "
        f"contexts cut from the left: {sum(w['truncated_contexts'].values())}.",
    ]
    for name, metrics in results["tasks"].items():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
        notes.append(f"{name} ({results['examples'].get(name, 0):,} examples): {shown}")
    notes.append(f"Reference: {CITATION}.")
    return notes


def render_md(results: dict[str, Any], canonical: dict[str, str | None]) -> str:
    heads = ["Model", *[c[0] for c in COLUMNS]]
    lines = ["# Zero-shot results (GPT-2 Table 3 layout)", "", "| " + " | ".join(heads) + " |",
             "|" + "---|" * len(heads)]
    for label, values in PAPER_TABLE3.items():
        lines.append("| " + " | ".join([label, *(_fmt(v) for v in values)]) + " |")
    lines.append("| " + " | ".join(["**this model**", *(_fmt(v) for v in our_row(results["tasks"], canonical))])
                 + " |")
    lines += ["", *(f"- {n}" for n in _notes(results)), ""]
    return "\n".join(lines)


def render_html(results: dict[str, Any], canonical: dict[str, str | None]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c[0])}</th>" for c in COLUMNS)
    body = "".join(f"<tr><td>{esc(label)}</td>{''.join(f'<td>{_fmt(v)}</td>' for v in values)}</tr>"
                   for label, values in PAPER_TABLE3.items())
    ours = our_row(results["tasks"], canonical)
    body += f"<tr class=ours><td>this model</td>{''.join(f'<td>{_fmt(v)}</td>' for v in ours)}</tr>"
    notes = "".join(f"<li>{esc(n)}</li>" for n in _notes(results))
    return ("<!doctype html><meta charset=utf-8><title>webtext eval</title><style>body{font-family:sans-serif}"
            "td,th{padding:3px 8px;text-align:right}tr.ours{font-weight:bold;background:#eef}</style>"
            f"<h1>Zero-shot results (GPT-2 Table 3 layout)</h1><table><tr><th>Model</th>{head}</tr>{body}</table>"
            f"<ul>{notes}</ul>")
