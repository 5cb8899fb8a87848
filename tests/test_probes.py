"""webtext.probes: numba starts without importing SciPy, pyarrow converts without importing pandas,
and both still work (a kernel runs; ``to_pandas()`` imports pandas when asked). Each check runs in
a fresh interpreter, where nothing has imported those packages yet."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from webtext import probes


def _fresh(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
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
