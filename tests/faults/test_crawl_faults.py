"""Crawl faults: the driver SIGKILLed mid-crawl (its scrapy process must not outlive it and write
beside the rerun), and the scrapy process itself killed. Either way the rerun's WARC holds every
URL answered exactly once and ``verify`` passes."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from faultkit import assert_no_survivors, cli, fault_env, run
from hostile_web import HostileWeb
from warcio.archiveiterator import ArchiveIterator

from webtext.paths import side_dir

pytestmark = pytest.mark.slow

HOST = "127.0.0.31"
URLS = 40


def _args(urls: Path, out: Path, delay: float = 0.05) -> list[str]:
    return ["crawl", str(urls), "--out", str(out), "--allow-network", "127.0.0.0/8", "--partitions", "1",
            "--delay", str(delay), "--download-timeout", "3", "--log-chunk-rows", "5", "--runner", "local",
            "--max-retries", "0"]


def _responses(out: Path) -> Counter[str]:
    with open(side_dir(out, "warc") / "part-00000.warc.gz", "rb") as f:
        return Counter(r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f)
                       if r.rec_type == "response")


def _assert_complete(out: Path, urls: list[str]) -> None:
    assert _responses(out) == Counter(urls)  # every URL answered once: none twice, none lost
    assert sorted(pq.read_table(out / "part-00000.parquet")["url"].to_pylist()) == sorted(urls)
    verify = subprocess.run([*cli(), "verify", str(out)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout


@pytest.fixture()
def web(tmp_path):
    with HostileWeb((HOST,)) as web:
        urls = [web.url(HOST, f"/r/{i}.html") for i in range(URLS)]
        (tmp_path / "urls.txt").write_text("\n".join(urls) + "\n")
        yield tmp_path / "urls.txt", urls


def test_driver_sigkilled_mid_crawl_leaves_no_crawler_and_rerun_stores_each_page_once(web, tmp_path):
    urls_file, urls = web
    out = tmp_path / "crawl"
    env, mark = fault_env()
    chunks = side_dir(out, "log-chunks") / "00000"
    # slow enough that an orphaned crawler would still be fetching well after the survivors' grace (5 s)
    driver = subprocess.Popen([*cli(), *_args(urls_file, out, delay=0.3)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (chunks / "chunk-000001.parquet").exists():
            assert driver.poll() is None, "the crawl ended before it could be killed"
            assert time.monotonic() < deadline, "no second fetch-log chunk after 120 s"
            time.sleep(0.02)
        os.kill(driver.pid, signal.SIGKILL)  # the driver only, as the campaign did: not its process group
    finally:
        driver.wait()
    assert_no_survivors(mark)  # the scrapy process died with it (its lifeline)
    second = run(_args(urls_file, out, delay=0.3))
    assert second.returncode == 0, second.stderr[-3000:]
    _assert_complete(out, urls)


def test_crawler_process_killed_fails_naming_its_log_then_rerun_completes(web, tmp_path):
    urls_file, urls = web
    out = tmp_path / "crawl"
    first = run(_args(urls_file, out), fault=f"kill:crawl-page:{urls[12]}", once=tmp_path / "once")
    assert first.returncode == 1
    assert "crawl process exited with status -9; see " in first.stderr and "part-00000.log" in first.stderr
    second = run(_args(urls_file, out), fault=f"kill:crawl-page:{urls[12]}", once=tmp_path / "once")
    assert second.returncode == 0, second.stderr[-3000:]
    _assert_complete(out, urls)
