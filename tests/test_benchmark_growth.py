"""benchmarks/growth.py's linearity and verdict arithmetic on hand-made timings (no timing)."""

from __future__ import annotations

import pytest
from benchmark_script import loaded

FACTORS = [1, 4, 16]


@pytest.fixture(scope="module")
def growth():
    yield from loaded("growth")


def verdict_of(growth, seconds: list[float], memory: float = 1.0) -> str:
    ratios = growth.step_ratios(FACTORS, seconds)
    marginal, fixed = growth.affine(FACTORS, seconds)
    return growth.growth_verdict(ratios, marginal, fixed, memory)


def test_proportional_time_is_linear_and_flat(growth):
    assert growth.step_ratios(FACTORS, [2.0, 8.0, 32.0]) == [1.0, 1.0]
    assert growth.affine(FACTORS, [2.0, 8.0, 32.0]) == (1.0, 0.0)
    assert verdict_of(growth, [2.0, 8.0, 32.0]) == "linear; flat"


def test_a_fixed_cost_is_seen_through(growth):
    seconds = [5.0 + 1.0 * f for f in FACTORS]  # 5 s paid once per run, then 1 s per unit
    ratios = growth.step_ratios(FACTORS, seconds)
    assert ratios[0] == pytest.approx(9 / 6 / 4)  # 0.375: below linear only because of the fixed 5 s
    marginal, fixed = growth.affine(FACTORS, seconds)
    assert (marginal, fixed) == (pytest.approx(1.0), pytest.approx(5.0))
    assert verdict_of(growth, seconds) == "linear after a fixed 5.0 s; flat"


def test_a_first_step_hidden_by_a_fixed_cost_says_so(growth):
    assert growth.affine(FACTORS, [4.0, 3.9, 12.0])[0] is None
    assert verdict_of(growth, [4.0, 3.9, 12.0]) == "fixed cost hides the first step; then 0.77; flat"


def test_quadratic_time_and_growing_memory_are_named(growth):
    seconds = [f * f * 1.0 for f in FACTORS]
    assert growth.step_ratios(FACTORS, seconds) == [4.0, 4.0]
    assert verdict_of(growth, seconds, memory=2.5) == "superlinear (marginal x4.00); memory x2.50"


def test_within_tolerance_still_passes(growth):
    assert verdict_of(growth, [10.0, 44.0, 176.0], memory=1.19) == "linear; flat"  # steps 1.10, 1.00
    assert verdict_of(growth, [10.0, 52.0, 208.0]) == "superlinear (1.30); flat"  # one step 30% above linear


def test_median_of_repeats(growth):
    runs = [{"wall_s": w, "cpu_s": w / 2, "task_s": w - 1, "process_peak_memory": m, "records_in": 10,
             "bytes_in": 100} for w, m in ((3.0, 5), (9.0, 7), (4.0, 6))]
    assert growth.summary(runs) == {"wall_s": 4.0, "cpu_s": 2.0, "task_s": 3.0, "process_peak_memory": 6,
                                    "records_in": 10, "bytes_in": 100}
