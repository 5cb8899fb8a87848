"""trafilatura's regular-expression XPaths, rewritten so that most elements never call back into Python.

trafilatura prunes boilerplate with XPaths such as ``.//*[self::div ...][re:test(@class, 'sidebar|banner|...')]``.
``re:test`` is EXSLT's regex test, which lxml implements as a Python callback: libxml2 calls it for every element the
step visits, whether or not the element has the attribute, and lxml builds the arguments (a "smart" string that holds
a proxy of the attribute's element) for each call. On real news pages that is 0.6-1.9 million callbacks per XPath
over 774 pages, three quarters of them for elements without the attribute, and these XPaths were a quarter of the
extraction's time.

Two rewrites keep every XPath's result exactly the same:

- ``re:test(@a, 'p')`` becomes ``((@a) and re:test(@a, 'p'))`` when ``p`` cannot match the empty string. lxml's
  ``re:test`` searches the string value of its node-set argument, which is ``''`` for an element without the
  attribute; a pattern that does not match ``''`` then answers false, which is what the guard answers without the
  callback (XPath's ``and`` does not evaluate its right side when the left is false). Patterns that match ``''``, and
  calls whose arguments are not an attribute (or a union of attributes) and string literals, are left as they are.
- The XPath is compiled with ``smart_strings=False``: its results are elements either way (only XPaths whose last
  step selects elements are rewritten), and the callback's arguments become plain strings.

``fast_regex_xpaths`` swaps the rewritten XPaths into trafilatura's modules (module constants, and lists of XPaths in
place, which other modules share by reference); it is called once in the extraction child.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from typing import Any

EXSLT_REGEXP = "http://exslt.org/regular-expressions"

#: ``re:test(ATTRS, 'pattern')`` or ``re:test(ATTRS, 'pattern', 'flags')`` with ATTRS ``@name`` or ``@a|@b|...``
_RE_TEST = re.compile(r"re:test\(\s*(@[\w-]+(?:\s*\|\s*@[\w-]+)*)\s*,\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)")
#: a namespace prefix in an XPath (``re:test``), not an axis (``self::div``); string literals are removed first
_PREFIX = re.compile(r"(?<![\w.:-])([A-Za-z_][\w.-]*):(?!:)")
_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"")
#: outside its predicates, an XPath that selects only elements has no attribute step and calls no function
#: (``text()``, ``string(...)``...)
_NOT_ELEMENTS = re.compile(r"@|[\w-]\s*\(")


def _cannot_match_empty(pattern: str, flags: str) -> bool:
    """Whether ``pattern`` (compiled as lxml compiles ``re:test``'s: re.UNICODE, re.IGNORECASE for an ``i`` flag)
    finds nothing in the empty string; False for a pattern Python cannot compile (lxml would fail on it too)."""
    try:
        compiled = re.compile(pattern, re.UNICODE | (re.IGNORECASE if "i" in flags else 0))
    except re.error:
        return False
    return compiled.search("") is None


def guarded_regex_tests(path: str) -> str:
    """``path`` with each ``re:test(@attr..., 'pattern'[, 'flags'])`` whose pattern cannot match ``''`` behind a
    test that the attribute exists."""

    def guard(match: re.Match[str]) -> str:
        attrs, pattern, flags = match.group(1), match.group(2), match.group(3) or ""
        if not _cannot_match_empty(pattern, flags):
            return match.group(0)
        return f"(({attrs}) and {match.group(0)})"

    return _RE_TEST.sub(guard, path)


def rewritable(path: str) -> bool:
    """An XPath this module rewrites: it calls ``re:test``, uses no other prefix than ``re`` (bound to EXSLT's
    regular expressions, as trafilatura binds it), and selects elements."""
    if "re:test(" not in path:
        return False
    if {m.group(1) for m in _PREFIX.finditer(_LITERAL.sub("''", path))} != {"re"}:
        return False
    return _NOT_ELEMENTS.search(_outside_predicates(path)) is None


def _outside_predicates(path: str) -> str:
    """``path`` without its predicates (``[...]``, nested ones included)."""
    kept, depth = [], 0
    for char in path:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


def rewritten(xpath: Any) -> Any:
    """The XPath equal to ``xpath`` with guarded ``re:test`` calls and plain-string callback arguments."""
    from lxml.etree import XPath

    return XPath(guarded_regex_tests(xpath.path), namespaces={"re": EXSLT_REGEXP}, smart_strings=False)


@dataclass
class XPathSwaps:
    """The XPaths swapped into modules: (container, key, original, rewritten), where the container is a module
    (``key`` an attribute name) or a list (``key`` an index). ``undo`` puts the originals back."""

    swaps: list[tuple[Any, str | int, Any, Any]]

    def undo(self) -> None:
        for container, key, original, _ in self.swaps:
            _INSTALLED.pop(id(original), None)
            if isinstance(key, int):
                container[key] = original
            else:
                setattr(container, key, original)

    def __len__(self) -> int:
        return len(self.swaps)


def fast_regex_xpaths(prefix: str = "trafilatura") -> XPathSwaps:
    """Swap every rewritable XPath held by the loaded modules named ``prefix`` or ``prefix.*`` (as a module constant
    or in a module-level list) for its rewritten equal. The same XPath object gets the same replacement everywhere;
    an XPath swapped before is left alone."""
    from lxml.etree import XPath

    made: dict[int, Any] = {}
    done = {id(new) for new in _INSTALLED.values()}
    swaps: list[tuple[Any, str | int, Any, Any]] = []

    def replacement(xpath: Any) -> Any | None:
        if id(xpath) in done or not rewritable(xpath.path):
            return None
        if id(xpath) not in made:
            made[id(xpath)] = rewritten(xpath)
        return made[id(xpath)]

    modules = [m for name, m in list(sys.modules.items())
               if m is not None and (name == prefix or name.startswith(prefix + "."))]
    seen_lists: set[int] = set()
    for module in modules:
        for name, value in list(vars(module).items()):
            if isinstance(value, XPath):
                new = replacement(value)
                if new is not None:
                    swaps.append((module, name, value, new))
                    setattr(module, name, new)
            elif isinstance(value, list) and id(value) not in seen_lists:
                seen_lists.add(id(value))
                for i, item in enumerate(value):
                    if isinstance(item, XPath) and (new := replacement(item)) is not None:
                        swaps.append((value, i, item, new))
                        value[i] = new
    for _, _, original, new in swaps:
        _INSTALLED[id(original)] = new
    return XPathSwaps(swaps)


#: id(original XPath) -> its replacement, for every swap made in this process (so a second call swaps nothing twice)
_INSTALLED: dict[int, Any] = {}
