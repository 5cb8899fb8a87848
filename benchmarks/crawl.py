"""Benchmark of the ``crawl`` stage against a minimal scrapy spider, on a fast loopback web.

A dedicated HTTP/1.1 server (raw ``asyncio`` protocol, keep-alive, responses pre-rendered in
memory) runs in its own *process* on ``--hosts`` loopback addresses ``127.0.x.y``, all on one
port, and serves ``--pages`` distinct URLs spread evenly over them: realistic 20-60 KB HTML
articles (prose from Python's own ``pydoc_data`` wrapped in navigation, sidebar, comments,
footer and script) and an allow-all ``robots.txt``. The URL list is shuffled, as Reddit's links
are, so consecutive requests go to different hosts. The hosts are picked so that the crawl
stage's host-hash split into 2 partitions is even (so figure 2 measures parallelism, not the
luck of the hash). The machine's cores are shared with the server; its CPU time during the
runs is printed (about 2% of one core on a 2-core machine). A warning is logged if the machine
is already busy when the benchmark starts: other load makes every figure noisy.

Three figures, measured in one run:

1. **Throughput, 1 partition** -- pages/s (HTTP 200 responses stored) of
   ``webtext-build crawl URLS --partitions 1 --runner local --concurrency C
   --concurrency-per-host 1 --delay 0 --no-autothrottle --allow-network 127.0.0.0/8``
   (address safety, robots.txt, WARC + Parquet fetch log, all on) against the **baseline**: a
   minimal scrapy spider (``CrawlerProcess`` in its own Python process) with the same
   concurrency -- ``CONCURRENT_REQUESTS=C``, ``CONCURRENT_REQUESTS_PER_DOMAIN=1``,
   ``DOWNLOAD_DELAY=0``, ``ROBOTSTXT_OBEY=False``, AutoThrottle off -- that only writes every
   body to a file. Both are timed as whole child processes (interpreter start-up to exit; the
   stage's partition and merge passes included); scrapy's own ``elapsed_time_seconds`` is shown
   too. Target (issue #19): stage >= 0.9x baseline. Median of ``--repeats`` runs each, alternated.
2. **Scaling** -- the stage with ``--partitions 2``: two Ray workers (``RayRunner(num_cpus=2)``)
   against the local runner, which crawls the two partitions one after another. Both run in this
   process (each partition is a scrapy child process either way); Ray is started and warmed up
   *before* the clock starts, its start-up is printed but excluded, and the end-to-end
   ``webtext-build crawl --runner ray --num-cpus 2`` time (Ray start-up included) is printed as
   well. Target: >= 1.7x on 2 cores.
3. **Memory** -- peak RSS of the stage's scrapy process (``VmHWM`` from ``/proc``, read while it
   runs) and of the whole ``webtext-build`` process tree (sampled sum), from the runs of
   figure 1, next to the baseline spider's.

Every crawl writes into a fresh folder under ``--workdir`` (default ``benchmarks/out/crawl``,
git-ignored; the stage skips work already done in a folder), removed afterwards.

    python benchmarks/crawl.py            # default: 3,000 pages on 50 hosts, concurrency 32
    python benchmarks/crawl.py --quick    # smoke run: 600 pages on 50 hosts, 1 repetition
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import multiprocessing
import os
import platform
import random
import re
import socket
import statistics
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from _report import (  # benchmarks/_report.py, beside this script
    FreshOut,
    Row,
    TreeMemory,
    begin,
    check_parts,
    cpu_ticks,
    finish,
    mib,
    timed_child,
    verdict,
)

log = logging.getLogger("benchmarks.crawl")

TARGET_THROUGHPUT = 0.9  # stage / baseline pages/s, 1 partition (issue #19)
TARGET_SPEEDUP = 1.7  # 2 partitions: 2 Ray workers / local runner
VARIANTS = 256  # distinct pre-rendered page bodies; each URL maps to one by a hash of its path
PAGE_BYTES = (20_000, 60_000)
WARMUP_PAGES = 150
ROBOTS = b"User-agent: *\nAllow: /\n"
PARTS = ("throughput", "scaling")


# ---------------------------------------------------------------------------------------------
# The loopback web: pages, hosts, server process


def _paragraphs() -> list[str]:
    """English prose paragraphs from Python's own documentation topics (no download)."""
    from pydoc_data.topics import topics

    out = []
    for key in sorted(topics):
        for block in re.split(r"\n\s*\n", topics[key]):
            text = " ".join(block.split())
            if len(text) > 160 and text.count(" ") > 25 and not text.startswith(("*", ">>>", "|")):
                out.append(text)
    return out


