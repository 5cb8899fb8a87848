"""benchmarks/scale.py's projection arithmetic on a hand-made measurement (no timing)."""

from __future__ import annotations

import pytest
from benchmark_script import loaded


@pytest.fixture(scope="module")
def scale():
    yield from loaded("scale")


def stage(records: int, cpu: float, serial: float = 0.0, **extra) -> dict:
    return {"records_in": records, "records_out": records, "bytes_in": records * 100, "bytes_out": records * 10,
            "wall_s": cpu, "cpu_s": cpu, "task_s": cpu, "serial_s": serial, "serial_passes": ["x"] if serial else [],
            "peak_memory": 2**20, "input": "hand-made", **extra}


RECIPE = {"submissions": 1000, "dump_files": 10**6, "urls": 1000, "documents": 100, "text_bytes": 10**6,
          "crawl_delay_s": 1.0, "sources": {}}
HOSTS = {"urls": 100, "largest_host_urls": 10, "hosts": 20, "largest_host": "a.example", "input": "hand-made"}


def measured():
    return {
        "crawl": stage(10, 3600.0),  # 360 core-s per page: 100 core-hours at 1000 pages
        "extract": stage(10, 36.0, bytes_text_out=10_000),
        "dedup": stage(10, 36.0, serial=18.0, bytes_text_in=1000),
        "tokenize": stage(10, 36.0, bytes_text_in=10**4, tokens=2500),
    }


def test_core_bound_stage_halves_with_twice_the_nodes(scale):
    p = {x.stage: x for x in scale.project(measured(), HOSTS, RECIPE, nodes=(1, 2, 4), cores_per_node=1)}
    tok = p["tokenize"]  # 36 core-s per 10^4 bytes -> 3600 core-s at 10^6 bytes
    assert tok.core_hours == pytest.approx(1.0)
    assert tok.wall_hours[2] == pytest.approx(tok.wall_hours[1] / 2)
    assert tok.wall_hours[4] == pytest.approx(tok.wall_hours[1] / 4)
    assert tok.disk_bytes == pytest.approx(10 * 10 * 100)  # 100 bytes written, 100x the input


def test_politeness_floor_holds_for_crawl(scale):
    p = {x.stage: x for x in scale.project(measured(), HOSTS, RECIPE, nodes=(1, 10**6), cores_per_node=1)}
    floor_h = 1000 * 10 / 100 * 1.0 / 3600  # largest host 10% of 1000 pages, 1 s apart
    assert p["crawl"].wall_hours[1] == pytest.approx(100.0)
    assert p["crawl"].wall_hours[10**6] == pytest.approx(floor_h)
    assert "politeness" in p["crawl"].limit


def test_single_task_pass_does_not_shrink_and_limiting_stage_is_named(scale):
    p = scale.project(measured(), HOSTS, RECIPE, nodes=(1, 10**6), cores_per_node=1)
    dedup = {x.stage: x for x in p}["dedup"]
    # dedup reads 1000 URLs x 1000 text bytes per page = 10^6 bytes: 1000x the measured 1000 bytes
    assert dedup.wall_hours[10**6] == pytest.approx(18.0 * 1000 / 3600, rel=1e-3)
    assert "single-task" in dedup.limit
    worst = scale.limiting_stage(p, nodes=10**6)
    assert worst.stage == "dedup"
    text = scale.report({"date": "d", "machine": "m", "stages": measured(), "hosts": HOSTS}, RECIPE)
    assert "Limiting stage at 64 nodes" in text
