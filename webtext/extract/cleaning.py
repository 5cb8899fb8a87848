"""GPT-2's "heuristic based cleaning" of extracted documents: each rule a named, counted, configurable drop reason.

``drop_reason(text, rules)`` returns the name of the FIRST rule the text fails, or ``None`` to keep it. The rules run
cheapest-first, in this documented order (a text failing several is counted under the earliest):

1. ``too_few_words``     fewer than ``min_words`` words (whitespace tokens; CJK characters count one each, since those
                         scripts do not separate words). OpenWebText dropped documents under 128 GPT-2 tokens; news
                         prose is ~1.36 tokens/word, so 80 words ~= 110 tokens (a little under, to keep short real
                         news: measured on 127 human-checked news/blog article bodies, see tests).
2. ``interstitial``      a short text (< ``interstitial_max_words``) that matches a known junk phrase: "enable
                         JavaScript", "verify you are human", "checking your browser", cookie/consent walls, "access
                         denied", "403 Forbidden", "404 not found", ... (the known OpenWebText junk). Only short texts
                         are searched, so a real article that mentions cookies or CAPTCHAs is not dropped.
3. ``non_prose_symbols`` more than ``max_symbol_ratio`` of the non-space characters are neither letters nor common
                         punctuation (digits, ``$ % | = + # @ * < > _ ~`` ...): tables, code, number dumps.
4. ``non_prose_lines``   more than ``max_unpunctuated_lines`` of the words are on lines that do not end in sentence
                         punctuation (the last line excepted: it may be truncated): menus, link lists, tag clouds.
5. ``repeated_lines``    more than ``max_repeated_lines`` of the words are on lines that repeat an earlier line.
6. ``non_english``       the detected language (py3langid, model shipped in its wheel) is not in ``languages``; texts
                         under ``min_language_words`` words are not tested; ``languages=()`` keeps every language.

Line shares are weighted by words, not counted per line: real articles carry many short unpunctuated lines
(headings, "June 9 -- Tampa, FL" tour dates, "See it now: Amazon") that a per-line share counts as heavily as a
paragraph; weighted by words the worst of 113 real English articles is 0.49 unpunctuated, a menu is ~1.0.

Repeated lines: a real meal-plan article ("Eat every 2-3 hours" x18) has 0.56 of its words on repeated lines, the
worst of the 113; a page of one repeated line is ~1.0.

Everything here is pure; the language identifier is built once, lazily, and cached for the process.
"""

from __future__ import annotations

import re
import string
import threading
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "DROP_REASONS", "QualityRules", "drop_reason", "language_of", "preload_language_model", "tests_language",
    "text_rules",
]

DROP_REASONS: tuple[str, ...] = (
    "too_few_words",
    "interstitial",
    "non_prose_symbols",
    "non_prose_lines",
    "repeated_lines",
    "non_english",
)


@dataclass(frozen=True)
class QualityRules:
    """Thresholds of the cleaning rules; the defaults keep >= 97% of real English news articles (see module doc)."""

    min_words: int = 80
    """Fewer words than this: ``too_few_words`` (0 disables)."""
    max_symbol_ratio: float = 0.15
    """Share of non-space characters that are neither letters nor common punctuation (digits and symbols)."""
    max_unpunctuated_lines: float = 0.60
    """Share of words on lines not ending in sentence punctuation (. ! ? " ' ) : ; … and the like)."""
    max_repeated_lines: float = 0.60
    """Share of words on lines that repeat an earlier line (compared stripped and case-folded)."""
    drop_interstitials: bool = True
    """Drop short texts matching known junk phrases (JavaScript/cookie walls, bot checks, error pages)."""
    interstitial_max_words: int = 300
    """Only texts with fewer words than this are searched for interstitial phrases."""
    languages: tuple[str, ...] = ("en",)
    """ISO 639-1 codes to keep; empty keeps any language."""
    min_language_words: int = 20
    """Texts with fewer words are not language-tested."""


# --- words -----------------------------------------------------------------------------------------------------------

