"""Benchmark test sets (and their training splits) as lists of examples.

``--benchmark NAME=SOURCE``: a known NAME picks its loader (SOURCE is then a path); any other
test set is given in an explicit generic form, so a misspelt name (``wikitxt2=...``) is refused
instead of being read with a loader nobody chose. ``resolve_source`` holds that rule (the
``eval`` stage's ``--task NAME=SOURCE`` uses it too). An example is the unit n-grams never cross
(GPT-2 did not join lines or passages). ``eval`` reads the same files through this module
(:func:`line_documents`, :func:`parse_cbt`), so example ``i`` is the same text in both stages'
``examples/<NAME>.parquet``.

| NAME (or form)            | format                                        | one example per          |
|---------------------------|-----------------------------------------------|--------------------------|
| wikitext2, wikitext103, wikitext, ptb, 1bw | token/text files (a folder: every file) | non-empty line |
| lambada                   | ``.jsonl`` (field ``text``) or plain text      | passage (line)           |
| cbt, cbt-ne, cbt-cn, cbt-v, cbt-p | CBT: numbered lines, blank-line blocks | block (blank -> answer)  |
| enwik8                    | raw bytes; a 100,000,000-byte file -> last 5M bytes (the test split) | whole split |
| text8                     | raw text; the 100,000,000-char file -> last 5M chars | whole split    |
| ``lines:PATH`` (any NAME) | text files (a folder: every file)              | non-empty line           |
| ``PATH.jsonl#FIELD`` (any NAME) | JSON lines, the given field              | line                     |
| ``hf:DATASET[:CONFIG]:SPLIT#FIELD`` (any NAME) | Hugging Face ``datasets`` (if installed, its cache only) | row |
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from webtext.errors import ConfigError

CHAR_LEVEL_TEST_BYTES = 5_000_000  # enwik8/text8: 90M train, 5M valid, 5M test


@dataclass
class Benchmark:
    name: str
    source: str
    examples: list[str]
    loader: str


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


def _file_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(file number, line with its line end) of every line of the file(s), in order."""
    for i, f in enumerate(_files(path)):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
            yield i, line


def _strip_end(line: str) -> str:
    return line.splitlines()[0] if line.strip() else ""


def load_lines(path: Path) -> list[str]:
    return [_strip_end(line) for _, line in _file_lines(path) if line.strip()]


WIKITEXT_HEADING = re.compile(r"^ = [^=].* = $")  # a top-level heading: an article starts here


@dataclass
class Document:
    """A piece of a line-based benchmark scored as one text, and the examples it holds.

    ``text`` is exactly as in the file (lines joined with their line ends); ``spans`` are
    ``(example index, start, end)`` character ranges: each non-empty line with the empty lines
    after it (empty lines before a document's first example belong to that example), so the
    spans tile ``text`` and example indices are those of :func:`load_lines`.
    """

    text: str
    spans: list[tuple[int, int, int]]


def line_documents(path: Path, unit: str) -> list[Document]:
    """The file(s) cut into documents: ``unit`` = ``pages`` (WikiText articles: a top-level heading
    line and the lines up to the next one; lines before the first heading are in no document),
    ``file`` (each file whole) or ``line`` (each non-empty line alone)."""
    if unit not in ("pages", "file", "line"):
        raise ValueError(f"unknown document unit {unit!r}")
    docs: list[tuple[list[str], list[int | None]]] = []  # (lines, example index of each line or None)
    example, last_file = 0, -1
    for file_no, line in _file_lines(path):
        nonempty = bool(line.strip())
        starts = ((unit == "pages" and WIKITEXT_HEADING.match(line.rstrip("\n")) is not None)
                  or (unit == "file" and file_no != last_file) or (unit == "line" and nonempty))
        last_file = file_no
        if starts:
            docs.append(([], []))
        if docs and (unit != "line" or nonempty):
            docs[-1][0].append(line)
            docs[-1][1].append(example if nonempty else None)
        example += nonempty
    out = []
    for lines, indices in docs:
        spans: list[tuple[int, int, int]] = []
        pos = 0
        for line, index in zip(lines, indices, strict=True):
            if index is not None:
                spans.append((index, pos if spans else 0, pos + len(line)))
            elif spans:
                spans[-1] = (spans[-1][0], spans[-1][1], pos + len(line))
            pos += len(line)
        if spans:
            spans[-1] = (spans[-1][0], spans[-1][1], pos)
            out.append(Document("".join(lines), spans))
    return out


