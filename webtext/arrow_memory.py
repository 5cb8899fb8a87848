"""Arrow's memory pool in webtext's processes: jemalloc, chosen before pyarrow is imported.

pyarrow's default pool is mimalloc, which keeps the memory that freed buffers leave behind; with batches of
varying sizes decoded on Arrow's threads it kept asking the system for more, so a task's peak memory grew with
its input although every batch was bounded (dedup's filter pass: ~2 MB more per MB of text streamed; the urls
reduce: memory carried from one bucket's sub-pass to the next). jemalloc hands unused pages back on its own
(time-based decay) at the same speed. ``benchmarks/growth.py`` at 1x / 4x / 16x, peak RSS in MiB, mimalloc ->
jemalloc: urls 272/302/349 -> 220/259/277, dedup 324/364/375 -> 278/307/312, contamination 284/374/488 ->
271/333/449, tokenize 182/233/276 -> 177/240/241; tasks' seconds unchanged within noise.

Arrow reads ``ARROW_DEFAULT_MEMORY_POOL`` once, when pyarrow is imported; ``pa.set_memory_pool`` later changes
only the pool of pyarrow's Python calls, not that of the Parquet reader or compute kernels. So the CLI sets the
variable first thing, and the processes it starts inherit it (an embedded local Ray's workers, the crawl and
extraction children). On a cluster, workers have their node's environment: pass the variable in the job's
``runtime_env`` (README, "On a Ray cluster"). A choice already in the environment is kept; only Linux, where
pyarrow's wheels are built with jemalloc (elsewhere Arrow would warn and keep its default).
"""

from __future__ import annotations

import os
import sys

VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"


def prefer_jemalloc() -> bool:
    """Make jemalloc the Arrow pool of this process and its children, if pyarrow is not imported yet and the
    user chose no pool. Returns whether it did."""
    if VARIABLE in os.environ or "pyarrow" in sys.modules or not sys.platform.startswith("linux"):
        return False
    os.environ[VARIABLE] = "jemalloc"
    return True
