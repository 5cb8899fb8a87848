"""Arrow's pool (``webtext.arrow_memory``): jemalloc chosen before pyarrow loads, a user's choice kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="jemalloc is chosen on Linux only")


def _in_fresh_process(code: str, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**environ, **env}, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def _jemalloc_built() -> bool:
    import pyarrow as pa

    return "jemalloc" in pa.supported_memory_backends()


def test_the_cli_chooses_jemalloc_before_pyarrow_loads():
    if not _jemalloc_built():
        pytest.skip("this pyarrow has no jemalloc")
    got = _in_fresh_process("""
        import json, os
        from webtext.cli import main
        try:
            main(["urls", "--help"])
        except SystemExit:
            pass
        import pyarrow as pa
        print(json.dumps([os.environ.get("ARROW_DEFAULT_MEMORY_POOL"), pa.default_memory_pool().backend_name]))
    """)
    assert got == ["jemalloc", "jemalloc"]


def test_a_pool_the_user_chose_is_kept():
    got = _in_fresh_process("""
        import json
        from webtext.arrow_memory import prefer_jemalloc
        chose = prefer_jemalloc()
        import pyarrow as pa
        print(json.dumps([chose, pa.default_memory_pool().backend_name]))
    """, ARROW_DEFAULT_MEMORY_POOL="system")
    assert got == [False, "system"]


def test_nothing_changes_once_pyarrow_is_loaded():
    # Arrow in this process has read the variable already: its own pool would not change
    got = _in_fresh_process("""
        import json, os
        import pyarrow as pa
        from webtext.arrow_memory import prefer_jemalloc
        print(json.dumps([prefer_jemalloc(), os.environ.get("ARROW_DEFAULT_MEMORY_POOL")]))
    """)
    assert got == [False, None]