# Han, Hiragana, Katakana, Hangul: scripts written without spaces between words.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _word_count(text: str, enough: int, tokens: int | None = None) -> int:
    """Whitespace tokens (``tokens``, if the caller has counted them); when under ``enough``, CJK characters are added,
    one word each (only then: it is slower)."""
    n = len(text.split()) if tokens is None else tokens
    if n < enough:
        n += len(_CJK.findall(text))
    return n


# --- symbols ---------------------------------------------------------------------------------------------------------

# A character that is not a letter, not whitespace and not common prose punctuation (so digits and symbols).
_SYMBOL = re.compile(
    r"[\d_]|[^\w\s"  # digits and underscore; else anything but letters, spaces and:
    r""".,;:!?'"()\[\]\-/&"""  # ASCII prose punctuation
    r"\u00a0\u00ab\u00bb\u2010-\u2015\u2018-\u201f\u2026"  # no-break space, guillemets, dashes, curly quotes, …
    r"\u3000-\u303f\u30fb\uff01\uff08\uff09\uff0c\uff0e\uff1a\uff1b\uff1f]"  # CJK punctuation
)


# ASCII letters, whitespace and prose punctuation: deleted bytewise first (fast), so the regex only sees the rest.
# Deleting ASCII bytes keeps UTF-8 valid: they never occur inside a multi-byte sequence.
_ASCII_PROSE = (string.ascii_letters + string.whitespace + """.,;:!?'"()[]-/&""").encode()


def _symbol_ratio(text: str) -> float:
    non_space = len("".join(text.split()))
    if not non_space:
        return 0.0
    rest = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_PROSE).decode("utf-8", "surrogatepass")
    return len(_SYMBOL.findall(rest)) / non_space


# --- lines -----------------------------------------------------------------------------------------------------------

# Sentence-ending characters: a line ending in one of these reads as prose.
_SENTENCE_END = frozenset(".!?\"')]:;…\u201d\u2019\u00bb\u3002\uff01\uff1f\u300d\u300f\uff09*")


def _line_stats(text: str) -> tuple[float, float]:
    """(share of words in lines without sentence punctuation at the end, share of words in lines repeating an earlier
    line). Lines without a letter or digit (blank, zero-width spaces, rules) are skipped."""
    seen: set[str] = set()
    total = unpunctuated = repeated = last = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or not any(ch.isalnum() for ch in line):
            continue
        words = len(line.split())
        total += words
        last = 0
        if line[-1] not in _SENTENCE_END:
            unpunctuated += words
            last = words
        key = line.casefold()
        if key in seen:
            repeated += words
        else:
            seen.add(key)
    if not total:
        return 0.0, 0.0
    # The last line may be cut mid-sentence (WebText itself is cut at 1,024 tokens; extractors stop at "Read more"):
    # its missing full stop says nothing about prose, so it is not counted as unpunctuated.
    return (unpunctuated - last) / total, repeated / total


# --- interstitials ---------------------------------------------------------------------------------------------------

