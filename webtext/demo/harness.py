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
``tiny`` GPT-2 on them for a few hundred CPU steps, and ``eval`` of it on the demo benchmark
(each passage scored alone, rolling). Each later stage adds itself here.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from webtext.config import (
    ContaminationConfig,
    CrawlConfig,
    DedupConfig,
    ExtractConfig,
    TokenizeConfig,
    TrainConfig,
    TrainTokenizerConfig,
    UrlsConfig,
)
from webtext.data import Manifest
from webtext.demo.sample_dump import write_sample_dump
from webtext.demo.web import DemoServer, DemoSite, free_port, write_site_dump
from webtext.pipeline import STAGE_FUNCTIONS
from webtext.runner import Runner

log = logging.getLogger(__name__)

DEMO_SUBMISSIONS = 6_000
DEMO_VOCAB = 2_048  # GPT-2 has 50,257; the demo corpus is ~150 pages
DEMO_STEPS = 240


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
    dedup_cfg = DedupConfig(inputs=[str(workdir / "extract")], partitions=4)
    results["dedup"] = STAGE_FUNCTIONS["dedup"](dedup_cfg, workdir / "dedup", runner)
    bench = write_demo_benchmark(site, workdir / "benchmark" / "demo-quiz.txt")
    contamination_cfg = ContaminationConfig(
        inputs=[str(workdir / "dedup")], benchmarks=[f"demo-quiz={bench}"], mode="bloom", random_check=100_000,
    )
    results["contamination"] = STAGE_FUNCTIONS["contamination"](
        contamination_cfg, workdir / "contamination", runner)
    docs = [str(workdir / "dedup")]
    tok_cfg = TrainTokenizerConfig(inputs=docs, vocab_size=DEMO_VOCAB)
    results["train-tokenizer"] = STAGE_FUNCTIONS["train-tokenizer"](tok_cfg, workdir / "tokenizer", runner)
    tokenize_cfg = TokenizeConfig(inputs=docs, tokenizer=str(workdir / "tokenizer"), val_fraction=0.05)
    results["tokenize"] = STAGE_FUNCTIONS["tokenize"](tokenize_cfg, workdir / "tokens", runner)
    train_cfg = TrainConfig(data=str(workdir / "tokens"), preset="tiny", max_steps=DEMO_STEPS, seed=7, device="cpu",
                            batch_size=8, checkpoint_every=80, log_every=40, resume=True)
    results["train"] = STAGE_FUNCTIONS["train"](train_cfg, workdir / "run", runner)
    from webtext.eval.eval_stage import demo_config as eval_demo_config

    results["eval"] = STAGE_FUNCTIONS["eval"](eval_demo_config(workdir), workdir / "eval", runner)
    return results


def training_report(workdir: Path) -> str:
    """The demo run's loss curve (every 25 steps) and its validation loss."""
    import json

    from webtext.train.export import eval_loss, load_model, perplexity, split_stream

    rows = [json.loads(line) for line in (Path(workdir) / "run" / "metrics.jsonl").read_text().splitlines() if line]
    curve = " ".join(f"{r['step']}:{r['loss']:.2f}" for r in rows if r["step"] == 1 or r["step"] % 25 == 0)
    model, _ = load_model(Path(workdir) / "run")
    stream, _ = split_stream(Path(workdir) / "tokens", "val")
    loss, n = eval_loss(model, stream)
    return (f"training loss by step: {curve}\nvalidation loss {loss:.3f} (perplexity {perplexity(loss):.1f}) "
            f"over {n:,} held-out tokens")


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


def planted_duplicates_report(workdir: Path) -> str:
    """How the website's planted copies fared: extracted with their original, and caught by dedup."""
    import pyarrow.parquet as pq

    from webtext.extract.extract_stage import doc_id

    workdir = Path(workdir)
    port = int((workdir / "web" / "port").read_text())
    site = DemoSite(seed=0, port=port)
    docs = {r["id"] for f in sorted((workdir / "extract").glob("part-*.parquet"))
            for r in pq.read_table(f, columns=["id"]).to_pylist()}
    removed = {r["id"]: r["kind"] for f in sorted((workdir / "dedup" / "duplicates").glob("part-*.parquet"))
               for r in pq.read_table(f).to_pylist()}
    lines = []
    for kind in ("exact_dup", "near_dup"):
        pairs = [(doc_id(p.url), doc_id(p.original)) for p in site.pages if p.kind == kind and p.original]
        both = [(a, b) for a, b in pairs if a in docs and b in docs]
        caught = sum(1 for a, b in both if a in removed or b in removed)
        lines.append(f"{len(pairs)} {kind.replace('_dup', '')} copies planted, {len(both)} extracted with their "
                     f"original, {caught} caught")
    kinds = list(removed.values())
    return (f"dedup on the demo web: {'; '.join(lines)}; removed {kinds.count('exact')} exact and "
            f"{kinds.count('near')} near duplicates in all")
