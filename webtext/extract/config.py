"""Config of the ``extract`` stage and the cleaning rules it describes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from webtext.config import inputs_under, opt, subkey
from webtext.errors import ConfigError
from webtext.stage_spec import StaticInput, input_paths


@dataclass
class ExtractConfig:
    """The ``extract`` stage: main text of stored HTML with trafilatura, then GPT-2-style cleaning."""

    inputs: list[str] = opt(  # noqa: RUF009 - a required field with help text
        help="a crawl dataset, or folders/globs of .warc/.warc.gz files (Common Crawl WARCs too)", positional=True,
    )
    quality_filters: bool = opt(True, "apply the cleaning rules below (off: extraction only)",
                                neg_help="extraction only: skip the cleaning rules below")
    favor: Literal["balanced", "precision", "recall"] = opt("balanced", "trafilatura's precision/recall trade-off")
    include_tables: bool = opt(True, "keep the text of tables", neg_help="leave the text of tables out")
    dates: bool = opt(True, "publication date of each page by htmldate (~1 ms a page); off: the date column is null",
                      neg_help="skip htmldate's publication date (~1 ms a page saved): the date column is null")
    max_bytes: int = opt(5 * 1024 * 1024, "larger bodies are dropped before any parsing (too_large)")
    doc_timeout: float = opt(20.0, "seconds one document may take; the extraction process is killed after that")
    min_words: int = opt(80, "fewer words: too_few_words (80 words ~ 110 GPT-2 tokens; OpenWebText used ~128)")
    max_symbol_ratio: float = opt(0.15, "larger share of digits/symbols among characters: non_prose_symbols")
    max_unpunctuated_lines: float = opt(
        0.60, "larger (word-weighted) share of lines without sentence punctuation: non_prose_lines"
    )
    max_repeated_lines: float = opt(0.60, "larger share of repeated lines: repeated_lines")
    drop_interstitials: bool = opt(True, "drop 'enable JavaScript / verify you are human / cookie wall' pages",
                                   neg_help="keep 'enable JavaScript / verify you are human / cookie wall' pages")
    interstitial_max_words: int = opt(300, "only texts shorter than this are searched for interstitial phrases")
    languages: list[str] = opt(  # noqa: RUF009 - opt() turns a list into a default_factory
        [], "languages kept, e.g. en (GPT-2 kept English; the WebText recipe sets it); empty keeps all"
    )
    min_language_words: int = opt(20, "texts shorter than this are not language-tested")

    def validate(self, key: str) -> None:
        if not self.inputs:
            raise ConfigError(subkey(key, "inputs"), "no inputs given")
        if self.max_bytes < 1024:
            raise ConfigError(subkey(key, "max_bytes"), "must be >= 1024")
        if self.doc_timeout <= 0:
            raise ConfigError(subkey(key, "doc_timeout"), "must be > 0")
        for name in ("max_symbol_ratio", "max_unpunctuated_lines", "max_repeated_lines"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(subkey(key, name), "must be between 0 and 1")

    def static_inputs(self) -> list[StaticInput]:
        return input_paths(self.inputs)

    def resolve_paths(self, base: Path) -> ExtractConfig:
        return inputs_under(self, base)

    def quality_rules(self) -> Any:
        """The cleaning rules (``webtext.extract.cleaning.QualityRules``) these settings describe."""
        from webtext.extract.cleaning import QualityRules

        names = {f.name for f in dataclasses.fields(QualityRules)}
        values = {k: v for k, v in dataclasses.asdict(self).items() if k in names}
        if "languages" in values:
            values["languages"] = tuple(values["languages"])
        return QualityRules(**values)