_INTERSTITIAL = re.compile(
    r"""
    (?:enable|turn\ on|activate)\s+(?:your\s+)?javascript
    | javascript\s+(?:is\s+)?(?:disabled|required|must\s+be\s+enabled|is\s+not\s+enabled)
    | (?:enable|allow|accept)\s+(?:all\s+)?cookies
    | cookies?\s+(?:are\s+)?(?:disabled|required|must\s+be\s+enabled)
    | (?:we|this\s+(?:web)?site)\s+uses?\s+cookies
    | (?:use|using)\s+of\s+cookies
    | cookie\s+(?:policy|settings|preferences|consent)
    | manage\s+(?:your\s+)?(?:consent|privacy)\s+(?:settings|preferences|options)
    | verify\s+(?:that\s+)?you\s+are\s+(?:a\s+)?human
    | are\s+you\s+a\s+(?:human|robot)
    | (?:i\s+am|i'm|you\s+are)\s+not\s+a\s+robot
    | checking\s+(?:if\s+the\s+site\s+connection\s+is\s+secure|your\s+browser)
    | (?:ddos\s+protection|performance\s+&\s+security)\s+by\s+cloudflare
    | cloudflare\s+ray\s+id
    | please\s+complete\s+the\s+security\s+check
    | complet(?:e|ing)\s+the\s+captcha
    | \bcaptcha\b
    | unusual\s+traffic\s+from\s+your\s+(?:computer\s+)?network
    | press\s+(?:&|and)\s+hold
    | access\s+(?:to\s+this\s+page\s+(?:has\s+been\s+)?)?denied
    | you\s+(?:don't|do\s+not)\s+have\s+permission\s+to\s+access
    | \b(?:403\s+forbidden|404\s+not\s+found|page\s+not\s+found|500\s+internal\s+server\s+error)\b
    | (?:the\s+)?page\s+you\s+(?:are|were)\s+looking\s+for\s+(?:cannot|can't|could\s+not|does\s+not|doesn't|was\s+not)
    | your\s+browser\s+(?:is\s+(?:not\s+supported|out\s+of\s+date)|does\s+not\s+support)
    | please\s+(?:upgrade|update)\s+your\s+browser
    | (?:subscribe|sign\s+in|log\s+in)\s+to\s+(?:continue\s+)?read(?:ing)?
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _is_interstitial(text: str) -> bool:
    return _INTERSTITIAL.search(text) is not None


# --- language --------------------------------------------------------------------------------------------------------

LANGUAGE_SAMPLE_CHARS = 1000
"""language_of looks at this many leading characters only. Identification is linear in length and, between pages,
cache-cold (a 39 MB automaton): ~2.2 ms a text at 2,000 characters, ~1.3 ms at 1,000. On the 718 texts extracted from
the benchmark's 774 real pages (12 languages) 1,000 characters give the same language as 2,000 for every one; 800
already differ on one."""


_MODEL_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _load_identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _identifier():
    with _MODEL_LOCK:  # a caller racing preload_language_model's thread waits for its model instead of loading another
        return _load_identifier()


def preload_language_model() -> threading.Thread:
    """Start loading the language model (~0.4 s, mostly LZMA decompression, which releases the GIL) in a background
    thread, so that it overlaps with other start-up work; the first ``language_of`` waits for it if need be."""
    thread = threading.Thread(target=_identifier, name="language-model", daemon=True)
    thread.start()
    return thread


@lru_cache(maxsize=4)
def _classify(sample: str) -> tuple[str, float]:
    # Cached: a caller of drop_reason that then wants the lang column asks twice for a kept text, and identification
    # costs ~0.5-1 ms a text (the stage itself asks once, a batch at a time: webtext.extract.shard_rows).
    lang, confidence = _identifier().classify(sample)
    return lang, float(confidence)


def language_of(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, normalised confidence in 0..1) of the first ~1,000 characters, by py3langid's shipped model."""
    return _classify(text[:LANGUAGE_SAMPLE_CHARS])


# --- the rules -------------------------------------------------------------------------------------------------------


def text_rules(text: str, rules: QualityRules = QualityRules(), tokens: int | None = None) -> tuple[str | None, int]:
    """Rules 1-5, everything but the language: (the first failing rule's name or ``None``, the word count the
    language rule compares with ``min_language_words``). ``tokens``: ``len(text.split())`` if the caller has it."""
    words = _word_count(text, max(rules.min_words, rules.interstitial_max_words, rules.min_language_words), tokens)
    if words < rules.min_words:
        return "too_few_words", words
    if rules.drop_interstitials and words < rules.interstitial_max_words and _is_interstitial(text):
        return "interstitial", words
    if _symbol_ratio(text) > rules.max_symbol_ratio:
        return "non_prose_symbols", words
    unpunctuated, repeated = _line_stats(text)
    if unpunctuated > rules.max_unpunctuated_lines:
        return "non_prose_lines", words
    if repeated > rules.max_repeated_lines:
        return "repeated_lines", words
    return None, words


def tests_language(words: int, rules: QualityRules) -> bool:
    """Whether rule 6 looks at a text of ``words`` words (a language list is set and the text is long enough)."""
    return bool(rules.languages) and words >= rules.min_language_words


def drop_reason(text: str, rules: QualityRules = QualityRules()) -> str | None:
    """The first failing rule's name (one of ``DROP_REASONS``, checked in that order), or ``None`` to keep the text."""
    reason, words = text_rules(text, rules)
    if reason is not None:
        return reason
    if tests_language(words, rules) and language_of(text)[0] not in rules.languages:
        return "non_english"
    return None
