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
        # a meta title and JSON-LD (not read then): the meta tag's, as trafilatura
        '<meta name="title" content="From a meta name"><script type="application/ld+json">{"@context": '
        '"https://schema.org", "@type": "NewsArticle", "headline": "From JSON-LD"}</script>',
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


def test_xml_invalid_chars_are_the_ones_trafilatura_deletes():
    import re

    import trafilatura.utils

    from webtext.extract.worker import XML_INVALID_CHARS, XML_INVALID_PATTERN, xml_clean

    assert trafilatura.utils.INVALID_XML_CHARS.pattern == XML_INVALID_PATTERN  # else the child keeps trafilatura's
    pattern = re.compile(XML_INVALID_PATTERN)
    deleted = {c for c in map(chr, range(0x110000)) if pattern.search(c)}
    assert deleted == set(XML_INVALID_CHARS)
    for page in ("<p>plain ascii\n\t\r</p>", "<p>café</p>", "<p>\u0416 \u20ac</p>", "<p>\U0001f600</p>"):
        assert xml_clean(page)
        for c in XML_INVALID_CHARS:
            assert not xml_clean(page.replace("<p>", "<p>" + c, 1)), (page, c)


class _Spy:
    pattern = "spy"

    def __init__(self) -> None:
        self.scanned: list[str] = []

    def sub(self, repl: str, string: str, count: int = 0) -> str:
        self.scanned.append(string)
        return string.replace("\x01", repl)


def test_checked_page_skips_the_scan_only_for_the_page_marked_clean():
    from webtext.extract.worker import CheckedPage

    spy = _Spy()
    chars = CheckedPage(spy)
    page = "".join(["<p>", "clean", "</p>"])
    equal_copy = "".join(["<p>", "clean", "</p>"])
    chars.check(page)
    assert chars.sub("", page) is page and spy.scanned == []
    assert chars.sub("", equal_copy) == equal_copy and spy.scanned == [equal_copy]  # only that very string
    chars.check(None)
    assert chars.sub("", "<p>\x01x</p>") == "<p>x</p>"
    assert chars.sub("", page) == page and spy.scanned[-1] is page
    assert chars.pattern is spy and chars.__getattr__("pattern") == "spy"


def test_the_child_extracts_pages_with_and_without_control_characters_as_trafilatura():
    pages = [(0, normal(0), "http://news.test/0"),
             (1, normal(1).replace("<p>", "<p>\x0b\x1f\ufffe", 2), "http://news.test/1"),
             (2, dated(normal(2)), "http://news.test/2")]
    expected = {key: extract_text(html, url, ExtractSettings()) for key, html, url in pages}
    assert "\x0b" not in str(expected[1]) and expected[1] is not None
    with Extractor(ExtractSettings(), deadline=30.0) as extractor:
        assert {key: result for key, _, result in extractor.map(pages)} == expected
        assert extractor.extract(pages[1][1], pages[1][2]) == ("ok", expected[1])


def test_pages_sent_as_their_utf8_bytes_extract_as_the_text():
    # the stage passes the body a page was decoded from; the child must get back exactly the text (non-ASCII
    # characters, a character outside the BMP, a control character, a lone surrogate from a lenient decoder)
    texts = [normal(0).replace("<p>", "<p>Caf\u00e9 \u201cquoted\u201d \U0001f600 ", 2),
             normal(1).replace("<p>", "<p>\x0b\u2014", 1), normal(2).replace("<p>", "<p>\ud800 ", 1)]
    expected = {i: extract_text(html, None, ExtractSettings()) for i, html in enumerate(texts)}
    assert all(result is not None for result in expected.values())
    pages = [(i, html, None, html.encode("utf-8", "surrogatepass")) for i, html in enumerate(texts)]
    with Extractor(ExtractSettings(), deadline=30.0) as extractor:
        assert {key: result for key, _, result in extractor.map(pages)} == expected
        # without the bytes, the same
        assert {key: result for key, _, result in extractor.map([p[:3] for p in pages])} == expected


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


@pytest.fixture
def checked_chars():
    """trafilatura's ``INVALID_XML_CHARS`` replaced as in the extraction child, restored afterwards."""
    import trafilatura.utils

    from webtext.extract.worker import checked_page_chars

    original = trafilatura.utils.INVALID_XML_CHARS
    chars = checked_page_chars()
    assert chars is not None and trafilatura.utils.INVALID_XML_CHARS is chars
    yield chars
    trafilatura.utils.INVALID_XML_CHARS = original


@pytest.fixture
def fast_xpaths():
    """trafilatura's regex XPaths rewritten as in the extraction child, restored afterwards."""
    from webtext.extract.regex_xpaths import fast_regex_xpaths

    swaps = fast_regex_xpaths()
    assert len(swaps) > 0
    yield swaps
    swaps.undo()


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


def _real_pages() -> list[tuple[str, str]]:
    """(url, html) of the first 40 pages of the article-extraction-benchmark (real news pages) and a page wrapped in a
    form."""
    import gzip

    from realdata import shared_data

    from webtext.extract.decode import decode_html

    folder = shared_data("article-extraction-benchmark") / "html"
    pages = [(f"http://bench.test/{p.name}", decode_html(gzip.decompress(p.read_bytes()), "text/html")[0])
             for p in sorted(folder.glob("*.html.gz"))[:40]]
    pages.append(("http://news.test/forms", FORMS))
    return pages


def test_options_built_once_extract_what_trafilaturas_keywords_do():
    import trafilatura

    from webtext.extract.worker import page_options

    settings = ExtractSettings()
    for url, html in _real_pages()[:20]:
        by_keywords = trafilatura.bare_extraction(html, url=url, with_metadata=False, include_comments=False,
                                                  include_tables=True, deduplicate=False)
        with_options = trafilatura.bare_extraction(html, options=page_options(settings, url))
        assert (by_keywords is None) == (with_options is None), url
        if by_keywords is not None:
            assert with_options.text == by_keywords.text, url
    assert page_options(settings, "http://a.test/").url == "http://a.test/"
    assert page_options(settings, None).url is None  # a copy per page: the shared options keep no page's URL


def test_native_class_lookup_extracts_the_same_text(request):
    """Real news pages and a page wrapped in a form: text, title and date are the same with the child's C-level lookup
    as with lxml.html's own, with the child's page check (``CheckedPage``) as without, and with trafilatura's regex
    XPaths rewritten (``regex_xpaths``) as with its own."""
    from webtext.extract.worker import xml_clean

    pages = _real_pages()
    settings = ExtractSettings()
    expected = [extract_text(html, url, settings) for url, html in pages]
    assert sum(r is not None for r in expected) >= 35 and expected[-1] is not None
    request.getfixturevalue("native_lookup")
    assert [extract_text(html, url, settings) for url, html in pages] == expected
    chars = request.getfixturevalue("checked_chars")
    got = []
    for url, html in pages:  # as the child does: the page marked clean when it is
        chars.check(html if xml_clean(html) else None)
        got.append(extract_text(html, url, settings))
    assert got == expected
    request.getfixturevalue("fast_xpaths")
    assert [extract_text(html, url, settings) for url, html in pages] == expected
