"""Summary and log lines say what happened: crawl's deliberate skips are not errors, and Ray's
start-up line mentions a dashboard only when one starts."""

from __future__ import annotations

import logging
from unittest import mock

import pytest

from webtext.crawl.stage import summarise_crawl
from webtext.data import Manifest


def crawl_manifest(**stats: int) -> Manifest:
    return Manifest(stage="crawl", fingerprint="f", config={}, inputs=[], shards=[], stats=stats)


def test_deliberate_skips_are_not_counted_as_errors():
    line = summarise_crawl(crawl_manifest(urls=1062, stored=156, status_200=156, error_skipped=900, error_robots=4,
                                          error_not_html=2))
    assert line == ("crawl: 1,062 URLs -> 156 pages stored in WARC (156 answered 200; not fetched by rule: "
                    "skipped 900, robots 4; not pages: not_html 2; errors: none)")


def test_real_errors_are_listed_as_errors():
    line = summarise_crawl(crawl_manifest(urls=10, stored=5, status_200=5, error_timeout=3, error_http_error=1,
                                          error_blocked=1))
    assert line.endswith("(5 answered 200; not fetched by rule: blocked 1; errors: timeout 3, http_error 1)")


@pytest.mark.parametrize(("dashboard", "said"), [(True, "dashboard on 127.0.0.1"), (False, "no dashboard")])
def test_ray_start_line_says_whether_a_dashboard_starts(monkeypatch, dashboard, said):
    ray = pytest.importorskip("ray")
    from webtext.runner import ray_runner

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    ray_runner.log.addHandler(handler)
    old_level = ray_runner.log.level
    ray_runner.log.setLevel(logging.INFO)
    try:
        with mock.patch.object(ray, "is_initialized", return_value=False), mock.patch.object(ray, "init") as init:
            assert ray_runner.init_ray(num_cpus=1, dashboard=dashboard) is True
    finally:
        ray_runner.log.removeHandler(handler)
        ray_runner.log.setLevel(old_level)
    assert init.call_args.kwargs["include_dashboard"] is dashboard
    messages = [r.getMessage() for r in records]
    assert f"starting an embedded local Ray ({said})" in messages
    assert not any("dashboard on" in m for m in messages) or dashboard
