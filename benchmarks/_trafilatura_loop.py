"""The peer of ``webtext-build extract`` as a user would run it: one Python process that reads the WARC files with
warcio and calls ``trafilatura.extract`` (its defaults) on every response record's body decoded as UTF-8 (errors
replaced), the loop ``benchmarks/extract.py`` also times in its own process. Prints one JSON line: pages, extracted.

    python benchmarks/_trafilatura_loop.py WARC...
"""

from __future__ import annotations

import json
import sys

import trafilatura
from warcio.archiveiterator import ArchiveIterator


def main(paths: list[str]) -> None:
    pages = extracted = 0
    for path in paths:
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response":
                    continue
                body = record.content_stream().read()
                pages += 1
                extracted += trafilatura.extract(body.decode("utf-8", errors="replace")) is not None
    print(json.dumps({"pages": pages, "extracted": extracted}))


if __name__ == "__main__":
    main(sys.argv[1:])
