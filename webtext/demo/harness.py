"""``webtext-build demo``: build a sample and run every stage that exists on it.

Today: a generated Pushshift-format dump (long-window ``.zst``, with self posts, NSFW, reposts in
other spellings, links the filters drop and junk lines) through the ``urls`` stage. Each later
stage adds itself here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from webtext.config import UrlsConfig
from webtext.data import Manifest
from webtext.demo.sample_dump import write_sample_dump
from webtext.pipeline import STAGE_FUNCTIONS
from webtext.runner import Runner

log = logging.getLogger(__name__)

DEMO_SUBMISSIONS = 6_000


def run_demo(workdir: Path, runner: Runner, submissions: int = DEMO_SUBMISSIONS) -> dict[str, Manifest]:
    """Generate the sample under ``workdir`` and run the stages; returns each stage's manifest."""
    workdir = Path(workdir)
    dumps = workdir / "dumps"
    half = submissions // 2
    # Two monthly dumps, as real inputs come: one long-window zstd, one xz.
    for name, n, seed in (("RS_2017-11.zst", half, 1), ("RS_2017-12.xz", submissions - half, 2)):
        path = dumps / name
        if not path.exists():
            write_sample_dump(path, n, seed=seed, junk_every=97, long_window=name.endswith(".zst"))
    log.info("demo: sample dumps with %d submissions in %s", submissions, dumps)
    results: dict[str, Manifest] = {}
    cfg = UrlsConfig(inputs=[str(dumps)], created_before="2018-01-01", buckets=4)
    results["urls"] = STAGE_FUNCTIONS["urls"](cfg, workdir / "urls", runner)
    return results
