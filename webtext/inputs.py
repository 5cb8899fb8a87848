"""How a stage's ``inputs`` (datasets, files, folders, globs) become the files it reads, one function per kind.

A **dataset** (a folder holding ``_manifest.json``) is read only through its manifest: exactly the
files it lists, each checked before any work starts -- present, the recorded size, and the recorded
sha256 when that is cheap (small files) or asked for (``--verify-inputs full``). A part file that
was deleted, added (``part-00099.parquet``, ``backup-00000.parquet``) or changed never reaches a
stage silently: extra files are not read, missing or changed ones are an ``InputError`` naming the
file and the fix. A folder that a stage started but did not finish (stats or temporaries, no
manifest) is refused unless ``--allow-incomplete`` says to read it anyway; the stage then records
it as incomplete in its own manifest's inputs (``webtext.runner.input_identity``).

Other inputs are taken as given: files as named, globs as their matching files, plain folders as
that kind's files in them; the result is sorted per input, resolved and without repeats, and an
input that names nothing is a ConfigError naming ``inputs[i]``. The kinds differ only in what a
folder holds:

- ``parquet_files``: document tables -- a dataset's main table, or a folder's top-level ``*.parquet``;
- ``dump_files``: submission dumps -- the files of a folder the caller's ``is_dump`` accepts;
- ``warc_files``: WARC files, each with the crawl dataset it belongs to (a crawl output folder:
  the ``__warc/`` files its manifest lists), or None for loose WARC files (a folder's
  ``*.warc``/``*.warc.gz``, recursively).

How strictly inputs are checked is an ``InputsConfig`` (shared by every stage and ``pipelines
run``), in force for a block through ``checking(cfg)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import glob
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from webtext.config import opt
from webtext.errors import ConfigError, InputError
from webtext.paths import MANIFEST, STATS_DIR, TMP_MARK, legacy_name, side_dir

log = logging.getLogger(__name__)

Owned = tuple[Path, Path | None]  # (file, the dataset it belongs to, or None)

CHEAP_SHA256_BYTES = 4 << 20  # files this small are hashed even in "size" mode: a few ms each


@dataclass
class InputsConfig:
    """How the datasets a stage reads are checked against their manifests."""

    verify_inputs: Literal["size", "full"] = opt(
        "size", "check every input file a manifest lists before the stage starts: size (present, the recorded "
        "size; small files also by sha256) or full (sha256 of every file)",
    )
    allow_incomplete: bool = opt(
        False, "read an input folder that has no _manifest.json although a stage started writing it (its stage "
        "did not finish); the output's manifest records the input as incomplete",
    )


_current: contextvars.ContextVar[InputsConfig | None] = contextvars.ContextVar("webtext_inputs", default=None)


@contextlib.contextmanager
def checking(cfg: InputsConfig) -> Iterator[InputsConfig]:
    """Check inputs as ``cfg`` says for the duration of the block (the CLI wraps each stage in one)."""
    token = _current.set(cfg)
    try:
        yield cfg
    finally:
        _current.reset(token)


def current() -> InputsConfig:
    """The input checks in force (the defaults outside any ``checking`` block)."""
    return _current.get() or InputsConfig()


# ---------------------------------------------------------------------------------------------
# Datasets: what their manifests list, checked


def is_incomplete_dataset(folder: Path) -> bool:
    """A folder a stage started writing (its per-shard stats or temporaries are there) without ``_manifest.json``."""
    folder = Path(folder)
    if not folder.is_dir() or (folder / MANIFEST).exists():
        return False
    old_stats = legacy_name(STATS_DIR)
    return (folder / STATS_DIR).is_dir() or bool(old_stats and (folder / old_stats).is_dir()) \
        or any(folder.glob(f"{TMP_MARK}*"))


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
        stage = data["stage"]
        entries = [f for shard in data["shards"] for f in shard["files"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is unreadable ({exc}): rerun the stage that wrote {folder}",
                         path=str(path)) from exc
    return {"stage": stage, "files": entries}


def _refuse_incomplete(folder: Path) -> None:
    if not current().allow_incomplete:
        raise InputError(f"{folder} has no {MANIFEST}: the stage writing it did not finish; rerun that stage into "
                         f"{folder} (or pass --allow-incomplete to read what is there)", path=str(folder))
    log.warning("reading %s although it has no %s (--allow-incomplete): its stage did not finish", folder, MANIFEST)


def input_checks(folder: Path, stage: str, entries: list[dict[str, Any]]) -> None:
    """Check manifest ``entries`` of dataset ``folder`` against the disk: present, same size, and same sha256
    where cheap or asked (``--verify-inputs full``). The first difference is an InputError naming the file."""
    from webtext.data import file_sha256

    full = current().verify_inputs == "full"
    fix = f"rerun `webtext-build {stage}` into {folder} (it redoes what changed)"
    for entry in entries:
        path = folder / entry["path"]
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise InputError(f"{path} is listed in {folder / MANIFEST} but missing: {fix}", path=str(path)) from None
        if size != entry["bytes"]:
            raise InputError(f"{path} has {size:,} bytes, its manifest says {entry['bytes']:,}: {fix}",
                             path=str(path))
        if full or size <= CHEAP_SHA256_BYTES:
            digest, _ = file_sha256(path)
            if digest != entry["sha256"]:
                raise InputError(f"{path} has sha256 {digest[:16]}..., its manifest says {entry['sha256'][:16]}...: "
                                 f"{fix}", path=str(path))


def dataset_files(folder: Path, keep: Callable[[str], bool]) -> list[Path]:
    """The files of dataset ``folder`` that its manifest lists and ``keep`` accepts (by relative path),
    checked (``input_checks``), in manifest order; files it does not list are never returned."""
    folder = Path(folder)
    manifest = _manifest(folder)
    entries = [e for e in manifest["files"] if keep(e["path"])]
    input_checks(folder, manifest["stage"], entries)
    return [folder / e["path"] for e in entries]


def _main_table(relative: str) -> bool:
    return "/" not in relative and relative.endswith(".parquet")


def _listed_file(f: Path) -> Path:
    """A file named directly (or by a glob): inside a dataset it must be one its manifest lists (checked)."""
    folder = f.parent
    if (folder / MANIFEST).exists():
        manifest = _manifest(folder)
        entries = [e for e in manifest["files"] if (folder / e["path"]).resolve() == f.resolve()]
        if not entries:
            raise InputError(f"{f} is not listed in {folder / MANIFEST}: it is not part of that dataset; name the "
                             f"folder {folder} (or move the file out of it)", path=str(f))
        input_checks(folder, manifest["stage"], entries)
    elif is_incomplete_dataset(folder):
        _refuse_incomplete(folder)
    return f


# ---------------------------------------------------------------------------------------------
# The kinds of input


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
            files = [(_listed_file(p), None)]
        else:
            files = [(_listed_file(m), None) for m in sorted(Path(m) for m in glob.glob(item)) if keep(m)]
        if not files:
            message = missing(item, p)
            if message is not None:
                raise ConfigError(f"inputs[{i}]", message)
        found += files
    return list(dict.fromkeys((f.resolve(), owner) for f, owner in found))


def _plain_folder(d: Path, files: Callable[[Path], list[Path]]) -> list[Owned]:
    """A folder's files: its manifest's main table if it is a dataset, else ``files(d)``."""
    if (d / MANIFEST).exists():
        return [(f, None) for f in dataset_files(d, _main_table)]
    if is_incomplete_dataset(d):
        _refuse_incomplete(d)
    return [(f, None) for f in files(d)]


def parquet_files(inputs: list[str]) -> list[Path]:
    """Docs Parquet files: a dataset's main table (as its manifest lists it), a folder's top-level
    ``*.parquet``, or files/globs."""
    found = _expand(inputs, lambda d: _plain_folder(d, lambda x: sorted(x.glob("*.parquet"))),
                    lambda m: m.name.endswith(".parquet"), lambda item, _: f"no Parquet files at {item}")
    return [f for f, _ in found]


def dump_files(inputs: list[str], is_dump: Callable[[Path], bool]) -> list[Path]:
    """Dump files: files as given, a folder's files that ``is_dump`` accepts (those its manifest lists, if it
    has one), globs' files."""

    def missing(item: str, p: Path) -> str:
        return f"no supported input files in folder {p}" if p.is_dir() else f"input not found: {item}"

    def folder(d: Path) -> list[Owned]:
        if (d / MANIFEST).exists():
            return [(f, None) for f in dataset_files(d, lambda rel: is_dump(d / rel))]
        return _plain_folder(d, lambda x: sorted(f for f in x.iterdir() if is_dump(f)))

    found = _expand(inputs, folder, Path.is_file, missing)
    return [f for f, _ in found]


