"""``webtext-build demo``: build a sample and run every stage that exists on it.

The sample: a loopback website (``webtext.demo.web``: real prose from Python's own
documentation in realistic boilerplate, on several 127.0.0.x hosts, with duplicates, non-HTML
links, dead links and a robots.txt-disallowed section), a Pushshift-format dump whose links point
at it, and generated dumps (long-window ``.zst`` and ``.xz``, with self posts, NSFW, reposts in
other spellings and junk lines). Stages: ``urls`` on every dump, ``crawl`` of the website's
URLs, ``extract`` of the crawled pages, ``dedup`` of the documents (the website's planted exact
and near copies are what it should find), ``contamination`` of the deduplicated documents with a
demo benchmark whose passages some pages carry, then ``train-tokenizer`` (a small vocab, for
speed) and ``tokenize`` of the deduplicated documents into token shards, and ``train`` of the
``tiny`` GPT-2 on them for a few hundred CPU steps.

The harness names no stage: it builds the sample and a ``DemoContext``, then runs, in registry
order, every stage whose record has a ``demo`` hook (the hook gives its config), into its folder
under the workdir (``demo_out``, default its name), and collects the stages' ``demo_report`` lines.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from webtext.data import Manifest
from webtext.demo.sample_dump import write_sample_dump
from webtext.demo.web import DemoServer, DemoSite, free_port, write_site_dump
from webtext.runner import Runner
from webtext.stage_spec import DemoContext
from webtext.stages import registry

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


def _context(workdir: Path, site: DemoSite) -> DemoContext:
    outs = {spec.name: workdir / (spec.demo_out or spec.name) for spec in registry().values()}
    return DemoContext(workdir=workdir, site=site, dumps=workdir / "dumps",
                       benchmark=workdir / "benchmark" / "demo-quiz.txt", outs=outs, serve=lambda: DemoServer(site))


def run_demo(workdir: Path, runner: Runner, submissions: int = DEMO_SUBMISSIONS) -> dict[str, Manifest]:
    """Generate the sample under ``workdir`` and run the stages; returns each stage's manifest."""
    import contextlib

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
    ctx = _context(workdir, site)
    write_demo_benchmark(site, ctx.benchmark)
    for spec in registry().values():
        got = spec.demo(ctx) if spec.demo is not None else None
        if got is None:
            continue
        cfg, around = got if isinstance(got, tuple) else (got, contextlib.nullcontext())
        with around:
            ctx.results[spec.name] = spec.execute(cfg, ctx.out(spec.name), runner)
    return ctx.results


def demo_reports(workdir: Path) -> list[str]:
    """What the stages' ``demo_report`` hooks say about a finished demo in ``workdir``."""
    workdir = Path(workdir)
    ctx = _context(workdir, DemoSite(seed=0, port=int((workdir / "web" / "port").read_text())))
    return [spec.demo_report(ctx) for spec in registry().values() if spec.demo_report is not None]


def write_demo_benchmark(site: DemoSite, path: Path, leaked: int = 8) -> Path:
    """A demo benchmark, one example per line: the opening paragraph of ``leaked`` public articles
    (pages that carry benchmark passages, as web pages quoting a test set do) and every paragraph of
    the robots-disallowed pages (never crawled, so never in the corpus)."""
    import random

    rng = random.Random(5)
    public = [p for p in site.pages if p.kind == "article" and p.paragraphs]
    carriers = rng.sample(public, min(leaked, len(public)))
    examples = [p.paragraphs[0] for p in carriers]
    examples += [para for p in site.pages if p.kind == "private" for para in p.paragraphs]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(e.split()) for e in examples) + "\n", encoding="utf-8")
    return path
