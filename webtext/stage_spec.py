"""What a stage declares about itself: one ``StageSpec`` record in ``webtext/<package>/stage.py``.

The CLI, ``pipelines run`` and the demo read these records from the registry (``webtext.stages``)
and name no stage themselves. A record is light: its run function is a ``"module:function"``
string imported only when the stage runs, so listing the stages (``--help``) imports no torch,
Ray or scrapy.

Every shard's counts follow one rule (checked by ``webtext.runner.base.execute_shard``):
``total = kept + sum(dropped_<reason>)``. ``summarise_counts`` is the generic summary line built
from it; a stage whose numbers say more passes its own ``summarise``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from webtext.data import Manifest
from webtext.errors import ConfigError

#: A stage's run function: (its config, its output folder, the runner or None) -> its manifest.
RunFn = Callable[[Any, Path, Any], Manifest]


@dataclass
class DemoContext:
    """What ``webtext-build demo`` hands each stage's ``demo`` hook.

    ``workdir`` holds the sample: ``dumps/`` (Pushshift-format dumps), the loopback website
    (``site``, a ``webtext.demo.web.DemoSite``; ``server()`` serves it while a stage runs), and
    ``benchmark`` (``benchmark/demo-quiz.txt``, a test set some pages quote). ``out(name)`` is the
    folder of stage ``name``'s output; ``results`` the manifests of the stages run so far.
    """

    workdir: Path
    site: Any
    dumps: Path
    benchmark: Path
    outs: dict[str, Path] = field(default_factory=dict)
    results: dict[str, Manifest] = field(default_factory=dict)
    serve: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext

    def out(self, name: str) -> Path:
        return self.outs.get(name, self.workdir / name)

    def server(self) -> contextlib.AbstractContextManager[Any]:
        """The demo website, up for the duration of a ``with`` block."""
        return self.serve()


#: A demo hook: the stage's config for the demo (None: skip it), or (config, a context manager
#: the stage runs inside, e.g. ``ctx.server()``).
DemoHook = Callable[[DemoContext], Any]


def top_counts(stats: Mapping[str, Any], prefix: str, limit: int | None = None) -> str:
    """``"reason 12, other 3"``: the non-zero ``<prefix><reason>`` counters, largest first."""
    found = {k[len(prefix):]: v for k, v in stats.items() if k.startswith(prefix) and isinstance(v, int | float) and v}
    return ", ".join(f"{k} {v:,}" for k, v in sorted(found.items(), key=lambda kv: -kv[1])[:limit])


def summarise_counts(name: str, manifest: Manifest) -> str:
    """The generic summary line: ``name: total -> kept kept (dropped: reason n, ...)``."""
    s = manifest.stats
    return (f"{name}: {s.get('total', 0):,} rows -> {s.get('kept', 0):,} kept "
            f"(dropped: {top_counts(s, 'dropped_') or 'none'})")


class StaticInput(NamedTuple):
    """A file or folder a stage reads that must exist before it runs (a corpus, a tokenizer, a benchmark).

    ``key`` is its config key under the stage (``inputs[0]``, ``tokenizer``): the YAML key and the
    CLI flag an error names. ``path`` may be a glob (then some file must match it).
    """

    key: str
    path: str
    what: str = "input"


def input_paths(paths: Iterable[str], key: str = "inputs") -> list[StaticInput]:
    """``inputs[0]``, ``inputs[1]``, ...: a stage's list of input paths or globs as static inputs."""
    return [StaticInput(f"{key}[{i}]", p) for i, p in enumerate(paths)]


def _localised(cfg: Any, declared: list[StaticInput]) -> Any:
    from webtext.storage.views import localise

    return localise(cfg, [i.path for i in declared]) if dataclasses.is_dataclass(cfg) else cfg


def _exists(path: str) -> bool:
    from webtext.storage.uris import is_remote

    if is_remote(path):
        import pyarrow.fs as pafs

        from webtext.storage.uris import check_bucket, filesystem, storage_errors, translate

        check_bucket(path)
        if glob.has_magic(path.split("://", 1)[1]):
            from webtext.storage.views import matches

            return bool(matches(path))
        fs, inner = filesystem(path)
        try:
            return fs.get_file_info(inner).type != pafs.FileType.NotFound
        except storage_errors() as exc:
            raise translate(path, exc) from None
    return Path(path).exists() or (glob.has_magic(path) and bool(glob.glob(path)))


