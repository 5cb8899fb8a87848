"""trafilatura's regex XPaths rewritten (``webtext.extract.regex_xpaths``): which calls get a guard, which XPaths are
rewritten at all, and that every rewritten trafilatura XPath selects exactly the elements its original selects."""

from __future__ import annotations

import random

import pytest
from lxml.etree import XPath

from webtext.extract.regex_xpaths import (
    EXSLT_REGEXP,
    fast_regex_xpaths,
    guarded_regex_tests,
    rewritable,
    rewritten,
)


def test_a_pattern_that_cannot_match_nothing_is_guarded_by_its_attributes():
    assert guarded_regex_tests("//*[re:test(@class, 'side|nav')]") == (
        "//*[((@class) and re:test(@class, 'side|nav'))]")
    assert guarded_regex_tests("//*[re:test(@id | @class, '^shar', 'i')]") == (
        "//*[((@id | @class) and re:test(@id | @class, '^shar', 'i'))]")


@pytest.mark.parametrize("path", [
    "//*[re:test(@class, 'x?')]",  # matches '': an element without the attribute is selected
    "//*[re:test(@class, '^')]",
    "//*[re:test(@class, 'a|')]",
    "//*[re:test(string(.), 'news')]",  # not an attribute
    "//*[re:test(@class, $pattern)]",  # not a literal
    "//*[re:test(@class, '(unclosed')]",  # not a pattern Python compiles
])
def test_other_calls_are_left_as_they_are(path):
    assert guarded_regex_tests(path) == path


def test_only_xpaths_that_select_elements_with_the_regex_prefix_alone_are_rewritten():
    assert rewritable(".//*[self::div][re:test(@class, 'a') or contains(@style, 'display:none')]")
    assert rewritable(".//aside|.//footer|.//*[re:test(@id, 'a')]")
    assert rewritable("(.//*[self::div][re:test(@class, 'a')])[1]")
    assert not rewritable(".//*[contains(@class, 'a')]")  # no regex: nothing to gain
    assert not rewritable(".//*[re:test(@class, 'a')]/@href")  # strings
    assert not rewritable(".//*[re:test(@class, 'a')]/text()")
    assert not rewritable("string(.//*[re:test(@class, 'a')])")
    assert not rewritable(".//*[re:test(@class, 'a') or x:f(.)]")  # another prefix: its binding is unknown


TAGS = ["div", "section", "span", "p", "list", "item", "aside", "article", "main", "details", "ol", "ul", "h1",
        "h2", "a", "footer", "script"]
VALUES = ["", " ", "sidebar", "share-this", "sharing", "post-share", "nav", "Navigation", "cookie-banner",
          "COOKIE_NOTICE", "cookie\u212a", "comments-title", "hide-me", "x-hide-y", " hidden", "hidden", "display:none",
          "reply-to", "akismet", "entry-title", "headline", "post__title", "mvp-post-add-box", "infinite-scroll",
          "elementor-share-buttons", "author", "byline", "tags", "meta", "post-info", "article", "content",
          "main-content", "ZendeskForm", "jp-relatedposts", "bread-crumb", "breadcrumb", "\u00e9t\u00e9 footer"]


def _random_page(rng: random.Random) -> str:
    def element(depth: int) -> str:
        tag = rng.choice(TAGS)
        attrs = "".join(f' {name}="{rng.choice(VALUES)}"' for name in rng.sample(
            ["id", "class", "style", "role", "data-component", "aria-hidden"], rng.randint(0, 3)))
        children = "".join(element(depth + 1) for _ in range(rng.randint(0, 3 if depth < 4 else 0)))
        return f"<{tag}{attrs}>text {children}</{tag}>tail "

    return "<html><head><title>t</title></head><body>" + "".join(element(0) for _ in range(12)) + "</body></html>"


def _trafilatura_regex_xpaths() -> list[XPath]:
    import sys

    import trafilatura.metadata  # noqa: F401 - trafilatura's modules, every one that holds XPaths

    found: dict[int, XPath] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("trafilatura"):
            continue
        for value in vars(module).values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, XPath) and "re:test(" in item.path:
                    found[id(item)] = item
    return list(found.values())


def test_every_rewritten_trafilatura_xpath_selects_the_same_elements():
    from trafilatura.utils import load_html

    xpaths = _trafilatura_regex_xpaths()
    assert len(xpaths) >= 15 and all(rewritable(x.path) for x in xpaths)
    pairs = [(x, rewritten(x)) for x in xpaths]
    assert all(new.path != x.path for x, new in pairs)  # each has a call the guard applies to
    rng = random.Random(19)
    selected = 0
    for _ in range(60):
        tree = load_html(_random_page(rng))
        for original, new in pairs:
            expected = original(tree)
            assert new(tree) == expected, original.path
            selected += len(expected)
    assert selected > 500  # the pages do exercise the patterns


def test_the_regex_prefix_is_exslt_in_trafilatura():
    from trafilatura.xpaths import REGEXP_NS

    assert REGEXP_NS == EXSLT_REGEXP


def test_swapped_into_trafilatura_once_and_undone():
    import sys

    import trafilatura.settings
    import trafilatura.xpaths

    baseline = sys.modules["trafilatura.baseline"]  # the package's ``baseline`` attribute is its function
    original_clean = trafilatura.settings.BASIC_CLEAN_XPATH
    original_discard = list(trafilatura.xpaths.OVERALL_DISCARD_XPATH)
    swaps = fast_regex_xpaths()
    try:
        assert len(swaps) >= 15
        # a constant imported by name into another module gets the same replacement there
        assert trafilatura.settings.BASIC_CLEAN_XPATH is baseline.BASIC_CLEAN_XPATH is not original_clean
        # lists are changed in place: the modules that imported them see the rewritten XPaths
        assert original_discard != trafilatura.xpaths.OVERALL_DISCARD_XPATH
        assert len(fast_regex_xpaths()) == 0
    finally:
        swaps.undo()
    assert trafilatura.settings.BASIC_CLEAN_XPATH is baseline.BASIC_CLEAN_XPATH is original_clean
    assert original_discard == trafilatura.xpaths.OVERALL_DISCARD_XPATH
