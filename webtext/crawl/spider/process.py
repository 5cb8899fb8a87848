"""Entry point of one crawl process: ``python -m webtext.crawl.spider.process JOB.json``.

Each partition runs in its own process because the Twisted reactor cannot be restarted inside
one; the stage (``webtext.crawl.crawl_stage``) writes the job file and waits for the process.
The process dies with the stage (``webtext.lifeline``) and holds its partition's crawler lock
while it runs, so a rerun can tell a crawler that is still writing the WARC from a dead one.
"""

from __future__ import annotations

import fcntl
import gc
import json
import os
import socket
import sys
from pathlib import Path

from webtext import lifeline

CRAWLER_LOCK = "crawler.lock"  # in the partition's log-chunks folder: held by its running crawler


def main(argv: list[str] | None = None) -> int:
    from scrapy.crawler import CrawlerProcess

    from webtext.crawl.config import CrawlConfig
    from webtext.crawl.spider.settings import crawl_settings
    from webtext.crawl.spider.spider import UrlListSpider

    lifeline.hold()
    job_path = Path((argv or sys.argv[1:])[0])
    job = json.loads(job_path.read_text())
    lock = os.open(job_path.with_name(CRAWLER_LOCK), os.O_RDWR | os.O_CREAT, 0o644)  # held until this process ends
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.ftruncate(lock, 0)
    os.write(lock, f"pid {os.getpid()} on {socket.gethostname()}".encode())
    cfg = CrawlConfig(**job["config"])
    settings = crawl_settings(cfg, Path(job["warc"]), Path(job["log_chunks"]))
    process = CrawlerProcess(settings, install_root_handler=True)
    process.crawl(UrlListSpider, partition=job["partition"], done=job.get("done", ""))
    process.start()
    # The crawl is over and every file closed (the pipelines close with the spider). What scrapy and Twisted built is
    # frozen out of the garbage collector before the interpreter exits, as ``webtext.cli.run`` does: the collections
    # of interpreter shutdown took ~0.27 s of every crawl process (0.08 s frozen), on the stage's critical path.
    gc.freeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