def _within(path: str, folders: Iterable[Path | str]) -> bool:
    if "://" in path or any("://" in str(f) for f in folders):
        return any(path.rstrip("/") == str(f).rstrip("/") or path.startswith(str(f).rstrip("/") + "/")
                   for f in folders)
    p = Path(path).resolve()
    return any(p == f or f in p.parents for f in (Path(f).resolve() for f in folders))


@dataclass(frozen=True)
class StageSpec:
    """One stage, as the CLI, the pipeline file and the demo see it."""

    name: str  # the CLI command and the pipelines.yaml key, e.g. "dedup"
    config: type  # its typed config dataclass (``webtext/<package>/config.py``)
    run: str  # "module:function"; function(cfg, out: Path, runner) -> Manifest, imported when the stage runs
    help: str  # one line for ``webtext-build --help``
    summarise: Callable[[Manifest], str] | None = None  # its one summary line (None: ``summarise_counts``)
    out_help: str = "output dataset folder"
    uses_runner: bool = True  # False: the stage launches its own processes (train) and gets runner=None
    add_commands: Callable[[argparse._SubParsersAction], None] | None = None  # extra subcommands it owns
    demo: DemoHook | None = None  # its part of ``webtext-build demo`` (None: not in the demo)
    demo_out: str | None = None  # its folder under the demo's workdir (default: its name)
    demo_report: Callable[[DemoContext], str] | None = None  # lines printed after the demo's summaries
    # the files and folders its config names that must exist before it runs (``check_static``)
    static_inputs: Callable[[Any], list[StaticInput]] | None = None

    def run_function(self) -> RunFn:
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module), name)

    def execute(self, cfg: Any, out: Path | str, runner: Any) -> Manifest:
        """Run the stage into ``out`` (``runner`` is dropped for stages that bring their own), holding
        the output folder's writer lock throughout: a second run on the same folder is refused.

        ``out`` and the config's paths may be URIs (``webtext.storage``): remote inputs are fetched
        into the node-local cache, the stage runs into a local staging copy of ``out`` and that is
        published object by object, the manifest last (also, without a manifest, when it fails)."""
        from webtext.storage.uris import check_bucket, is_remote, local_path

        fn = self.run_function()
        runner = runner if self.uses_runner else None
        # URIs inside a config value (a benchmark's NAME=lines:URI) are found through what the stage declares
        declared = self.static_inputs(cfg) if self.static_inputs is not None and dataclasses.is_dataclass(cfg) else []
        from webtext.writer_lock import writer_lock

        if not is_remote(out):
            local = local_path(out)
            with writer_lock(local, self.name):
                return fn(_localised(cfg, declared), local, runner)
        from webtext.storage.sync import pull, push, staging_dir

        uri = str(out)
        check_bucket(uri)
        # An input inside --out would be replaced by the run that reads it (a saved corpus.bloom of the
        # report being rewritten); locally each stage checks this on real paths, here only URIs compare.
        inside = next((item for item in declared if "://" in item.path and _within(item.path, [uri])), None)
        if inside is not None:
            raise ConfigError(inside.key, f"{inside.path} lies in --out {uri}, which this run replaces: "
                                          "copy it elsewhere first")
        with writer_lock(uri, self.name):
            local = pull(uri, staging_dir(uri))
            try:
                return fn(_localised(cfg, declared), local, runner)
            finally:
                push(local, uri)

    def check_static(self, cfg: Any, key: str = "", produced: Iterable[Path | str] = ()) -> None:
        """Raise ConfigError (naming ``key``'s sub-key, e.g. ``stages.tokenize.tokenizer``) for the first
        static input that does not exist. Inputs inside a ``produced`` folder (the outputs of the stages
        a pipeline runs before this one) are not checked: they appear when those stages run."""
        produced = list(produced)
        for item in self.static_inputs(cfg) if self.static_inputs is not None else []:
            if not _within(item.path, produced) and not _exists(item.path):
                where = f"{key}.{item.key}" if key else item.key
                raise ConfigError(where, f"{item.what} not found: {item.path}")

    def summary(self, manifest: Manifest) -> str:
        return self.summarise(manifest) if self.summarise is not None else summarise_counts(self.name, manifest)
