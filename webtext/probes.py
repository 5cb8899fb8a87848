"""Optional packages that our libraries import only to probe for them, kept out of our processes.

pyarrow imports pandas (~0.4 s) on its first conversion, only to ask whether the value is a
DataFrame; numba imports SciPy (~0.4 s) when it starts, to check its version and to find a BLAS
for ``np.dot``, and cffi (~0.15 s) for calling C functions from jitted code; no webtext kernel
uses either. On a small input those probes are a large share of a
stage's whole run (issue #19: 24 MB of ``contamination`` takes ~2 s), and they are paid again in
every process. Each probe runs once here with the package hidden, so the library records "not
installed" for that probe only: an explicit use later (``Table.to_pandas()``) still imports it.
One consequence, for code outside webtext: numba jitted code in a process that imported our
kernels first has no ``np.dot``/``np.linalg`` (numba needs SciPy's BLAS for those) and no cffi
functions.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys
import threading
from collections.abc import Callable, Iterator
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_PROBED: set[str] = set()


class _Hidden:
    """A meta-path finder that makes ``import NAME`` (and its submodules) fail with ImportError."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object = None, target: ModuleType | None = None) -> ModuleSpec | None:
        if name.split(".")[0] in self.names:
            raise ImportError(f"{name} hidden while a library probes for it (webtext.probes)")
        return None


@contextlib.contextmanager
def hidden(*names: str) -> Iterator[None]:
    """``import`` of these packages fails inside the block, unless one is already imported (then
    the library sees it, as it would have anyway)."""
    todo = tuple(n for n in names if n not in sys.modules)
    finder = _Hidden(todo)
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def numba() -> ModuleType:
    """``numba``, imported with its SciPy and cffi probes skipped (its CPU target's registries, which probe for them
    again, are loaded with them hidden by ``njit``'s kernels, and only when one has to be compiled)."""
    if "numba" not in _PROBED:
        with hidden("scipy", "cffi"):
            importlib.import_module("numba")
        _PROBED.add("numba")
    return sys.modules["numba"]


def njit(**options: Any) -> Callable[[F], F]:
    """``numba.njit(**options)`` for webtext's kernels; with ``cache=True`` a kernel found in numba's cache is loaded
    without numba's typing and lowering registries.

    numba refreshes its CPU target before every cache load: that imports and installs the registries of everything
    it can compile (~0.27 s a process, measured: a tenth of a 24 MB ``contamination`` run), which only a compile
    uses; machine code loaded from the cache needs the runtime's (NRT) symbols only, which this loader registers. On
    a cache miss the registries are loaded, with SciPy's and cffi's probes hidden, and numba compiles as it would
    have. Other numba code in the process loads as numba does."""
    nb = numba()

    def decorate(fn: F) -> F:
        dispatcher = nb.njit(**options)(fn)
        cache = getattr(dispatcher, "_cache", None)
        if options.get("cache") and callable(getattr(cache, "_load_overload", None)):
            cache.load_overload = functools.partial(_load_cached, cache)
        return dispatcher

    return decorate


def _load_cached(cache: Any, sig: Any, target_context: Any) -> Any:
    """numba's ``Cache.load_overload`` without its ``target_context.refresh()`` (see ``njit``)."""
    from numba.core.runtime import nrt

    nrt.rtsys.initialize(target_context)  # what refresh() does first: the runtime's symbols, for the loaded code
    loaded = cache._load_overload(sig, target_context)
    if loaded is None:  # a cache miss: numba compiles next, which needs the registries
        with hidden("scipy", "cffi"):
            target_context.refresh()
    return loaded


def warm_kernel_loading() -> threading.Thread:
    """Start paying, in a daemon thread, what a process's first cached kernel load costs whatever the kernel (~0.1 s
    measured: numba's extension entry points, its runtime compiled by LLVM, which releases the GIL, and the array
    module that every kernel's environment names when it is unpickled), so that it overlaps the main thread's
    reading of its input instead of following it. The main thread's first load waits for whatever part is still
    running; nothing is done twice. numba itself is imported here, in the calling thread, first."""
    numba()  # not imported by two threads at once
    from numba.core import entrypoints
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target
    from numba.core.runtime import nrt

    def work() -> None:
        # Built first, outside the compiler lock: building it takes the property's lock, then the compiler lock,
        # the order every thread takes them in (a dispatcher being defined in another thread builds it too).
        context = cpu_target.target_context
        # numba's compiler lock, which every cache load holds (``Dispatcher.compile``): this and a load in another
        # thread take turns (numba's ``initialize`` has no lock of its own, and its LLVM finalisation expects this
        # one), the modules below are never imported by two threads at once, and no kernel is loaded or compiled
        # before the extensions' entry points (scanned from every installed package's metadata, ~20 ms) are in.
        with global_compiler_lock:
            entrypoints.init_all()
            nrt.rtsys.initialize(context)
            importlib.import_module("numba.np.arrayobj")

    thread = threading.Thread(target=work, name="numba-warm-up", daemon=True)
    thread.start()
    return thread


def skip_pandas_probe() -> None:
    """Let pyarrow's first conversion find no pandas (it only asks whether a value is a DataFrame)."""
    if "pyarrow" in _PROBED:
        return
    import pyarrow as pa

    with hidden("pandas"):
        pa.array([0])  # the probe: pyarrow remembers "no pandas" for such questions only
    _PROBED.add("pyarrow")
