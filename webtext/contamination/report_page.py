"""The contamination report as one list of blocks (headings, paragraphs, tables, images) rendered
twice, as ``report.md`` and ``report.html``, so the two always carry the same tables and links.

Every string in a report can come from the web (URLs, document ids) or from a benchmark (example
text), so the HTML renderer escapes every text and attribute, and makes a link only of an
``http(s)://`` URL or of a relative path this module built itself; anything else (``javascript:``,
``data:``) is shown as text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

EXAMPLE_CHARS = 160  # a benchmark example is cut to this many characters in the report's table


@dataclass(frozen=True)
class Link:
    text: str
    href: str
    local: bool = False  # a relative path built here (quoted); other hrefs must be http(s) URLs


@dataclass(frozen=True)
class Code:
    text: str


Inline = str | Link | Code


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Para:
    parts: list[Inline]


@dataclass
class Table:
    head: list[str]
    rows: list[list[Inline]]
    numeric: list[bool]  # right-aligned columns
    row_headers: bool = False  # the first cell of a row labels it (GPT-2's Table 6)
    caption: str = ""


@dataclass
class Image:
    src: str
    alt: str


Block = Heading | Para | Table | Image


@dataclass
class Page:
    title: str
    blocks: list[Block] = field(default_factory=list)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}%"


def table6_rows(report: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """GPT-2's Table 6: a row for the benchmarks' own training splits (when given), one for this corpus."""
    b = report["benchmarks"]
    rows = []
    if any("train_overlap_percent" in e for e in b.values()):
        rows.append(("own training split", [_pct(e.get("train_overlap_percent")) for e in b.values()]))
    rows.append(("this corpus", [_pct(e["overlap_percent"]) for e in b.values()]))
    return rows


def _short(text: str, n: int = EXAMPLE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def page(report: dict[str, Any]) -> Page:
    names = list(report["benchmarks"])
    b = report["benchmarks"]
    c = report["corpus"]
    p = Page(f"Benchmark contamination ({report['ngram']}-gram overlap, {report['mode']} mode)")
    p.blocks += [
        Para([f"Normalisation: {report['normalisation']}. Overlap: {report['overlap_definition']}."]),
        Table(["", *names], [[label, *vals] for label, vals in table6_rows(report)],
              [False] + [True] * len(names), row_headers=True, caption="Overlap per benchmark (GPT-2's Table 6)"),
        Para([f"Corpus: {c['documents']:,} documents, {c['ngrams']:,} n-grams, {c['text_bytes'] / 1e6:,.1f} MB; "
              f"{c['contaminated_documents']:,} documents share n-grams with a benchmark."]),
        Table(["benchmark", "examples", "n-grams", "found", "contaminated examples"],
              [[n, f"{b[n]['examples']:,}", f"{b[n]['ngrams']:,}", f"{b[n]['found']:,}",
                f"{b[n]['contaminated_examples']:,}"] for n in names], [False, True, True, True, True]),
    ]
    if "bloom" in report:
        bl = report["bloom"]
        p.blocks.append(Para([
            f"Bloom filter: m = {bl['m_bits']:,} bits ({bl['bytes'] / 2**20:.1f} MiB), k = {bl['k']}, "
            f"{bl['items']:,} n-grams inserted"
            + (f" (sized for {bl['planned_distinct']:,} distinct)" if bl.get("planned_distinct") else "")
            + f", false-positive bound {bl['fp_bound']:.2e} (target {bl['fp_rate_target']:g}); "
            f"{bl['random_string_hits']} of {bl['random_strings']:,} random strings reported present. "
            "Exact overlap from the scan: " + ", ".join(f"{n} {_pct(b[n]['exact_overlap_percent'])}" for n in names)
            + "."]))
    p.blocks += [Image("plots/overlap.svg", "overlap per benchmark"),
                 Image("plots/per_example_overlap.svg", "per-example overlap")]
    p.blocks += [Heading(2, "Most contaminated documents"), Table(
        ["id", "benchmark", "n-gram hits", "fraction", "karma", "url"],
        [[str(d["id"]), d["benchmark"], f"{d['n_hits']:,}", f"{d['fraction']:.3f}",
          "" if d.get("karma") is None else str(d["karma"]), Link(d["url"], d["url"]) if d.get("url") else ""]
         for d in report["top_documents"]], [False, False, True, True, True, False])]
    top = report.get("top_examples", [])
    if top:
        p.blocks += [Heading(2, "Most contaminated benchmark examples"), Table(
            ["benchmark", "example", "n-grams", "found", "overlap", "text"],
            [[e["benchmark"], str(e["example"]), f"{e['n_ngrams']:,}", f"{e['n_found']:,}",
              _pct(e["overlap_percent"]), _short(e["text"])] for e in top],
            [False, True, True, True, True, False])]
    files = [Link(f"examples/{n}.parquet", f"examples/{quote(n)}.parquet", local=True) for n in names]
    p.blocks.append(Para(["Every benchmark example with its overlap: ", *_join(files), "; per-document hits: ",
                          Link("hits/", "hits/", local=True), "; all figures: ",
                          Link("report.json", "report.json", local=True), "."]))
    return p


def _join(links: list[Link]) -> list[Inline]:
    out: list[Inline] = []
    for i, link in enumerate(links):
        out += [", "] if i else []
        out.append(link)
    return out


# ---------------------------------------------------------------------------------------------
# Markdown


def _md_text(s: str) -> str:
    """A table cell or paragraph text: no line breaks, no cell separators, no raw HTML."""
    return re.sub(r"\s+", " ", s).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")


def _md_inline(part: Inline) -> str:
    if isinstance(part, Code):
        return f"`{part.text}`"
    if isinstance(part, Link):
        if part.local:
            return f"[{_md_text(part.text)}]({part.href})"
        return _md_text(part.text)  # a viewer links http(s) URLs itself; a foreign URL inside (...) can break out
    return _md_text(part)


def markdown(p: Page) -> str:
    lines = [f"# {p.title}", ""]
    for block in p.blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Para):
            lines += ["".join(_md_inline(x) for x in block.parts), ""]
        elif isinstance(block, Image):
            lines += [f"![{block.alt}]({block.src})", ""]
        else:
            cells = [[_md_inline(x) for x in row] for row in [block.head, *block.rows]]
            lines += ["|" + "|".join(f" {x} " if x else " " for x in row) + "|" for row in cells[:1]]
            lines.append("|" + "|".join("---:" if num else "---" for num in block.numeric) + "|")
            lines += ["|" + "|".join(f" {x} " if x else " " for x in row) + "|" for row in cells[1:]]
            lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# HTML

STYLE = """body{font-family:system-ui,sans-serif;max-width:72em;margin:2em auto;padding:0 1em;color:#222}
p{line-height:1.4}table{border-collapse:collapse;margin:1em 0}
caption{text-align:left;font-weight:600;padding:.3em 0;white-space:nowrap}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
thead th{background:#f3f3f3}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.text{max-width:40em}a{overflow-wrap:anywhere}.plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}img{max-width:100%;height:auto}"""


def _safe_href(link: Link) -> str | None:
    if link.local:
        return link.href
    low = link.href.strip().lower()
    if low.startswith(("http://", "https://")) and not any(ord(ch) < 0x20 for ch in link.href):
        return link.href.strip()
    return None


def _html_inline(part: Inline) -> str:
    e = html.escape
    if isinstance(part, Code):
        return f"<code>{e(part.text)}</code>"
    if isinstance(part, Link):
        href = _safe_href(part)
        if href is None:
            return e(part.text)
        rel = "" if part.local else ' rel="nofollow noopener noreferrer"'
        return f'<a href="{e(href, quote=True)}"{rel}>{e(part.text)}</a>'
    return e(part)


def _html_table(t: Table) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if t.numeric[i] else (' class="text"' if t.head[i] == "text" else "")

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(t.head))
    body = []
    for row in t.rows:
        cells = [f"<th scope=\"row\">{_html_inline(x)}</th>" if t.row_headers and i == 0
                 else f"<td{cls(i)}>{_html_inline(x)}</td>" for i, x in enumerate(row)]
        body.append("<tr>" + "".join(cells) + "</tr>")
    caption = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_page(p: Page) -> str:
    e = html.escape
    out = [f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>{e(p.title)}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>{e(p.title)}</h1>"]
    for i, block in enumerate(p.blocks):
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{e(block.text)}</h{block.level}>")
        elif isinstance(block, Para):
            out.append("<p>" + "".join(_html_inline(x) for x in block.parts) + "</p>")
        elif isinstance(block, Image):  # consecutive images side by side where the window is wide enough
            first = i == 0 or not isinstance(p.blocks[i - 1], Image)
            last = i + 1 == len(p.blocks) or not isinstance(p.blocks[i + 1], Image)
            out.append(('<div class="plots">' if first else "")
                       + f'<img src="{e(block.src, quote=True)}" alt="{e(block.alt, quote=True)}">'
                       + ("</div>" if last else ""))
        else:
            out.append(_html_table(block))
    return "\n".join(out) + "\n</body></html>\n"
