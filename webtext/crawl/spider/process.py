"""Entry point of one crawl process: ``python -m webtext.crawl.spider.process JOB.json``.

Each partition runs in its own process because the Twisted reactor cannot be restarted inside
one; the stage (``webtext.crawl.crawl_stage``) writes the job file and waits for the process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from scrapy.crawler import CrawlerProcess

    from webtext.crawl.config import CrawlConfig
    from webtext.crawl.spider.settings import crawl_settings
    from webtext.crawl.spider.spider import UrlListSpider

    job = json.loads(Path((argv or sys.argv[1:])[0]).read_text())
    cfg = CrawlConfig(**job["config"])
    settings = crawl_settings(cfg, Path(job["warc"]), Path(job["log_chunks"]))
    process = CrawlerProcess(settings, install_root_handler=True)
    process.crawl(UrlListSpider, partition=job["partition"], done=job.get("done", ""))
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
