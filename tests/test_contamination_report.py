"""The contamination report's pages and plots, from a report dict (no scan needed): report.html
carries every table and link of report.md, web and benchmark strings cannot inject markup, the
plots keep their labels inside the figure and the fully contained examples visible; and (slow) a
real headless Chromium renders the page with its tables and images.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from webtext.contamination.report import top_examples, write_report
from webtext.contamination.report_page import html_page, markdown, page
from webtext.contamination.report_plots import (
    BINS,
    PANEL,
    Box,
    nice_ticks,
    overlap_counts,
    overlap_figure,
    per_example_figure,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE_URLS = [
    "javascript:alert(1)",
    " JaVaScRiPt:alert(2)",
    "data:text/html,<script>alert(3)</script>",
    'http://evil.example/"><script>document.title="PWNED"</script>',
    "https://evil.example/a?b=1&c=<img src=x onerror=alert(4)>",
]


def make_report(names=("wikitext2", "ptb"), train: bool = True, hostile: bool = False) -> dict:
    rng = np.random.default_rng(3)
    benchmarks = {}
    for i, n in enumerate(names):
        per_ex = [0.0] * 180 + [100.0] * (7 + i) + list(rng.uniform(1, 99, 12)) + [None] * 5
        e = {"examples": len(per_ex), "ngrams": 4000 + i, "distinct_ngrams": 3900, "found": 300 + i,
             "overlap_percent": 7.5 + i, "exact_overlap_percent": 7.5 + i,
             "contaminated_examples": sum(1 for v in per_ex if v), "per_example_overlap": per_ex}
        if train:
            e["train_overlap_percent"] = 2.25 + i
        benchmarks[n] = e
    urls = HOSTILE_URLS if hostile else [f"http://corpus.example/d{i}" for i in range(5)]
    docs = [{"id": f"d{i}" if not hostile else f'<img src=x onerror="document.title=1">{i}', "benchmark": names[0],
             "n_hits": 100 - i, "n_ngrams": 400, "fraction": 0.25, "karma": None if i == 2 else 10 + i, "url": u}
            for i, u in enumerate(urls)]
    docs.append({"id": "nourl", "benchmark": names[-1], "n_hits": 1, "n_ngrams": 9, "fraction": 0.1, "karma": 3,
                 "url": None})
    text = ("</td></tr></table><script>document.title='PWNED'</script> | pipe ` tick\nnew line"
            if hostile else "the quick brown fox jumps over the lazy dog again and again")
    top = [{"benchmark": n, "example": 4, "n_ngrams": 30, "n_found": 30, "overlap_percent": 100.0, "text": text}
           for n in names]
    return {
        "mode": "bloom", "ngram": 8, "normalisation": "GPT-2: lower-cased [a-z0-9]+ words, single spaces",
        "overlap_definition": "share of the test set's n-gram occurrences whose n-gram occurs in the corpus",
        "corpus": {"documents": 1234, "ngrams": 567_890, "text_bytes": 3_400_000, "contaminated_documents": 17},
        "benchmarks": benchmarks,
        "bloom": {"m_bits": 1 << 20, "k": 20, "bytes": 1 << 17, "items": 567_890, "planned_distinct": 560_000,
                  "fp_rate_target": 1e-8, "fp_bound": 3.2e-9, "fill_ratio": 0.4, "random_strings": 1000,
                  "random_string_hits": 0, "file": "corpus.bloom"},
        "top_documents": docs, "top_examples": top,
    }


class Tree(HTMLParser):
    """Tables (rows of cell texts), start tags with their attributes, and links of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[str]]] = []
        self.tags: list[tuple[str, dict]] = []
        self.links: list[tuple[str, str]] = []
        self._cell: list[str] | None = None
        self._link: list[str] | None = None
        self._href = ""
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "a":
            self._link, self._href = [], a.get("href", "")

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "a" and self._link is not None:
            self.links.append(("".join(self._link), self._href))
            self._link = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._link is not None:
            self._link.append(data)


def parse_html(text: str) -> Tree:
    t = Tree()
    t.feed(text)
    t.close()
    return t


