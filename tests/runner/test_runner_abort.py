"""Abort rules on synthetic seconds and samples (windows, thresholds, units)."""

from __future__ import annotations

from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.observe.model import Sample
from loadtrial.runner.abort import AbortWatch
from loadtrial.spec.model import AbortRule


def _rule(**kw: object) -> AbortRule:
    return AbortRule.model_validate(kw)


def _second(k: int, done: int, errors: int, latency_ms: float = 1.0) -> IntervalStats:
    hist = histogram.encode(histogram.from_values_us([latency_ms * 1000] * max(done, 1)))
    return IntervalStats(k, completed=done, errors={"http_503": errors}, latency_hist=hist)


def test_error_rate_fires_only_when_the_window_is_full_and_above() -> None:
    watch = AbortWatch([_rule(metric="error_rate", above="50%", **{"for": "3s"})])
    assert watch.add_second(_second(0, 10, 9)) is None  # window not full yet
    assert watch.add_second(_second(1, 10, 9)) is None
    decision = watch.add_second(_second(2, 10, 2))  # (9+9+2)/30 = 67 %
    assert (
        decision is not None
        and decision.second == 2
        and "error_rate 66.7% > 50.0%" in decision.reason
    )


def _two_requests(k: int) -> IntervalStats:
    """A second of two requests: pay fails 9 of 10, browse none of 30 (25 % overall)."""
    pay, browse = _second(k, 10, 9), _second(k, 30, 0)
    whole = _second(k, 40, 9)
    return IntervalStats(
        k, completed=40, errors=whole.errors, latency_hist=whole.latency_hist,
        requests={"pay": pay, "browse": browse},
    )  # fmt: skip


def test_a_rule_scoped_to_a_request_judges_that_request_alone() -> None:
    rules = [
        _rule(metric="error_rate", above="50%", request="browse", **{"for": "2s"}),
        _rule(metric="error_rate", above="50%", **{"for": "2s"}),  # the whole run: 25 %
        _rule(metric="error_rate", above="50%", request="pay", **{"for": "2s"}),
    ]
    watch = AbortWatch(rules)
    assert watch.add_second(_two_requests(0)) is None
    decision = watch.add_second(_two_requests(1))
    assert decision is not None and decision.rule_index == 2
    assert "error_rate of request pay 90.0% > 50.0%" in decision.reason


def test_error_rate_below_threshold_never_fires() -> None:
    watch = AbortWatch([_rule(metric="error_rate", above="50%", **{"for": "2s"})])
    assert all(watch.add_second(_second(k, 10, 5)) is None for k in range(5))


def test_p99_over_window() -> None:
    watch = AbortWatch([_rule(metric="p99", above="100ms", **{"for": "2s"})])
    assert watch.add_second(_second(0, 50, 0, latency_ms=5)) is None
    assert watch.add_second(_second(1, 50, 0, latency_ms=5)) is None
    decision = watch.add_second(_second(2, 50, 0, latency_ms=400))
    assert decision is not None and decision.reason.startswith("abort[0]: p99")


def test_observed_metric_must_stay_above_for_the_whole_window() -> None:
    rule = _rule(metric="db.cpu.util", above="90%", **{"for": "2s"})
    watch = AbortWatch([rule])
    watch.add_samples([Sample(0.5, "db.cpu.util", 95.0, "percent")])
    watch.add_samples([Sample(1.5, "db.cpu.util", 50.0, "percent")])  # dips: no abort
    assert watch.add_second(_second(0, 1, 0)) is None
    assert watch.add_second(_second(1, 1, 0)) is None
    watch.add_samples([Sample(2.5, "db.cpu.util", 96.0, "percent")])
    watch.add_samples([Sample(3.5, "db.cpu.util", 99.0, "percent")])
    assert watch.add_second(_second(2, 1, 0)) is None
    decision = watch.add_second(_second(3, 1, 0))
    assert decision is not None and "db.cpu.util" in decision.reason


def test_capacity_scales_a_percent_threshold() -> None:
    watch = AbortWatch([_rule(metric="db.connections.used", above="90%", **{"for": "1s"})])
    watch.add_samples([Sample(0.2, "db.connections.used", 95, "count", capacity=100)])
    assert watch.add_second(_second(0, 1, 0)) is not None
    raw = AbortWatch([_rule(metric="db.connections.used", above=96, **{"for": "1s"})])
    raw.add_samples([Sample(0.2, "db.connections.used", 95, "count", capacity=100)])
    assert raw.add_second(_second(0, 1, 0)) is None
