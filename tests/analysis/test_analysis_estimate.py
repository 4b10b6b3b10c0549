"""Pooled figures and their intervals: merged histograms, runs as the unit, known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from window_synth import arm

from loadtrial.analysis import hist
from loadtrial.analysis.estimate import (
    WindowSample,
    arm_interval,
    block_length,
    pooled_value,
    run_value,
    window_sample,
)


def _run(
    run_id: int, values_us: list[float], seconds: int, ok: float | None = None
) -> WindowSample:
    """`seconds` identical seconds, each with `values_us` latencies."""
    idx = np.searchsorted(hist.highest_values(), values_us)
    row = np.bincount(idx, minlength=hist.highest_values().size)
    n = float(len(values_us))
    done = np.full(seconds, n)
    good = np.full(seconds, n if ok is None else ok)
    return window_sample(run_id, np.tile(row, (seconds, 1)), done, done - good, good)


def test_pooled_percentiles_come_from_the_merged_histogram() -> None:
    # run a: 900 fast, run b: 100 slow; the pooled p99 is slow (no average of percentiles)
    a, b = _run(1, [1_000.0] * 90, 10), _run(2, [2_000_000.0] * 10, 10)
    assert pooled_value("p50", [a, b]) == pytest.approx(1_000.0, rel=1e-3)
    assert pooled_value("p99", [a, b]) == pytest.approx(2_000_000.0, rel=1e-3)
    assert run_value("p99", a) == pytest.approx(1_000.0, rel=1e-3)
    assert arm_interval("p99", [a, b]).method == "t over 2 runs"


def test_pooled_value_equals_the_full_histogram_quantile() -> None:
    runs = arm(np.random.default_rng(5), 3)
    merged = np.zeros(hist.highest_values().size, dtype=np.int64)
    for s in runs:
        merged[s.cols] += s.rows.sum(axis=0)
    for p, key in ((50.0, "p50"), (99.0, "p99"), (99.9, "p999")):
        assert pooled_value(key, runs) == hist.quantiles(merged, (p,))[p]


def test_t_interval_over_runs_known_answer() -> None:
    # three runs of 10, 12 and 14 ok/s: mean 12, s 2, t(0.975, 2) = 4.3027
    runs = [_run(i, [5_000.0] * 20, 10, ok=ok) for i, ok in enumerate((10.0, 12.0, 14.0))]
    got = arm_interval("throughput", runs)
    assert got.value == pytest.approx(12.0)
    assert got.low == pytest.approx(12 - 4.3027 * 2 / math.sqrt(3), rel=1e-4)
    assert got.high == pytest.approx(12 + 4.3027 * 2 / math.sqrt(3), rel=1e-4)


def test_single_run_interval_brackets_the_value_and_says_it_is_one_run() -> None:
    one = arm(np.random.default_rng(1), 1)
    got = arm_interval("p90", one)
    assert "within one run" in got.method
    assert got.low < got.value < got.high


def test_block_length_grows_with_the_run() -> None:
    assert [block_length(n) for n in (3, 10, 60, 400)] == [3, 5, 8, 20]
