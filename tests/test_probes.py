"""webtext.probes: numba starts without importing SciPy, pyarrow converts without importing pandas,
and both still work (a kernel runs; ``to_pandas()`` imports pandas when asked). Each check runs in
a fresh interpreter, where nothing has imported those packages yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from webtext import probes


def _fresh(code: str, env: dict[str, str] | None = None, timeout: float = 300) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_numba_kernels_start_without_scipy_or_cffi():
    got = _fresh(
        "import json, sys, numpy as np\n"
        "from webtext.contamination.kernels import ngram_hashes\n"
        "from webtext.contamination.ngrams import hash_texts\n"
        "h = hash_texts(['one two three four five six seven eight nine'], 8).hashes\n"
        "print(json.dumps({'scipy': 'scipy' in sys.modules, 'cffi': 'cffi' in sys.modules, 'n': len(h)}))"
    )
    assert got == {"scipy": False, "cffi": False, "n": 2}


KERNEL_RUN = (
    "import json, sys\n"
    "from webtext.contamination.ngrams import hash_texts\n"
    "h = hash_texts(['one two three four five six seven eight nine'], 8).hashes\n"
    "print(json.dumps({'registries': 'numba.np.linalg' in sys.modules, 'scipy': 'scipy' in sys.modules,\n"
    "                  'cffi': 'cffi' in sys.modules, 'hashes': [int(x) for x in h]}))"
)


def test_a_cached_kernel_loads_without_numbas_registries():
    """A kernel found in numba's cache runs without the typing and lowering registries (``numba.np.linalg`` is one
    of their modules), and gives the hashes of the plain Python definition."""
    from webtext.contamination.ngrams import ngram_hash, ngram_strings

    _fresh(KERNEL_RUN)  # the cache now holds the kernel, whatever it held before
    got = _fresh(KERNEL_RUN)
    expected = [ngram_hash(g) for g in ngram_strings("one two three four five six seven eight nine", 8)]
    assert got == {"registries": False, "scipy": False, "cffi": False, "hashes": expected}


def test_a_kernel_missing_from_the_cache_compiles_with_the_probes_hidden(tmp_path):
    """With an empty numba cache the kernel is compiled: the registries are loaded first, still without SciPy or
    cffi, and the hashes are the same."""
    cold = _fresh(KERNEL_RUN, env={"NUMBA_CACHE_DIR": str(tmp_path)})
    warm = _fresh(KERNEL_RUN)
    assert cold == {**warm, "registries": True}
    assert any(tmp_path.rglob("*.nbi"))  # compiled into the (empty) cache given


WARMED_KERNEL_RUN = (
    "import json, sys\n"
    "from webtext import probes\n"
    "from webtext.contamination.ngrams import hash_texts\n"
    "from numba.core.runtime import nrt\n"
    "warm = probes.warm_kernel_loading()\n"
    "h = hash_texts(['one two three four five six seven eight nine'], 8).hashes\n"  # while the thread may still run
    "warm.join()\n"
    "print(json.dumps({'registries': 'numba.np.linalg' in sys.modules, 'runtime': nrt.rtsys._init,\n"
    "                  'hashes': [int(x) for x in h]}))"
)


def test_kernel_loading_warmed_in_a_thread_gives_the_same_kernels():
    """``warm_kernel_loading`` prepares numba's runtime in a thread while the main thread loads and runs a kernel
    (the two meet at one lock): the same hashes, still without the registries, and the runtime initialised."""
    _fresh(KERNEL_RUN)  # the cache holds the kernel
    plain = _fresh(KERNEL_RUN)
    got = _fresh(WARMED_KERNEL_RUN)
    assert got == {"registries": False, "runtime": True, "hashes": plain["hashes"]}


def test_kernel_loading_warmed_before_any_kernel_module_is_imported_does_not_deadlock():
    """The warm-up thread may start before the main thread defines its first kernel: both then build numba's target
    context and take its compiler lock, in the same order (taken the other way round they waited for each other
    for ever). Several fresh processes, each well within its time."""
    code = (
        "import json\n"
        "from webtext import probes\n"
        "warm = probes.warm_kernel_loading()\n"
        "from webtext.contamination.ngrams import hash_texts\n"
        "h = hash_texts(['one two three four five six seven eight nine'], 8).hashes\n"
        "warm.join()\n"
        "print(json.dumps({'hashes': len(h)}))"
    )
    for _ in range(3):
        assert _fresh(code, timeout=60) == {"hashes": 2}


def test_pyarrow_converts_without_pandas_and_to_pandas_still_works():
    got = _fresh(
        "import json, sys\n"
        "from webtext import probes\n"
        "probes.skip_pandas_probe()\n"
        "import pyarrow as pa, numpy as np\n"
        "t = pa.table({'a': np.arange(3), 'b': ['x', 'y', 'z']})\n"
        "t = pa.Table.from_pydict({'a': [1, 2]}, schema=pa.schema([('a', pa.int64())]))\n"
        "before = 'pandas' in sys.modules\n"
        "df = t.to_pandas()\n"
        "print(json.dumps({'before': before, 'after': 'pandas' in sys.modules, 'rows': len(df)}))"
    )
    assert got == {"before": False, "after": True, "rows": 2}


def test_hidden_hides_only_inside_the_block_and_never_an_imported_module():
    finders = list(sys.meta_path)
    with probes.hidden("a_package_nobody_has", "json"):
        with pytest.raises(ImportError, match="hidden"):
            __import__("a_package_nobody_has.sub")
        assert __import__("json") is json  # already imported: seen as it is
    assert sys.meta_path == finders
    with pytest.raises(ModuleNotFoundError):
        __import__("a_package_nobody_has")