def render_pages(count: int, seed: int = 0) -> list[bytes]:
    """``count`` distinct news-article pages of 20-60 KB with typical boilerplate around the text."""
    rng = random.Random(seed)
    paras = _paragraphs()
    words = [w for w in re.findall(r"[A-Za-z]{4,}", " ".join(paras[:400]))]
    nav = "".join(f'<li><a href="/section/{w.lower()}/">{w.title()}</a></li>' for w in words[:30])
    style = "<style>" + "".join(
        f".c{i}{{margin:{i % 7}px;padding:{i % 5}px;color:#{i * 4099 % 0xFFFFFF:06x};font-size:{10 + i % 9}px}}"
        for i in range(60)) + "</style>"
    script = "<script>" + "".join(
        f"window.dataLayer=window.dataLayer||[];dataLayer.push({{'event':'e{i}','v':{i * 31 % 97}}});"
        for i in range(40)) + "</script>"
    pages = []
    for n in range(count):
        target = rng.randint(*PAGE_BYTES)
        title = " ".join(rng.sample(words, 6)).capitalize()
        body: list[str] = []
        size = 3_000 + len(nav) + len(style) + len(script)
        i = rng.randrange(len(paras))
        while size < target:
            p = f"<p>{html.escape(paras[i % len(paras)])}</p>\n"
            body.append(p)
            size += len(p)
            i += 1
        related = "".join(f'<li><a href="/news/{rng.randrange(10**6):06d}.html">{" ".join(rng.sample(words, 5))}</a>'
                          f"</li>" for _ in range(12))
        comments = "".join(f'<div class="comment"><b>user{rng.randrange(999)}</b> '
                           f"<p>{html.escape(rng.choice(paras)[:200])}</p></div>" for _ in range(rng.randint(2, 8)))
        page = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title} | Loopback News</title>'
            f'<meta name="description" content="{html.escape(body[0][3:160])}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">{style}</head>\n'
            f'<body><div id="cookie-banner">We use cookies to improve your experience. <button>Accept</button></div>'
            f'<header><a class="logo" href="/">Loopback News</a><nav><ul>{nav}</ul></nav></header>\n'
            f'<main><article id="a{n}"><h1>{title}</h1><p class="byline">By Staff Writer, {2010 + n % 8}</p>\n'
            f'{"".join(body)}</article>\n<aside><h2>Related</h2><ul>{related}</ul></aside>\n'
            f'<section id="comments"><h2>Comments</h2>{comments}</section></main>\n'
            f'<footer><p>&copy; Loopback News. All rights reserved.</p><ul>{nav}</ul></footer>{script}</body></html>\n'
        )
        pages.append(page.encode())
    return pages


