"""Abort rules, checked once per second: stop a run early to protect the system.

In: the trial's `abort:` rules, each second's IntervalStats and the latest metric Samples.
Out: the reason of the first rule that fires, or None. Load rules (error_rate, p50, p99)
are judged over the window of the last `for` seconds (errors summed, histograms merged;
a rule's `request` takes that request's part of each second);
an observed metric must stay above its threshold at every sample of the last `for` s.
Percent thresholds ("95%") compare with a percent-unit metric / 100, or with
value / capacity when the sample has a capacity; otherwise the value is compared as is.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from loadtrial.load.model import IntervalStats, request_seconds
from loadtrial.load.pooled import pool
from loadtrial.observe.model import Sample
from loadtrial.spec.model import AbortRule

LOAD_METRICS = ("error_rate", "p50", "p99")


@dataclass(frozen=True)
class AbortDecision:
    """A rule fired: which, why, and on which second."""

    rule_index: int
    second: int
    reason: str


def _observed_value(rule: AbortRule, s: Sample) -> float:
    """The sample on the rule's scale (see module docstring)."""
    if rule.above <= 1.0:
        if s.unit == "percent":
            return s.value / 100.0
        if s.capacity:
            return s.value / s.capacity
    return s.value


class AbortWatch:
    """Holds the recent window of load seconds and metric samples; says when to stop."""

    def __init__(self, rules: Sequence[AbortRule]) -> None:
        self._rules = tuple(rules)
        longest = max((int(r.for_ + 0.999) for r in self._rules), default=1)
        self._seconds: deque[IntervalStats] = deque(maxlen=max(1, longest))
        self._samples: dict[str, deque[tuple[float, float]]] = {}
        self._lock = threading.Lock()  # samples arrive on the sampler's thread

    def add_samples(self, samples: Sequence[Sample]) -> None:
        """Remember the samples of metrics some rule watches (any thread)."""
        with self._lock:
            self._add(samples)

    def _add(self, samples: Sequence[Sample]) -> None:
        for rule in self._rules:
            for s in samples:
                if s.name == rule.metric:
                    self._samples.setdefault(s.name, deque(maxlen=4096)).append(
                        (s.t_s, _observed_value(rule, s))
                    )

    def add_second(self, stats: IntervalStats) -> AbortDecision | None:
        """Take one more second; return the first rule that fires now, if any."""
        self._seconds.append(stats)
        for i, rule in enumerate(self._rules):
            reason = self._check(rule, stats.second)
            if reason:
                return AbortDecision(i, stats.second, f"abort[{i}]: {reason}")
        return None

    def _check(self, rule: AbortRule, second: int) -> str:
        n = max(1, int(rule.for_ + 0.999))
        if rule.metric in LOAD_METRICS:
            if len(self._seconds) < n:
                return ""
            window = list(self._seconds)[-n:]
            if rule.request is not None:
                window = request_seconds(window, rule.request)
            value = _load_value(rule.metric, window)
            if value is None or value <= rule.above:
                return ""
            limit = _fmt(rule.metric, rule.above)
            of = f" of request {rule.request}" if rule.request else ""
            return f"{rule.metric}{of} {_fmt(rule.metric, value)} > {limit} over {n}s"
        with self._lock:
            recent = list(self._samples.get(rule.metric, ()))
        points = [(t, v) for t, v in recent if t > second + 1 - n]
        covers = bool(points) and points[0][0] <= second + 1 - n + 1.0
        if covers and all(v > rule.above for _, v in points):
            return f"{rule.metric} above {rule.above:g} for {n}s"
        return ""


def _load_value(metric: str, window: list[IntervalStats]) -> float | None:
    """error_rate as a fraction, or p50/p99 in seconds, over the window; None: no data."""
    pooled = pool(window)
    if metric == "error_rate":
        return pooled.error_rate
    return pooled.quantile_s(50.0 if metric == "p50" else 99.0)


def _fmt(metric: str, value: float) -> str:
    return f"{value:.1%}" if metric == "error_rate" else f"{value * 1000:.0f}ms"
