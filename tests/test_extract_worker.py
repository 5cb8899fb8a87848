"""The watchdog ``Extractor``'s streaming ``map`` (order, deadlines, abandonment) and the cheap title/date extraction.

``map`` keeps one page in the child while the caller works: these tests pin that every page still gets exactly one
answer, in order, that a page missing its deadline costs only that page, and that a caller who stops early does not
leave an answer in the pipe to be read as the next page's.
"""

from __future__ import annotations

import time

import pytest
from test_extract_hostile import PARAGRAPHS, many_paragraphs, normal

from webtext.extract import cleaning
from webtext.extract.cleaning import QualityRules, drop_reason, language_of
from webtext.extract.worker import Extractor, ExtractSettings, extract_text

SLOW = many_paragraphs(60_000)  # ~2.4 MB: trafilatura needs seconds, far more than the 1 s deadline below

HEAD = (
    '<meta property="og:title" content="Night buses stay for another year">'
    '<meta property="article:published_time" content="2021-03-04T10:00:00Z">'
    '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle", '
    '"headline": "Council extends the night bus service", "datePublished": "2021-03-04"}</script>'
)


def dated(html: str) -> str:
    return html.replace("<head>", "<head>" + HEAD, 1)


def test_map_answers_every_page_in_order():
    pages = [(i, normal(i), f"http://news.test/{i}") for i in range(4)]
    pages.insert(2, ("empty", "<html><body></body></html>", "http://news.test/empty"))
    with Extractor(ExtractSettings(), deadline=30.0) as extractor:
        got = list(extractor.map(pages))
    assert [key for key, _, _ in got] == [0, 1, "empty", 2, 3]
    assert all(disposition == "ok" for _, disposition, _ in got)
    for key, _, result in got:
        if key == "empty":
            assert result is None
        else:
            assert result is not None and PARAGRAPHS[key % len(PARAGRAPHS)][:40] in result["text"]
            assert result["title"] == f"Local news {key}"


def test_map_a_late_page_costs_only_that_page():
    pages = [("a", normal(0), None), ("slow", SLOW, None), ("b", normal(1), None), ("c", normal(2), None)]
    with Extractor(ExtractSettings(), deadline=1.0) as extractor:
        extractor.start()
        extractor._wait_ready()  # the deadline is per page; start-up is not a page's
        start = time.perf_counter()
        got = {key: (disposition, result) for key, disposition, result in extractor.map(pages)}
        assert time.perf_counter() - start < 10
        assert got["slow"] == ("timeout", None)
        assert extractor.restarts == 1
        for key, i in (("a", 0), ("b", 1), ("c", 2)):
            disposition, result = got[key]
            assert disposition == "ok", key
            assert result is not None and PARAGRAPHS[i][:40] in result["text"]


def test_map_abandoned_midway_does_not_leak_an_answer():
    pages = [(i, normal(i), None) for i in range(4)]
    with Extractor(ExtractSettings(), deadline=30.0) as extractor:
        stream = extractor.map(pages)
        key, disposition, result = next(stream)
        assert (key, disposition) == (0, "ok")
        stream.close()  # page 1 is in the child by now: its answer must not become the next page's
        assert extractor._proc is None
        disposition, result = extractor.extract(normal(3))
        assert disposition == "ok"
        assert result is not None and PARAGRAPHS[3][:40] in result["text"]


def test_map_propagates_the_callers_error_and_stops_the_child():
    def pages():
        yield 0, normal(0), None
        yield 1, normal(1), None
        raise ValueError("unreadable input")

    with Extractor(ExtractSettings(), deadline=30.0) as extractor:
        seen = []
        with pytest.raises(ValueError, match="unreadable input"):
            for key, _, _ in extractor.map(pages()):
                seen.append(key)
        assert seen == [0]
        assert extractor._proc is None
        assert extractor.extract(normal(2))[0] == "ok"


def test_a_child_still_starting_is_killed_on_close():
    """``run_extract`` starts the child before it knows whether any shard is left: closing it then must not wait for
    trafilatura's imports."""
    extractor = Extractor(ExtractSettings())
    extractor.start()
    proc = extractor._proc
    assert proc is not None
    extractor.close()
    assert proc.returncode == -9 and extractor._proc is None


