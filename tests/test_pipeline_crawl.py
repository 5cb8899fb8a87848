"""urls -> crawl -> extract as one pipelines.yaml, on the demo's loopback web, local and on Ray."""

from __future__ import annotations

import textwrap

import pyarrow.parquet as pq
import pytest

from webtext.data import verify_dataset
from webtext.demo.web import DemoServer, DemoSite, write_site_dump
from webtext.pipeline import load_pipeline, run_pipeline
from webtext.runner import LocalRunner


def _pipeline(tmp_path, site: DemoSite, kind: str):
    write_site_dump(tmp_path / "dumps" / "RS_2017-12.jsonl", site, seed=1)
    hosts = sorted({u.split("/")[2].split(":")[0] for u in site.urls()})
    path = tmp_path / "pipelines.yaml"
    path.write_text(textwrap.dedent(f"""\
        workdir: work
        runner: {{kind: {kind}, max_retries: 0}}
        stages:
          urls:
            inputs: [dumps]
            buckets: 2
          crawl:
            inputs: [work/urls]
            partitions: 2
            delay: 0.02
            download_timeout: 5
            retries: 0
            allow_network: [127.0.0.0/8]
            hosts: {hosts}
          extract:
            inputs: [work/crawl]
            languages: [en]
        """))
    return load_pipeline(path)


def _check(results, site: DemoSite, out):
    assert set(results) == {"urls", "crawl", "extract"}
    assert verify_dataset(out)[1] == []
    log = {r["url"]: r for r in pq.read_table(sorted(out.glob("part-*.parquet"))).to_pylist()}
    urls = {r["url"] for r in pq.read_table(sorted(out.parent.joinpath("urls").glob("part-*.parquet"))).to_pylist()}
    assert set(log) == urls  # one row per kept URL
    articles = [u for u in site.urls("article") if u in log]
    assert articles and all(log[u]["status"] == 200 and log[u]["warc_file"] for u in articles)
    assert all(log[u]["karma"] >= 3 for u in articles)  # lineage carried from the urls stage
    private = [u for u in site.urls("private") if u in log]
    assert private and all(log[u]["error"] == "robots:disallowed" for u in private)
    docs = pq.read_table(sorted(out.parent.joinpath("extract").glob("part-*.parquet"))).to_pylist()
    assert {d["url"] for d in docs} <= {u for u, r in log.items() if r["warc_file"]}  # only stored pages
    assert len(docs) >= len(articles) // 2 and all(d["karma"] >= 3 and d["lang"] == "en" for d in docs)


def test_urls_then_crawl_pipeline_local(tmp_path):
    site = DemoSite(seed=1, hosts=3, pages_per_host=(6, 8))
    pipeline = _pipeline(tmp_path, site, "local")
    with DemoServer(site):
        results = run_pipeline(pipeline, LocalRunner())
    _check(results, site, tmp_path / "work" / "crawl")


@pytest.mark.ray
def test_urls_then_crawl_pipeline_on_ray(ray_local, tmp_path):
    from webtext.runner.ray_runner import RayRunner

    site = DemoSite(seed=2, hosts=3, pages_per_host=(6, 8))
    pipeline = _pipeline(tmp_path, site, "ray")
    with DemoServer(site):
        results = run_pipeline(pipeline, RayRunner(max_retries=0))
    _check(results, site, tmp_path / "work" / "crawl")