def warc_files(inputs: list[str]) -> list[tuple[Path, Path | None]]:
    """(WARC file, crawl dataset it belongs to or None) for every input."""

    def folder(d: Path) -> list[Owned]:
        warc_dir = side_dir(d, "warc").name
        if (d / MANIFEST).exists() and (d / "warc").is_dir() and not side_dir(d, "warc").is_dir():
            # read loose, its WARCs would lose their lineage
            raise ConfigError("inputs", f"{d} is a crawl dataset written by an older webtext (warc/, now "
                              f"{warc_dir}/): rerun its crawl stage into {d} to rewrite it")
        if (d / MANIFEST).exists():  # a crawl dataset: its WARCs (those its manifest lists) carry lineage
            listed = dataset_files(d, lambda rel: rel.startswith(warc_dir + "/") and ".warc" in rel)
            return [(w, d.resolve()) for w in sorted(listed)]
        if is_incomplete_dataset(d):
            _refuse_incomplete(d)
        return [(w, None) for w in sorted(d.rglob("*.warc")) + sorted(d.rglob("*.warc.gz"))]

    def missing(item: str, p: Path) -> str | None:
        return None if p.is_dir() else f"input not found: {item}"

    found = _expand(inputs, folder, Path.is_file, missing)
    if not found:
        raise ConfigError("inputs", "no WARC files found in the inputs")
    return found