def md_tables(text: str) -> list[list[list[str]]]:
    """Markdown tables as rows of unescaped cell texts (the |---| line left out)."""
    tables: list[list[list[str]]] = []
    prev = False
    for line in text.splitlines():
        is_row = line.startswith("|") and line.endswith("|")
        if is_row and not re.fullmatch(r"\|(-+:?\|)+", line):
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line[1:-1])]
            cells = [c.replace("\\|", "|").replace("\\\\", "\\").replace("&lt;", "<") for c in cells]
            if not prev:
                tables.append([])
            tables[-1].append(cells)
        prev = is_row
    return tables


def test_html_has_every_table_and_cell_of_the_markdown():
    report = make_report()
    p = page(report)
    md, html = markdown(p), html_page(p)
    tree = parse_html(html)
    assert md_tables(md) == tree.tables
    assert len(tree.tables) == 4  # Table 6, examples/n-grams/found, top documents, top examples
    assert tree.tables[0] == [["", "wikitext2", "ptb"], ["own training split", "2.25%", "3.25%"],
                              ["this corpus", "7.50%", "8.50%"]]
    assert tree.tables[1][0] == ["benchmark", "examples", "n-grams", "found", "contaminated examples"]
    assert tree.tables[1][1] == ["wikitext2", "204", "4,000", "300", "19"]
    for sentence in ("Corpus: 1,234 documents", "Bloom filter: m = 1,048,576 bits", "Exact overlap from the scan"):
        assert sentence in md and sentence in html
    for img in ("plots/overlap.svg", "plots/per_example_overlap.svg"):
        assert f"]({img})" in md and ("img", {"src": img}) in [(t, {"src": a.get("src")}) for t, a in tree.tags]
    hrefs = {href for _, href in tree.links}
    assert {f"http://corpus.example/d{i}" for i in range(5)} <= hrefs  # the documents' URLs are links
    assert {"examples/wikitext2.parquet", "examples/ptb.parquet", "hits/", "report.json"} <= hrefs
    assert "[examples/ptb.parquet](examples/ptb.parquet)" in md


def test_without_bloom_training_splits_or_hits():
    report = make_report(names=("quiz",), train=False)
    del report["bloom"]
    report["top_documents"], report["top_examples"] = [], []
    p = page(report)
    md, tree = markdown(p), parse_html(html_page(p))
    assert md_tables(md) == tree.tables and tree.tables[0] == [["", "quiz"], ["this corpus", "7.50%"]]
    assert "own training split" not in md and "Bloom" not in md and "Most contaminated benchmark" not in md


def test_hostile_urls_ids_and_benchmark_text_cannot_inject_markup():
    report = make_report(hostile=True)
    p = page(report)
    html, md = html_page(p), markdown(p)
    tree = parse_html(html)
    assert tree.scripts == 0 and "<script" not in html.lower()
    allowed = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "div", "table", "caption", "thead",
               "tbody", "tr", "th", "td", "a", "img", "code"}
    assert {t for t, _ in tree.tags} <= allowed
    assert not [(t, k) for t, a in tree.tags for k in a if k.startswith("on")]
    for _, href in tree.links:
        assert href.startswith(("http://", "https://")) or ":" not in href, href
    hrefs = [h for _, h in tree.links]
    assert HOSTILE_URLS[3] in hrefs and HOSTILE_URLS[4] in hrefs  # http(s) stay links, escaped in the attribute
    assert not any("javascript" in h.lower() or h.startswith("data:") for h in hrefs)
    docs = tree.tables[2]
    assert [r[5] for r in docs[1:6]] == [u.strip() for u in HOSTILE_URLS]  # shown as text, unchanged
    assert docs[1][0] == report["top_documents"][0]["id"]  # the id's markup is text
    assert tree.tables[3][1][5].startswith("</td></tr></table><script>")  # the benchmark text, as text
    assert len(tree.tables) == 4 and md_tables(md) == tree.tables
    assert "<script" not in md and "<img" not in md


