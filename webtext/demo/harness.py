"""``webtext-build demo``: build a sample and run every stage that exists on it.

The sample: a loopback website (``webtext.demo.web``: real prose from Python's own
documentation in realistic boilerplate, on several 127.0.0.x hosts, with duplicates, non-HTML
links, dead links and a robots.txt-disallowed section), a Pushshift-format dump whose links point
at it, and generated dumps (long-window ``.zst`` and ``.xz``, with self posts, NSFW, reposts in
other spellings and junk lines). Stages: ``urls`` on every dump, ``crawl`` of the website's
URLs, ``extract`` of the crawled pages. Each later stage adds itself here.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from webtext.config import CrawlConfig, ExtractConfig, UrlsConfig
from webtext.data import Manifest
from webtext.demo.sample_dump import write_sample_dump
from webtext.demo.web import DemoServer, DemoSite, free_port, write_site_dump
from webtext.pipeline import STAGE_FUNCTIONS
from webtext.runner import Runner

log = logging.getLogger(__name__)

DEMO_SUBMISSIONS = 6_000


def _port(workdir: Path) -> tuple[int, bool]:
    """The site's port, and whether it is the one used before in this folder (reruns skip work)."""
    saved = workdir / "web" / "port"
    if saved.exists():
        port = int(saved.read_text())
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.10", port))
                return port, True
            except OSError:
                pass
    port = free_port()
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(str(port))
    return port, False


def run_demo(workdir: Path, runner: Runner, submissions: int = DEMO_SUBMISSIONS) -> dict[str, Manifest]:
    """Generate the sample under ``workdir`` and run the stages; returns each stage's manifest."""
    workdir = Path(workdir)
    dumps = workdir / "dumps"
    port, same_port = _port(workdir)
    site = DemoSite(seed=0, port=port)
    site_dump = dumps / "RS_2017-12.zst"
    if not (same_port and site_dump.exists()):  # the dump's URLs name the port
        write_site_dump(site_dump, site, seed=3)
    half = submissions // 2
    for name, n, seed in (("RS_2017-10.zst", half, 1), ("RS_2017-11.xz", submissions - half, 2)):
        path = dumps / name
        if not path.exists():
            write_sample_dump(path, n, seed=seed, junk_every=97, long_window=name.endswith(".zst"))
    log.info("demo: dumps in %s, website on %s", dumps, ", ".join(site.base_url(h) for h in site.hosts))
    results: dict[str, Manifest] = {}
    urls_cfg = UrlsConfig(inputs=[str(dumps)], created_before="2018-01-01", buckets=4)
    results["urls"] = STAGE_FUNCTIONS["urls"](urls_cfg, workdir / "urls", runner)
    crawl_cfg = CrawlConfig(
        inputs=[str(workdir / "urls")], partitions=2, concurrency=16, delay=0.2, download_timeout=10,
        allow_network=["127.0.0.0/8"], hosts=sorted({u.split("/")[2].split(":")[0] for u in site.urls()}), retries=1,
    )
    with DemoServer(site):
        results["crawl"] = STAGE_FUNCTIONS["crawl"](crawl_cfg, workdir / "crawl", runner)
    extract_cfg = ExtractConfig(inputs=[str(workdir / "crawl")], languages=["en"])
    results["extract"] = STAGE_FUNCTIONS["extract"](extract_cfg, workdir / "extract", runner)
    return results
