"""The scrapy project behind ``webtext-build crawl``, in scrapy's own shape: settings, a dataclass
item, one spider, small downloader middlewares (address safety, robots.txt, retry back-off) and
pipelines (WARC writer, fetch log). One crawl process crawls one URL partition.

Nothing here is imported by ``import webtext``: scrapy and Twisted load only in the crawl process.
"""