def test_top_examples_highest_overlap_then_most_found():
    counts = np.array([10, 20, 5, 0, 40, 20])
    found = np.array([5, 20, 5, 0, 30, 20])
    with np.errstate(invalid="ignore", divide="ignore"):
        overlap = np.where(counts > 0, 100.0 * found / counts, np.nan)
    texts = [f"t{i}" for i in range(6)]
    top = top_examples("b", found, counts, overlap, texts, n=4)
    assert [e["example"] for e in top] == [1, 5, 2, 4]  # 100% (20 found, then index), 100% (5), 75%
    assert top[0] == {"benchmark": "b", "example": 1, "n_ngrams": 20, "n_found": 20, "overlap_percent": 100.0,
                      "text": "t1"}
    assert top_examples("b", np.zeros(6, np.int64), counts, overlap, texts) == []


def test_overlap_counts_bins():
    zero, counts = overlap_counts([0.0, 0.0, None, 0.5, 9.99, 10.0, 55.0, 99.9, 100.0, 100.0, 100.0])
    assert zero == 2 and len(counts) == len(BINS) == 11
    assert counts.tolist() == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1, 3]


def _drawn_inside(d) -> None:
    """Every element's box (text from its width estimate, turned with it) lies within the picture."""
    outside = [(role, b) for role, boxes in d.boxes.items() for b in boxes if not b.inside(d.width, d.height)]
    assert not outside, (outside[:5], d.width, d.height)


def _svg(d) -> ET.Element:
    root = ET.fromstring(d.svg())  # well-formed XML, whatever the benchmark names hold
    assert root.get("viewBox") == f"0 0 {d.width} {d.height}"
    return root


def _bars(root: ET.Element) -> list[dict[str, str]]:
    return [r.attrib for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]


@pytest.mark.parametrize("names", [("wikitext2",), ("wikitext2", "ptb", "lambada", "cbt-named")])
def test_plots_keep_labels_inside_and_the_legend_off_the_bars(names):
    report = make_report(names=names)
    d = overlap_figure(report)
    _drawn_inside(d)
    bars, legend = d.boxes["bar"], d.boxes["legend"]
    assert len(bars) == 2 * len(names) and len(legend) == 4  # two series, a swatch and a label each
    assert not any(a.overlaps(b) for a in legend for b in bars)
    assert min(b.x0 for b in legend) >= max(b.x1 for b in bars)  # beside the data, not over it
    values = [float(a["data-value"]) for a in _bars(_svg(d))]
    want = [v for n in names for v in (report["benchmarks"][n]["overlap_percent"],
                                       report["benchmarks"][n]["train_overlap_percent"])]
    assert values == pytest.approx(want)
    heights = [b.y1 - b.y0 for b in bars]
    assert heights == pytest.approx([max(heights) * v / max(want) for v in want])  # one linear axis from 0

    d = per_example_figure(report)
    _drawn_inside(d)
    root = _svg(d)
    titles = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "title"]
    for k, name in enumerate(names):
        panel = [a for a in _bars(root) if a["data-panel"] == str(k)]
        heights = [float(a["height"]) for a in panel]
        zero, counts = overlap_counts(report["benchmarks"][name]["per_example_overlap"])
        assert [int(a["data-count"]) for a in panel] == counts.tolist() and counts[-1] >= 7
        assert heights == pytest.approx([max(heights) * c / counts.max() for c in counts], abs=0.02)  # linear from 0
        assert panel[-1]["fill"] != panel[0]["fill"]  # the fully contained examples: a bar of their own colour
        assert max(heights) > 0.5 * PANEL[1]  # the axis is scaled to them, not to the 180 at 0
        assert any(f"{zero:,} with none" in t for t in titles) and any(t.startswith(f"{name}: ") for t in titles)


def test_plot_text_is_escaped_and_long_names_shrink_to_their_slot():
    names = ("<b>&amp;</b>", "a-benchmark-name-much-longer-than-its-slot-in-the-figure")
    report = make_report(names=names)
    for d in (overlap_figure(report), per_example_figure(report)):
        _drawn_inside(d)
        texts = [t.text for t in _svg(d).iter(f"{SVG}text")]
        assert any(t and t.startswith("<b>&amp;</b>") for t in texts)  # text, not markup
    d = overlap_figure(report)
    labels = d.boxes["xtick"]
    assert len(labels) == 2 and not any(a.overlaps(b) for i, a in enumerate(labels) for b in labels[i + 1:])


