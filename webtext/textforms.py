"""Constants that more than one stage must agree on: which responses are HTML, what a GPT-2 word is."""

from __future__ import annotations

import re

#: Content types the crawl keeps and extract parses (anything else is dropped as not HTML).
HTML_TYPES = ("text/html", "application/xhtml+xml")

#: GPT-2's n-gram normalisation (section 4): a word is a run of [a-z0-9] in the lower-cased text.
GPT2_WORD = re.compile(r"[a-z0-9]+")