def test_title_and_date_as_trafilatura_finds_them():
    import trafilatura

    html = dated(normal(0))
    got = extract_text(html, "http://news.test/0", ExtractSettings())
    full = trafilatura.bare_extraction(
        html, url="http://news.test/0", with_metadata=True, include_comments=False, deduplicate=False,
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    assert got is not None and full is not None
    assert got["text"] == full.text
    assert got["title"] == full.title == "Night buses stay for another year"  # og:title first, as trafilatura
    assert got["date"] == full.date == "2021-03-04"


@pytest.mark.parametrize(
    "head",
    [
        "",  # <title> and the one <h1>
        '<meta name="title" content="From a meta name">',
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "From JSON-LD only"}</script>',
        '<meta name="twitter:title" content="From Twitter"><meta property="og:url" content="http://news.test/x">',
    ],
)
def test_title_matches_trafilaturas_metadata(head):
    import trafilatura

    html = normal(2).replace("<head>", "<head>" + head, 1)
    got = extract_text(html, "http://news.test/2", ExtractSettings())
    full = trafilatura.bare_extraction(html, url="http://news.test/2", with_metadata=True, include_comments=False,
                                       date_extraction_params={"extensive_search": False, "original_date": True})
    assert got is not None and full is not None
    assert (got["title"], got["date"]) == (full.title, full.date)


def test_title_falls_back_to_the_page():
    got = extract_text(normal(1), None, ExtractSettings())
    assert got is not None and got["title"] == "Local news 1"
    assert got["date"] is None


def test_dates_can_be_switched_off():
    got = extract_text(dated(normal(0)), None, ExtractSettings(dates=False))
    assert got is not None
    assert got["title"] == "Night buses stay for another year"
    assert got["date"] is None


def test_language_is_identified_once_per_text():
    # the stage asks twice for a kept text (the non_english rule, then the lang column): the second is a cache hit
    text = " ".join(PARAGRAPHS * 2)
    assert drop_reason(text, QualityRules(languages=("en",))) is None
    hits = cleaning._classify.cache_info().hits
    assert language_of(text)[0] == "en"
    assert cleaning._classify.cache_info().hits == hits + 1


FORMS = (
    "<html><head><title>Forms</title></head><body><form id='aspnetForm'><div><h1>A page inside a form</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</div><form><label>Search</label><input name='q'><select><option>all</option></select>"
    "<textarea>note</textarea></form></form><!-- a comment --></body></html>"
)


@pytest.fixture
def native_lookup():
    """lxml.html's element class lookup replaced as in the extraction child, restored afterwards."""
    from lxml.html import HtmlElementClassLookup

    from webtext.extract.worker import native_class_lookup, trafilatura_parsers

    for parser in trafilatura_parsers():
        parser.set_element_class_lookup(native_class_lookup())
    yield
    for parser in trafilatura_parsers():
        parser.set_element_class_lookup(HtmlElementClassLookup())


def _classes(html: str) -> list[tuple[str, str]]:
    from trafilatura.utils import load_html

    return [(str(e.tag), type(e).__name__) for e in load_html(html).iter()]


def test_native_class_lookup_gives_lxml_htmls_classes(request):
    html = FORMS.replace("<body>", "<body><FORM><INPUT name=x></FORM>", 1)
    expected = _classes(html)
    assert {"FormElement", "InputElement", "LabelElement", "SelectElement", "TextareaElement"} <= {
        c for _, c in expected}
    request.getfixturevalue("native_lookup")
    assert _classes(html) == expected


def test_native_class_lookup_extracts_the_same_text(request):
    """Real news pages (the first 40 of the article-extraction-benchmark) and a page wrapped in a form: text, title and
    date are the same with the child's C-level lookup as with lxml.html's own."""
    import gzip

    from realdata import shared_data

    from webtext.extract.decode import decode_html

    folder = shared_data("article-extraction-benchmark") / "html"
    pages = [(f"http://bench.test/{p.name}", decode_html(gzip.decompress(p.read_bytes()), "text/html")[0])
             for p in sorted(folder.glob("*.html.gz"))[:40]]
    pages.append(("http://news.test/forms", FORMS))
    settings = ExtractSettings()
    expected = [extract_text(html, url, settings) for url, html in pages]
    assert sum(r is not None for r in expected) >= 35 and expected[-1] is not None
    request.getfixturevalue("native_lookup")
    assert [extract_text(html, url, settings) for url, html in pages] == expected
