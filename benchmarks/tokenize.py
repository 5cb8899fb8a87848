"""``python benchmarks/tokenize.py``: the tokenize benchmark (its code is ``_tokenize_bench.py``).

This file's name is also the standard library's ``tokenize``, which every script in this folder
imports indirectly (logging -> traceback -> linecache -> tokenize) while the folder is first on
``sys.path``. Imported under that name it therefore *becomes* the standard library module; run
as a script it moves this folder to the end of ``sys.path`` and runs the benchmark.
"""

import sys

if __name__ == "__main__":
    sys.path.append(sys.path.pop(0))  # the standard library's tokenize wins from here on
    import _tokenize_bench

    sys.exit(_tokenize_bench.main())
else:
    import importlib.util
    import sysconfig

    _spec = importlib.util.spec_from_file_location(__name__, f"{sysconfig.get_path('stdlib')}/tokenize.py")
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[__name__] = _module
    _spec.loader.exec_module(_module)