def load_jsonl(path: Path, field: str = "text", flag: str = "--benchmark") -> list[str]:
    out = []
    for f in _files(path):
        for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ConfigError(flag, f"{f}:{i} is not JSON: {exc}") from exc
            if not isinstance(row, dict) or field not in row:
                raise ConfigError(flag, f"{f}:{i} has no field {field!r} (use PATH#FIELD)")
            out.append(str(row[field]))
    return out


def load_lambada(path: Path) -> list[str]:
    return load_jsonl(path) if path.suffix in (".jsonl", ".json") else load_lines(path)


CBT_BLANK = "XXXXX"  # how CBT writes the word the question asks for
_CBT_LINE = re.compile(r"^(\d+) (.*)$")


@dataclass
class CbtQuestion:
    """One CBT block: the story's numbered lines, the question (``XXXXX`` marks the blank), the
    answer and the candidate words."""

    story: list[str]
    question: str
    answer: str
    candidates: list[str]

    @property
    def text(self) -> str:
        """The block as one example: story lines and the question with the answer filled in."""
        return " ".join([*self.story, self.question.replace(CBT_BLANK, self.answer)])


def parse_cbt(path: Path) -> list[CbtQuestion | list[str]]:
    """CBT: blocks of 20 numbered context lines and a 21st ``question\tanswer\t\tcandidates``
    (a block without that line comes back as its list of lines)."""
    blocks: list[CbtQuestion | list[str]] = []
    block: list[str] = []
    for f in _files(path):
        for line in [*f.read_text(encoding="utf-8").splitlines(), ""]:
            if not line.strip():
                if block:
                    blocks.append(block)
                    block = []
                continue
            m = _CBT_LINE.match(line)
            text = m.group(2) if m else line
            if "\t" in text:
                question, answer, *rest = text.split("\t")
                candidates = [c for c in (rest[-1] if rest else "").split("|") if c]
                blocks.append(CbtQuestion(block, question, answer, candidates))
                block = []
                continue
            block.append(text)
    return blocks


def load_cbt(path: Path) -> list[str]:
    return [b.text if isinstance(b, CbtQuestion) else " ".join(b) for b in parse_cbt(path)]


def _last_bytes(path: Path, n: int) -> bytes:
    data = path.read_bytes()
    return data[-n:] if len(data) == 100_000_000 else data


def load_enwik8(path: Path) -> list[str]:
    return [_last_bytes(path, CHAR_LEVEL_TEST_BYTES).decode("utf-8", errors="replace")]


def load_text8(path: Path) -> list[str]:
    return [_last_bytes(path, CHAR_LEVEL_TEST_BYTES).decode("ascii", errors="replace")]


def load_hf(spec: str, flag: str = "--benchmark") -> list[str]:
    try:
        import datasets  # optional: never required, and only its local cache is used
    except ImportError as exc:
        raise ConfigError(flag, "hf: sources need the `datasets` package (pip install datasets)") from exc
    body, _, field = spec[3:].partition("#")
    parts = body.split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(flag, f"expected hf:DATASET[:CONFIG]:SPLIT#FIELD, got {spec!r}")
    dataset, config, split = (parts[0], None, parts[1]) if len(parts) == 2 else parts
    try:
        ds = datasets.load_dataset(dataset, config, split=split, download_mode="reuse_cache_if_exists")
    except Exception as exc:
        raise ConfigError(flag, f"cannot load {spec}: {exc}") from exc
    return [str(x) for x in ds[field or "text"]]


LOADERS: dict[str, Callable[[Path], list[str]]] = {
    "wikitext2": load_lines, "wikitext103": load_lines, "wikitext": load_lines, "ptb": load_lines,
    "1bw": load_lines, "lines": load_lines, "lambada": load_lambada, "cbt": load_cbt,
    "enwik8": load_enwik8, "text8": load_text8,
}

