"""De-tokenizers that undo a benchmark's tokenisation before a byte-level model scores it.

GPT-2 (section 3.1) scored WikiText, PTB and 1BW through "invertible de-tokenizers" that remove
the datasets' tokenisation artifacts; the losses are still normalised by the *original* text's
words or bytes, so a de-tokenizer only changes what the model sees. OpenAI did not publish
theirs; ``wikitext`` is lm-evaluation-harness's (the reference every later paper reports), the
others are written down here rule by rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable


def wikitext(string: str) -> str:
    """lm-evaluation-harness's ``wikitext_detokenizer`` (tasks/wikitext/preprocess_wikitext.py), rule for rule."""
    # contractions
    string = string.replace("s '", "s'")
    string = re.sub(r"/' [0-9]/", r"/'[0-9]/", string)
    # number separators
    string = string.replace(" @-@ ", "-")
    string = string.replace(" @,@ ", ",")
    string = string.replace(" @.@ ", ".")
    # punctuation
    string = string.replace(" : ", ": ")
    string = string.replace(" ; ", "; ")
    string = string.replace(" . ", ". ")
    string = string.replace(" ! ", "! ")
    string = string.replace(" ? ", "? ")
    string = string.replace(" , ", ", ")
    # double brackets
    string = re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", string)
    string = re.sub(r"\[\s*([^\]]*?)\s*\]", r"[\1]", string)
    string = re.sub(r"{\s*([^}]*?)\s*}", r"{\1}", string)
    string = re.sub(r"\"\s*([^\"]*?)\s*\"", r'"\1"', string)
    string = re.sub(r"'\s*([^']*?)\s*'", r"'\1'", string)
    # miscellaneous
    string = string.replace("= = = =", "====")
    string = string.replace("= = =", "===")
    string = string.replace("= =", "==")
    string = string.replace(" " + chr(176) + " ", chr(176))
    string = string.replace(" \n", "\n")
    string = string.replace("\n ", "\n")
    string = string.replace(" N ", " 1 ")
    string = string.replace(" 's", "'s")
    return string


_PTB_CLITIC = re.compile(r" '(s|re|ve|ll|m|d)\b")
_PTB_NUMBER = re.compile(r"(?<![^\s$])N(?=[\s]|$)")


def ptb(string: str) -> str:
    """Mikolov's PTB (lower case, ``N`` for numbers, ``<unk>``, one sentence per line with a space
    at each end). Rules, in order:

    1. ``do n't`` -> ``don't``: the negation clitic re-attached (`` n't`` -> ``n't``);
    2. `` 's``, `` 're``, `` 've``, `` 'll``, `` 'm``, `` 'd`` re-attached to the word before;
    3. the number placeholder ``N`` (a whole token) -> ``1``, as lm-eval's WikiText rule does
       (``$ N`` -> ``$1``, the dollar sign joined to its number);
    4. the space at each end of every line removed (`` \\n`` -> ``\\n``, ``\\n `` -> ``\\n``, and at
       the ends of the text).
    ``<unk>`` stays: it is what the test set says, and the original words are not recoverable.
    """
    string = string.replace(" n't", "n't")
    string = _PTB_CLITIC.sub(r"'\1", string)
    string = _PTB_NUMBER.sub("1", string)
    string = string.replace("$ 1", "$1")
    string = re.sub(r" *\n *", "\n", string)
    return string.strip(" ")


_OBW_NO_SPACE_BEFORE = re.compile(r" ([,.;:!?%)\]}]|'s\b|'re\b|'ve\b|'ll\b|'m\b|'d\b|n't\b)")
_OBW_NO_SPACE_AFTER = re.compile(r"([(\[{$]) ")
_OBW_QUOTES = re.compile(r'" ([^"\n]*?) "')


def one_billion_words(string: str) -> str:
    """The One Billion Word benchmark (Moses-style tokenisation of news sentences). Rules, in order:

    1. no space before ``, . ; : ! ? % ) ] }`` and before the clitics ``'s 're 've 'll 'm 'd n't``;
    2. no space after ``( [ { $``;
    3. double quotes paired left to right within a line: ``" text "`` -> ``"text"``;
    4. the space at each end of every line removed.
    Hyphens, apostrophes inside words and everything else are left as they are.
    """
    string = _OBW_NO_SPACE_BEFORE.sub(r"\1", string)
    string = _OBW_NO_SPACE_AFTER.sub(r"\1", string)
    string = _OBW_QUOTES.sub(r'"\1"', string)
    string = re.sub(r" *\n *", "\n", string)
    return string.strip(" ")


def identity(string: str) -> str:
    return string


#: Task name -> its de-tokenizer (tasks not named here are scored as written).
DETOKENIZERS: dict[str, Callable[[str], str]] = {
    "wikitext2": wikitext, "wikitext103": wikitext, "ptb": ptb, "1bw": one_billion_words,
}