def pick_hosts(count: int) -> list[str]:
    """``count`` loopback addresses, half of them in each of the stage's 2 host-hash partitions."""
    wanted = {0: count // 2, 1: count - count // 2}
    hosts: list[str] = []
    for x in range(0, 256):
        for y in range(2, 255):
            host = f"127.0.{x}.{y}"
            p = zlib.crc32(host.encode()) % 2  # webtext.crawl.crawl_stage.partition_shard's split
            if wanted[p]:
                wanted[p] -= 1
                hosts.append(host)
                if len(hosts) == count:
                    return hosts
    raise ValueError(f"cannot pick {count} loopback hosts")


def make_urls(hosts: Sequence[str], port: int, pages: int, seed: int = 0) -> list[str]:
    """``pages`` distinct URLs, spread evenly over ``hosts``, shuffled (hosts interleave at random)."""
    urls = [f"http://{hosts[i % len(hosts)]}:{port}/news/{2010 + i % 8}/{i:07d}.html" for i in range(pages)]
    random.Random(seed).shuffle(urls)
    return urls


def _response(status: str, ctype: str, body: bytes, date: str) -> bytes:
    head = (f"HTTP/1.1 {status}\r\nServer: bench\r\nDate: {date}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class _HttpProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1 with keep-alive: GET/HEAD without bodies, answers from a table."""

    def __init__(self, pages: list[bytes], robots: bytes, missing: bytes) -> None:
        self.pages, self.robots, self.missing = pages, robots, missing
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while (end := self.buf.find(b"\r\n\r\n")) >= 0:
            head, self.buf = self.buf[:end], self.buf[end + 4:]
            line, _, headers = head.partition(b"\r\n")
            parts = line.split(b" ")
            path = parts[1].split(b"?", 1)[0] if len(parts) > 2 else b""
            if path == b"/robots.txt":
                out = self.robots
            elif path.startswith(b"/news/"):
                out = self.pages[zlib.crc32(path) % len(self.pages)]
            else:
                out = self.missing
            if parts[0] == b"HEAD":
                out = out[: out.index(b"\r\n\r\n") + 4]
            self.transport.write(out)
            if b"connection: close" in headers.lower():
                self.transport.close()
                return


def serve(hosts: list[str], port: int, variants: int, ready: Any) -> None:
    """Server process body: listen on every host (same port) until terminated."""
    date = formatdate(usegmt=True)
    pages = [_response("200 OK", "text/html; charset=utf-8", b, date) for b in render_pages(variants)]
    robots = _response("200 OK", "text/plain", ROBOTS, date)
    missing = _response("404 Not Found", "text/plain", b"not found\n", date)
    loop = asyncio.new_event_loop()
    for host in hosts:
        if not host.startswith("127."):
            raise ValueError(f"refusing to listen on non-loopback {host}")
        loop.run_until_complete(loop.create_server(lambda: _HttpProtocol(pages, robots, missing), host=host,
                                                   port=port, reuse_address=True, backlog=1024))
    parent = os.getppid()

    def watch_parent() -> None:  # the benchmark was killed without stopping us: stop too
        if os.getppid() != parent:
            loop.stop()
        else:
            loop.call_later(1.0, watch_parent)

    loop.call_later(1.0, watch_parent)
    ready.set()
    loop.run_forever()


class LoopbackWeb:
    """The server process (spawned, so it has its own interpreter and GIL)."""

    def __init__(self, hosts: list[str], variants: int = VARIANTS) -> None:
        self.hosts = hosts
        self.variants = variants
        self.port = free_port()
        self.proc: Any = None

    def __enter__(self) -> LoopbackWeb:
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        self.proc = ctx.Process(target=serve, args=(self.hosts, self.port, self.variants, ready), daemon=True,
                                name="bench-web")
        self.proc.start()
        deadline = time.monotonic() + 60
        while not ready.wait(0.1):
            if self.proc.exitcode is not None or time.monotonic() > deadline:
                self.proc.terminate()
                raise RuntimeError(f"the loopback server did not start (exit code {self.proc.exitcode})")
        log.info("server pid %d: %d hosts 127.0.x.y:%d, %d page variants", self.proc.pid, len(self.hosts),
                 self.port, self.variants)
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.join(10)

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server process has used so far."""
        return cpu_ticks(self.proc.pid) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Process-tree memory


# ---------------------------------------------------------------------------------------------
# The two crawlers


BASELINE_SPIDER = '''\
"""Baseline: a minimal scrapy spider that fetches a URL list and writes every body to a file."""
import json
import sys
from pathlib import Path

import scrapy
from scrapy.crawler import CrawlerProcess


class SaveBodies(scrapy.Spider):
    name = "baseline"

    def __init__(self, urls, out, **kwargs):
        super().__init__(**kwargs)
        self.urls = Path(urls).read_text().split()
        self.out = Path(out)
        self.saved = 0

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):
        self.saved += 1
        (self.out / f"{self.saved:07d}.html").write_bytes(response.body)


def main():
    urls, out, concurrency, stats_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    process = CrawlerProcess({
        "CONCURRENT_REQUESTS": concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
    })
    crawler = process.create_crawler(SaveBodies)
    process.crawl(crawler, urls=urls, out=out)
    process.start()
    stats = {k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, (int, float))}
    stats["saved"] = crawler.spider.saved
    Path(stats_path).write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
'''


@dataclass
class Run:
    """One timed crawl: wall seconds, pages stored, scrapy's own crawl seconds, memory."""

    seconds: float
    pages: int
    scrapy_seconds: float | None = None
    memory: TreeMemory | None = None
    server_cpu: float = 0.0  # CPU seconds the loopback server used meanwhile

    @property
    def rate(self) -> float:
        return self.pages / self.seconds




def run_baseline(urls_file: Path, args: argparse.Namespace, label: str) -> Run:
    with FreshOut(args.workdir, label, args.keep) as out:
        script = out / "baseline_spider.py"
        script.write_text(BASELINE_SPIDER)
        bodies = out / "bodies"
        bodies.mkdir()
        stats_path = out / "stats.json"
        cmd = [sys.executable, str(script), str(urls_file), str(bodies), str(args.concurrency), str(stats_path)]
        seconds, memory = timed_child(cmd, out / "spider.log")
        stats = json.loads(stats_path.read_text())
        pages = sum(1 for _ in bodies.iterdir())
    if pages != stats.get("downloader/response_status_count/200", pages):
        log.warning("baseline: %d bodies saved, %s responses with status 200", pages,
                    stats.get("downloader/response_status_count/200"))
    return Run(seconds, pages, stats.get("elapsed_time_seconds"), memory)


def stage_cmd(urls_file: Path, out: Path, args: argparse.Namespace, partitions: int, runner: str) -> list[str]:
    cmd = [sys.executable, "-m", "webtext.cli", "-q", "crawl", str(urls_file), "--out", str(out),
           "--allow-network", "127.0.0.0/8", "--partitions", str(partitions), "--concurrency", str(args.concurrency),
           "--concurrency-per-host", "1", "--delay", "0", "--no-autothrottle", "--runner", runner]
    if runner == "ray":
        cmd += ["--num-cpus", "2", "--no-dashboard"]
    return cmd


def stored_pages(out: Path) -> int:
    """Rows of the fetch log with status 200 and a WARC record."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pages = 0
    for part in sorted(out.glob("part-*.parquet")):
        table = pq.read_table(part, columns=["status", "warc_file", "error"])
        ok = pc.and_(pc.equal(table["status"], 200), pc.is_valid(table["warc_file"]))
        pages += pc.sum(pc.cast(ok, "int64")).as_py() or 0
        errors = [e for e in table["error"].to_pylist() if e]
        if errors:
            log.warning("%s: %d rows with an error, e.g. %s", part.name, len(errors), errors[:3])
    return pages


def scrapy_elapsed(out: Path) -> float | None:
    """Sum of ``elapsed_time_seconds`` in the partitions' scrapy logs."""
    found = [float(m) for f in sorted((out / "logs").glob("part-*.log"))
             for m in re.findall(r"'elapsed_time_seconds': ([0-9.]+)", f.read_text(errors="replace"))]
    return sum(found) if found else None


def run_stage_cli(urls_file: Path, args: argparse.Namespace, label: str, partitions: int = 1,
                  runner: str = "local") -> Run:
    with FreshOut(args.workdir, label, args.keep) as out:
        dataset = out / "crawl"
        seconds, memory = timed_child(stage_cmd(urls_file, dataset, args, partitions, runner), out / "cli.log")
        pages = stored_pages(dataset)
        elapsed = scrapy_elapsed(dataset)
    return Run(seconds, pages, elapsed, memory)


def run_stage_inprocess(urls_file: Path, args: argparse.Namespace, runner: Any, label: str) -> Run:
    """``run_crawl`` with 2 partitions in this process on ``runner``; wall seconds of the call."""
    from webtext.crawl.config import CrawlConfig
    from webtext.crawl.crawl_stage import run_crawl

    cfg = CrawlConfig(inputs=[str(urls_file)], partitions=2, concurrency=args.concurrency, concurrency_per_host=1,
                      delay=0.0, autothrottle=False, allow_network=["127.0.0.0/8"])
    with FreshOut(args.workdir, label, args.keep) as out:
        dataset = out / "crawl"
        start = time.perf_counter()
        run_crawl(cfg, dataset, runner)
        seconds = time.perf_counter() - start
        pages = stored_pages(dataset)
    return Run(seconds, pages)


def logged(web: LoopbackWeb, fn: Callable[[], Run], what: str) -> Run:
    """Call ``fn``, note the server's CPU time meanwhile, log the outcome."""
    cpu = web.cpu_seconds()
    run = fn()
    run.server_cpu = web.cpu_seconds() - cpu
    log.info("%s: %.2f s wall, %d pages, %.0f pages/s%s; server CPU %.2f s", what, run.seconds, run.pages, run.rate,
             f" (scrapy elapsed {run.scrapy_seconds:.2f} s)" if run.scrapy_seconds else "", run.server_cpu)
    return run


def pick_median(runs: list[Run]) -> Run:
    """The run with the median wall time (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]


# ---------------------------------------------------------------------------------------------
# Figures


def figure_throughput(args: argparse.Namespace, web: LoopbackWeb, urls_file: Path,
                      warm_file: Path) -> tuple[list[Row], list[Row]]:
    log.info("warm-up (not timed): baseline and stage on %d pages", WARMUP_PAGES)
    run_baseline(warm_file, args, "warm-baseline")
    run_stage_cli(warm_file, args, "warm-stage")
    base: list[Run] = []
    stage: list[Run] = []
    for i in range(args.repeats):
        n = f"{i + 1}/{args.repeats}"
        base.append(logged(web, lambda: run_baseline(urls_file, args, "baseline"), f"baseline run {n}"))
        stage.append(logged(web, lambda: run_stage_cli(urls_file, args, "stage1"), f"stage, 1 partition, run {n}"))
    b_sec = statistics.median(r.seconds for r in base)
    s_sec = statistics.median(r.seconds for r in stage)
    b_pages, s_pages = base[-1].pages, stage[-1].pages
    if s_pages != b_pages:
        log.warning("the stage stored %d pages, the baseline saved %d", s_pages, b_pages)
    b_rate, s_rate = b_pages / b_sec, s_pages / s_sec
    ratio = s_rate / b_rate
    n = f"median of {args.repeats}" if args.repeats > 1 else "1 run"
    rows = [
        Row(f"1. baseline: minimal scrapy spider, saves bodies [{n}]",
            f"{b_rate:,.0f} pages/s ({b_sec:.2f} s, {b_pages:,} pages)"),
        Row(f"   webtext-build crawl, 1 partition, local [{n}]",
            f"{s_rate:,.0f} pages/s ({s_sec:.2f} s, {s_pages:,} pages)"),
        Row("   ratio stage / baseline (process wall time)", f"{ratio:.2f}x", f">= {TARGET_THROUGHPUT}x",
            verdict(ratio >= TARGET_THROUGHPUT)),
    ]
    if all(r.scrapy_seconds for r in base + stage):
        b_el = statistics.median(r.scrapy_seconds or 0.0 for r in base)
        s_el = statistics.median(r.scrapy_seconds or 0.0 for r in stage)
        b_cr, s_cr = b_pages / b_el, s_pages / s_el
        rows.append(Row("   crawl only (scrapy's elapsed_time_seconds): baseline / stage",
                        f"{b_cr:,.0f} / {s_cr:,.0f} pages/s ({s_cr / b_cr:.2f}x)"))
    s_med = pick_median(stage)
    rows.append(Row("   loopback server CPU during the median stage run",
                    f"{s_med.server_cpu:.2f} s ({100 * s_med.server_cpu / s_med.seconds:.0f}% of one core)"))

    bm, sm = pick_median(base).memory, pick_median(stage).memory
    assert bm is not None and sm is not None
    memory = [
        Row("3. peak RSS, stage's scrapy process (VmHWM), 1 partition", mib(sm.child_peak)),
        Row("   peak RSS, webtext-build process itself (VmHWM)", mib(sm.root_peak)),
        Row("   peak RSS, whole webtext-build tree (sampled sum)", mib(sm.peak_sum)),
        Row("   peak RSS, baseline spider process (VmHWM)", mib(bm.root_peak)),
    ]
    return rows, memory


def figure_scaling(args: argparse.Namespace, web: LoopbackWeb, urls_file: Path, warm_file: Path) -> list[Row]:
    import ray

    from webtext.runner import LocalRunner
    from webtext.runner.ray_runner import RayRunner, init_ray

    local = LocalRunner()
    l_run = logged(web, lambda: run_stage_inprocess(urls_file, args, local, "local2"),
                       "stage, 2 partitions, local runner (one after another)")

    log.info("starting Ray (num_cpus=2, no dashboard) and warming it up; not timed")
    start = time.perf_counter()
    started = init_ray(num_cpus=2, dashboard=False)
    ray_runner = RayRunner(num_cpus=2, dashboard=False)
    try:
        run_stage_inprocess(warm_file, args, ray_runner, "raywarm")
        startup = time.perf_counter() - start
        r_run = logged(web, lambda: run_stage_inprocess(urls_file, args, ray_runner, "ray2"),
                           "stage, 2 partitions, 2 Ray workers")
    finally:
        ray_runner.close()
        if started:
            ray.shutdown()
    cli = logged(web, lambda: run_stage_cli(urls_file, args, "raycli", partitions=2, runner="ray"),
                     "webtext-build crawl --partitions 2 --runner ray --num-cpus 2 (end to end)")
    if r_run.pages != l_run.pages:
        log.warning("Ray stored %d pages, the local runner %d", r_run.pages, l_run.pages)
    speedup = l_run.seconds / r_run.seconds
    return [
        Row("2. stage, 2 partitions, local runner (sequential)",
            f"{l_run.rate:,.0f} pages/s ({l_run.seconds:.2f} s, {l_run.pages:,} pages)"),
        Row("   stage, 2 partitions, 2 Ray workers",
            f"{r_run.rate:,.0f} pages/s ({r_run.seconds:.2f} s, {r_run.pages:,} pages)"),
        Row("   speed-up 2 Ray workers / local", f"{speedup:.2f}x", f">= {TARGET_SPEEDUP}x",
            verdict(speedup >= TARGET_SPEEDUP)),
        Row("   Ray start-up + warm-up (done first, excluded above)", f"{startup:.1f} s"),
        Row("   webtext-build crawl --runner ray, end to end incl. Ray start",
            f"{cli.rate:,.0f} pages/s ({cli.seconds:.2f} s, {l_run.seconds / cli.seconds:.2f}x local)"),
    ]


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=None, help="URLs crawled (default 3,000; 600 with --quick)")
    parser.add_argument("--hosts", type=int, default=50, help="loopback hosts serving them (default 50)")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="concurrent requests per crawl process, both crawlers (default 32); 1 per host")
    parser.add_argument("--quick", action="store_true", help="smoke run: 600 pages, 1 repetition")
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs of the baseline and the 1-partition stage, median taken (default 3; 1 with --quick)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated figures to measure (default: {','.join(PARTS)}; "
                        "memory comes with throughput)")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / "out" / "crawl",
                        help="scratch outputs (default benchmarks/out/crawl/)")
    parser.add_argument("--keep", action="store_true", help="keep every run's output folder")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a figure is below its target")
    parser.add_argument("-v", "--verbose", action="store_true", help="also show the stage's own logging")
    args = parser.parse_args(argv)
    if args.pages is None:
        args.pages = 600 if args.quick else 3_000
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    args.parts = check_parts(parser, args.parts, PARTS)
    if args.pages < 1 or args.hosts < 2 or args.concurrency < 1 or args.repeats < 1:
        parser.error("--pages, --concurrency and --repeats must be >= 1, --hosts >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = begin(args, log)
    hosts = pick_hosts(args.hosts)
    with LoopbackWeb(hosts) as web:
        urls_file = args.workdir / f"urls-{args.pages}-{args.hosts}.txt"
        urls_file.write_text("\n".join(make_urls(hosts, web.port, args.pages)) + "\n")
        warm_file = args.workdir / "urls-warmup.txt"
        warm_file.write_text("\n".join(make_urls(hosts, web.port, WARMUP_PAGES, seed=1)) + "\n")
        split = sum(zlib.crc32(h.encode()) % 2 for h in hosts)
        log.info("%d URLs over %d hosts (host-hash split into 2 partitions: %d / %d hosts)", args.pages,
                 len(hosts), len(hosts) - split, split)

        # Measured in this order so that no Ray process is alive during the 1-partition runs.
        rows: list[Row] = []
        memory: list[Row] = []
        if "throughput" in args.parts:
            rows, memory = figure_throughput(args, web, urls_file, warm_file)
        if "scaling" in args.parts:
            rows += figure_scaling(args, web, urls_file, warm_file)
        rows += memory

    header = (
        f"webtext crawl stage benchmark: {args.pages:,} pages (20-60 KB HTML) on {args.hosts} loopback hosts, "
        f"concurrency {args.concurrency} (1 per host), delay 0, {os.cpu_count()} CPUs shared with the server, "
        f"Python {platform.python_version()}, {time.perf_counter() - started:.0f} s in all"
    )
    return finish(rows, header, args.strict)


if __name__ == "__main__":
    sys.exit(main())