#: Benchmark names that pick a loader (spelt in any case, with or without ``-``/``_``) -> loader kind.
KNOWN_NAMES: dict[str, str] = {
    "wikitext2": "wikitext2", "wikitext103": "wikitext103", "wikitext": "wikitext", "ptb": "ptb", "1bw": "1bw",
    "lambada": "lambada", "cbt": "cbt", "cbtne": "cbt", "cbtcn": "cbt", "cbtv": "cbt", "cbtp": "cbt",
    "enwik8": "enwik8", "text8": "text8",
}
_SHOWN_NAMES = "wikitext2, wikitext103, wikitext, ptb, 1bw, lambada, cbt, cbt-ne, cbt-cn, cbt-v, cbt-p, enwik8, text8"
GENERIC_FORMS = ("NAME=lines:PATH (one example per non-empty line), NAME=PATH.jsonl#FIELD (one per JSON line), "
                 "NAME=hf:DATASET[:CONFIG]:SPLIT#FIELD (one per row)")


@dataclass(frozen=True)
class BenchmarkSource:
    """How ``NAME=SOURCE`` is read: ``kind`` (a ``LOADERS`` key, ``jsonl`` or ``hf``), the path (for ``hf``
    the whole ``hf:...`` spec) and, for ``jsonl``, the field."""

    kind: str
    path: str
    field: str | None = None


def known_loader(name: str) -> str | None:
    """The loader a known benchmark name picks (None: not a known name)."""
    return KNOWN_NAMES.get(name.lower().replace("-", "").replace("_", ""))


def resolve_source(name: str, source: str, flag: str = "--benchmark") -> BenchmarkSource:
    """The one rule for ``NAME=SOURCE``: an explicit generic form (``lines:PATH``, ``PATH.jsonl#FIELD``,
    ``hf:...``) is read as it says, whatever the name; otherwise NAME must be a known benchmark, whose
    loader reads SOURCE as a path. Anything else is a ConfigError naming ``flag`` (one line: the known
    names and the generic forms). Reads no file."""
    if source.startswith("hf:"):
        return BenchmarkSource("hf", source)
    if source.startswith("lines:"):
        if not source[len("lines:"):]:
            raise ConfigError(flag, f"{name}: expected lines:PATH, got {source!r}")
        return BenchmarkSource("lines", source[len("lines:"):])
    path, field = _field_of(source)
    if field:
        return BenchmarkSource("jsonl", path, field)
    kind = known_loader(name)
    if kind is None:
        raise ConfigError(flag, f"unknown benchmark name {name!r} in {name}={source}: known names are "
                                f"{_SHOWN_NAMES}; give any other test set in an explicit form: {GENERIC_FORMS}")
    return BenchmarkSource(kind, source)


def loader_name(name: str, source: str) -> str:
    """The loader kind of ``NAME=SOURCE`` (``resolve_source``'s)."""
    return resolve_source(name, source).kind


def source_under(source: str, base: Path) -> str:
    """``SOURCE`` with a relative path made relative to ``base`` (the pipeline file's folder); ``hf:`` and URIs
    untouched."""
    if source.startswith("hf:"):
        return source
    prefix = "lines:" if source.startswith("lines:") else ""
    path = source[len(prefix):]
    return prefix + (path if not path or "://" in path or Path(path).is_absolute() else str(base / path))


def _field_of(source: str) -> tuple[str, str | None]:
    """(path, field) of ``PATH.jsonl#FIELD``; a ``#`` elsewhere is part of the path."""
    path, sep, field = source.rpartition("#")
    if sep and path.endswith((".jsonl", ".json")) and field:
        return path, field
    return source, None


def parse_spec(spec: str, flag: str = "--benchmark") -> tuple[str, str]:
    name, sep, source = spec.partition("=")
    if not sep or not name or not source or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ConfigError(flag, f"expected NAME=SOURCE (NAME of letters, digits, _ . -), got {spec!r}")
    return name, source


def load_benchmark(spec: str, flag: str = "--benchmark") -> Benchmark:
    """Load ``NAME=SOURCE``; an unknown name, a missing file or an empty benchmark is a ConfigError naming ``flag``."""
    name, source = parse_spec(spec, flag)
    how = resolve_source(name, source, flag)
    if how.kind == "hf":
        examples = load_hf(how.path, flag)
    else:
        path = Path(how.path)
        if not path.exists():
            raise ConfigError(flag, f"{name}: {path} not found")
        examples = load_jsonl(path, how.field or "text", flag) if how.kind == "jsonl" else LOADERS[how.kind](path)
    if not examples:
        raise ConfigError(flag, f"{name}: no examples in {source}")
    return Benchmark(name, source, examples, how.kind)