def test_nice_ticks():
    assert nice_ticks(0.0) == [0.0]
    assert nice_ticks(10.0) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert nice_ticks(0.7) == pytest.approx([0.0, 0.2, 0.4, 0.6])
    assert nice_ticks(3.45, integer=True) == [0.0, 1.0, 2.0, 3.0]
    assert nice_ticks(215.0, integer=True) == [0.0, 50.0, 100.0, 150.0, 200.0]
    assert Box(0, 0, 2, 2).overlaps(Box(1, 1, 3, 3)) and not Box(0, 0, 1, 1).overlaps(Box(1, 0, 2, 1))


# ---------------------------------------------------------------------------------------------
# A real browser

PROBE = """<script>window.addEventListener('load', () => {
  for (const i of document.images) i.setAttribute('data-natural', i.naturalWidth + 'x' + i.naturalHeight);
  document.body.setAttribute('data-title', document.title);
  document.body.setAttribute('data-loaded', 'yes');
});</script>"""


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the page is not rendered")


def _run(browser: str, profile: Path, *args: str) -> str:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           f"--user-data-dir={profile}", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    from PIL import Image

    browser = _chromium()
    out = tmp_path / "report"
    report = make_report(hostile=True)
    write_report(out, report)
    page_file = out / "report.html"
    want = parse_html(page_file.read_text())
    # A copy with a probe script that records, after load, each image's decoded size and the title
    # (an injected script would have changed it): --dump-dom then shows what the browser built.
    probe = out / "probe.html"
    probe.write_text(page_file.read_text().replace("</body>", PROBE + "</body>"))
    dom = _run(browser, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    got = parse_html(dom)
    body = next(a for t, a in got.tags if t == "body")
    assert body.get("data-loaded") == "yes" and body.get("data-title") == p_title(report)
    assert got.tables == want.tables and len(got.tables) == 4 and len(got.tables[2]) == 7
    images = [a for t, a in got.tags if t == "img"]
    assert [a["src"] for a in images] == ["plots/overlap.svg", "plots/per_example_overlap.svg"]
    for a in images:
        w, h = map(int, a["data-natural"].split("x"))
        assert w > 300 and h > 200, a  # decoded, not a broken-image icon
    assert got.scripts == 1  # only the probe

    shot = tmp_path / "report.png"
    _run(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,2400", page_file.as_uri())
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    assert pixels.shape[:2] == (2400, 1200)
    assert pixels.std() > 20  # not blank
    r, b = pixels[..., 0], pixels[..., 2]
    assert ((b - r > 60) & (b > 120)).sum() > 5_000  # the plots' blue bars were painted (and links)
    assert ((r - b > 80) & (r > 150)).sum() > 500  # the red bar of the fully contained examples


def p_title(report: dict) -> str:
    return page(report).title


@pytest.mark.parametrize("n", [0, 1, 3, 7, 50])
def test_top_documents_equal_arrows_sort(n):
    """``top_documents`` sorts without pyarrow.compute: the same rows, in the same order, as ``Table.sort_by`` (ties
    in hits and id included), on chunked columns too."""
    import random

    import pyarrow as pa

    from webtext.contamination.report import top_documents

    rng = random.Random(n)
    rows = [{"id": f"d{rng.randrange(8)}", "benchmark": rng.choice(["a", "b"]), "n_hits": rng.randrange(1, 5)}
            for _ in range(40)]
    table = pa.concat_tables([pa.Table.from_pylist(rows[:25]), pa.Table.from_pylist(rows[25:])])
    expected = table.sort_by([("n_hits", "descending"), ("id", "ascending")]).slice(0, n).to_pylist() if n else []
    assert top_documents(table, n) == expected
    assert top_documents(table.slice(0, 0), n) == []
