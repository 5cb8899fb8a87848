"""How a stage's ``inputs`` (files, folders, globs) become the files it reads, one function per kind.

Every kind takes files as given, globs as their matching files, and folders as that kind's
files in them; the result is sorted per input, resolved and without repeats, and an input that
names nothing is a ConfigError naming ``inputs[i]``. The kinds differ only in what a folder holds:

- ``parquet_files``: document tables -- a dataset's (or folder's) top-level ``*.parquet``;
- ``dump_files``: submission dumps -- the files of a folder the caller's ``is_dump`` accepts;
- ``warc_files``: WARC files, each with the crawl dataset it belongs to (a crawl output folder:
  its ``__warc/``), or None for loose WARC files (a folder's ``*.warc``/``*.warc.gz``, recursively).
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from pathlib import Path

from webtext.errors import ConfigError
from webtext.paths import MANIFEST, side_dir

Owned = tuple[Path, Path | None]  # (file, the dataset it belongs to, or None)


def _expand(inputs: list[str], folder: Callable[[Path], list[Owned]], keep: Callable[[Path], bool],
            missing: Callable[[str, Path], str | None]) -> list[Owned]:
    """The shared walk: ``folder`` lists a folder, ``keep`` filters glob matches, ``missing`` is the
    message for an input that gave nothing (None: allowed)."""
    found: list[Owned] = []
    for i, item in enumerate(inputs):
        p = Path(item)
        if p.is_dir():
            files = folder(p)
        elif p.is_file():
            files = [(p, None)]
        else:
            files = [(m, None) for m in sorted(Path(m) for m in glob.glob(item)) if keep(m)]
        if not files:
            message = missing(item, p)
            if message is not None:
                raise ConfigError(f"inputs[{i}]", message)
        found += files
    return list(dict.fromkeys((f.resolve(), owner) for f, owner in found))


def parquet_files(inputs: list[str]) -> list[Path]:
    """Docs Parquet files: a dataset's (or folder's) top-level ``*.parquet``, or files/globs."""
    found = _expand(inputs, lambda d: [(f, None) for f in sorted(d.glob("*.parquet"))],
                    lambda m: m.name.endswith(".parquet"), lambda item, _: f"no Parquet files at {item}")
    return [f for f, _ in found]


def dump_files(inputs: list[str], is_dump: Callable[[Path], bool]) -> list[Path]:
    """Dump files: files as given, a folder's files that ``is_dump`` accepts, globs' files."""

    def missing(item: str, p: Path) -> str:
        return f"no supported input files in folder {p}" if p.is_dir() else f"input not found: {item}"

    found = _expand(inputs, lambda d: [(f, None) for f in sorted(f for f in d.iterdir() if is_dump(f))],
                    Path.is_file, missing)
    return [f for f, _ in found]


def warc_files(inputs: list[str]) -> list[tuple[Path, Path | None]]:
    """(WARC file, crawl dataset it belongs to or None) for every input."""

    def folder(d: Path) -> list[Owned]:
        if (d / MANIFEST).exists() and side_dir(d, "warc").is_dir():  # a crawl dataset: its WARCs carry lineage
            return [(w, d.resolve()) for w in sorted(side_dir(d, "warc").glob("*.warc*"))]
        if (d / MANIFEST).exists() and (d / "warc").is_dir():  # read loose, its WARCs would lose their lineage
            raise ConfigError("inputs", f"{d} is a crawl dataset written by an older webtext (warc/, now "
                              f"{side_dir(d, 'warc').name}/): rerun its crawl stage into {d} to rewrite it")
        return [(w, None) for w in sorted(d.rglob("*.warc")) + sorted(d.rglob("*.warc.gz"))]

    def missing(item: str, p: Path) -> str | None:
        return None if p.is_dir() else f"input not found: {item}"

    found = _expand(inputs, folder, Path.is_file, missing)
    if not found:
        raise ConfigError("inputs", "no WARC files found in the inputs")
    return found
