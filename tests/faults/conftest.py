"""The fault suite's undisturbed baselines, one per stage, built once per session from tiny inputs."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/: hostile_web's page()

PAGES_PER_WARC = 4


def write_warc(path: Path, host: str, n: int) -> list[str]:
    """A WARC of ``n`` ordinary HTML pages (``hostile_web.page``); returns their URLs."""
    from hostile_web import page
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    urls = []
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True, warc_version="1.1")
        for i in range(n):
            url = f"http://{host}/p/{i}.html"
            body = page(host, f"/p/{i}.html")
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                               ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                          length=len(body), http_headers=http))
            urls.append(url)
    return urls


class ExtractBase:
    """Two WARC files and the undisturbed extract of them (``out``), run through the CLI."""

    def __init__(self, root: Path) -> None:
        from faultkit import run

        self.warcs = root / "warcs"
        self.warcs.mkdir()
        self.urls = [u for i in range(2) for u in write_warc(self.warcs / f"w{i}.warc.gz", f"127.0.0.{40 + i}",
                                                             PAGES_PER_WARC)]
        self.out = root / "extract"
        done = run(self.args(self.out))
        assert done.returncode == 0, done.stderr[-3000:]

    def args(self, out: Path) -> list[str]:
        return ["extract", str(self.warcs), "--out", str(out), "--runner", "local", "--max-retries", "0",
                "--no-quality-filters", "--no-dates"]


@pytest.fixture(scope="session")
def extract_base(tmp_path_factory) -> ExtractBase:
    return ExtractBase(tmp_path_factory.mktemp("extract-base"))


class UrlsBase:
    """Two small Pushshift-format dumps and the undisturbed urls stage on them (``out``)."""

    def __init__(self, root: Path) -> None:
        from faultkit import run

        from webtext.demo.sample_dump import write_sample_dump

        self.dumps = root / "dumps"
        write_sample_dump(self.dumps / "RS_2017-10.zst", 1500, seed=1, junk_every=97, long_window=True)
        write_sample_dump(self.dumps / "RS_2017-11.xz", 1500, seed=2, junk_every=97)
        self.out = root / "urls"
        done = run(self.args(self.out))
        assert done.returncode == 0, done.stderr[-3000:]

    def args(self, out: Path) -> list[str]:
        return ["urls", str(self.dumps), "--out", str(out), "--buckets", "4", "--runner", "local",
                "--max-retries", "0"]


@pytest.fixture(scope="session")
def urls_base(tmp_path_factory) -> UrlsBase:
    return UrlsBase(tmp_path_factory.mktemp("urls-base"))


class ChainBase:
    """The stages after extract, undisturbed, through the CLI, on a tiny corpus (memorization_fixtures:
    background text, planted repeats, benchmark passages): dedup -> contamination, train-tokenizer ->
    tokenize -> train -> eval -> memorization. ``baseline(stage)`` runs a stage (and those it reads)
    once; ``args(stage, out)`` is the command line a fault test reruns, reading the baselines."""

    STEPS = 4  # checkpoints at steps 2 and 4: a resume has a checkpoint to start from and steps to redo
    READS: ClassVar[dict[str, tuple[str, ...]]] = {
        "dedup": (), "contamination": ("dedup",), "train-tokenizer": ("dedup",), "tokenize": ("train-tokenizer",),
        "train": ("tokenize",), "eval": ("train",), "memorization": ("contamination", "eval")}

    def __init__(self, root: Path) -> None:
        from memorization_fixtures import write_corpus

        self.root = root
        corpus = write_corpus(root)
        self.docs, self.quiz = corpus.docs, corpus.benchmark
        self.done: set[str] = set()

    def out(self, stage: str) -> Path:
        return self.root / stage

    def baseline(self, stage: str) -> Path:
        from faultkit import run

        if stage not in self.done:
            for upstream in self.READS[stage]:
                self.baseline(upstream)
            done = run(self.args(stage, self.out(stage)))
            assert done.returncode == 0, done.stderr[-3000:]
            self.done.add(stage)
        return self.out(stage)

    def args(self, stage: str, out: Path) -> list[str]:
        runner = ["--runner", "local", "--max-retries", "0"]
        quiz = f"quiz=lines:{self.quiz}"
        line = {
            "dedup": [str(self.docs), "--partitions", "2", *runner],
            "contamination": [str(self.out("dedup")), "--benchmark", quiz, "--mode", "bloom", "--random-check",
                              "1000", *runner],
            "train-tokenizer": [str(self.out("dedup")), "--vocab-size", "400", *runner],
            "tokenize": [str(self.out("dedup")), "--tokenizer", str(self.out("train-tokenizer")), "--val-fraction",
                         "0.25", *runner],
            "train": ["--data", str(self.out("tokenize")), "--preset", "tiny", "--batch-size", "8", "--seq-len", "64",
                      "--seed", "3", "--deterministic", "--device", "cpu", "--max-steps", str(self.STEPS),
                      "--checkpoint-every", "2", "--resume"],
            "eval": [str(self.out("train")), "--task", quiz, "--device", "cpu"],
            "memorization": ["--run", str(self.out("train")), "--tokens", str(self.out("tokenize")),
                             "--contamination", str(self.out("contamination")), "--eval", str(self.out("eval")),
                             "--prefix-tokens", "12", "--suffix-tokens", "12", "--documents", "20", "--samples", "4",
                             "--sample-tokens", "32", "--heldout-tokens", "512", "--bootstrap", "50"],
        }[stage]
        return [stage, *line, "--out", str(out)]


@pytest.fixture(scope="session")
def chain(tmp_path_factory) -> ChainBase:
    return ChainBase(tmp_path_factory.mktemp("chain-base"))
