"""Pooled window figures: histograms merged (never averaged percentiles), counts summed."""

from __future__ import annotations

import pytest

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats
from loadtrial.load.pooled import after_warmup, loaded_seconds, pool


def _second(
    k: int, latencies_us: list[float], offered: int, errors: dict[str, int]
) -> IntervalStats:
    hist = hdr.encode(hdr.from_values_us(latencies_us)) if latencies_us else b""
    done = len(latencies_us) + sum(errors.values())
    return IntervalStats(
        k, offered=offered, sent=offered, completed=done, ok=len(latencies_us),
        errors=errors, latency_hist=hist,
    )  # fmt: skip


def test_percentiles_come_from_the_merged_histogram_not_averaged() -> None:
    # 99 fast answers in one second, one slow second of 100 slow answers: the pooled p50 is
    # slow (100 of 199 values), whereas averaging the two seconds' p50s would give ~0.5 s.
    fast = _second(0, [1_000.0] * 99, 99, {})
    slow = _second(1, [1_000_000.0] * 100, 100, {"timeout": 1})
    window = pool([slow, fast])  # any order
    assert window.quantile_s(50.0) == pytest.approx(1.0, rel=1e-3)
    assert window.quantiles_us([100.0])[100.0] == pytest.approx(1_000_000, rel=1e-3)
    assert window.completed == 200 and window.ok == 199 and window.offered == 199
    assert window.errors == {"timeout": 1} and window.error_rate == pytest.approx(1 / 200)
    assert window.seconds == 2 and window.throughput_per_s == 100.0


def test_an_empty_window_has_no_figures_to_judge() -> None:
    window = pool([])
    assert window.quantile_s(99.0) is None and window.error_rate is None
    assert window.throughput_per_s == 0.0 and window.seconds == 0
    only_errors = pool([_second(0, [], 10, {"connect_refused": 10})])
    assert only_errors.quantile_s(99.0) is None and only_errors.error_rate == 1.0


def test_warmup_and_drain_seconds() -> None:
    seconds = [_second(k, [1_000.0], 1 if k < 3 else 0, {}) for k in range(5)]
    assert [s.second for s in after_warmup(seconds, 1.0)] == [1, 2, 3, 4]
    assert loaded_seconds(seconds) == 3  # the two drain seconds offered nothing
    assert pool(after_warmup(seconds, 1.0)).seconds == 2
