"""Numbers the report shows, computed from stored per-second stats (pure, no I/O).

In: IntervalStats of runs (encoded HDR histograms in µs). Out: per-second p50/p90/p99 of
each run, and per-arm pooled figures: percentiles of the merged histogram (never averages
of percentiles) with a 95 % interval, throughput, error rate by kind.

The interval of a pooled figure comes from the spread between repetitions (Student t over
the per-run values) when there are two or more runs; with one run it is the order-statistic
interval of the histogram itself (distribution-free, from the binomial ranks).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram
from scipy import stats as sps

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats
from loadtrial.report.model import PERCENTS, Estimate

Z95 = 1.959963984540054


def pkey(percent: float) -> str:
    """Return "p50" for 50.0, "p999" for 99.9."""
    return "p" + f"{percent:g}".replace(".", "")


@dataclass(frozen=True)
class PerSecond:
    """Per-second percentiles of one run, in ms (None for a second without responses)."""

    corrected: dict[str, tuple[float | None, ...]]
    uncorrected: dict[str, tuple[float | None, ...]]


@dataclass(frozen=True)
class RunTotals:
    """One run's totals over its measured (post-warm-up) seconds."""

    seconds: int
    completed: int
    errors: dict[str, int]
    hist: HdrHistogram  # merged corrected latency

    @property
    def good(self) -> int:
        """Completed requests that were not errors."""
        return self.completed - sum(self.errors.values())

    @property
    def throughput_per_s(self) -> float | None:
        """Successful responses per second (as the analysis counts them), None if no seconds."""
        return self.good / self.seconds if self.seconds else None


def values_at(hist: HdrHistogram, percents: Sequence[float]) -> list[int]:
    """Return hist.get_value_at_percentile(p) for each p, vectorised (same results).

    hdrh walks the counts array in Python per call (~3 ms at high values); one numpy
    cumulative sum serves every percentile of the histogram.
    """
    if hist.get_total_count() == 0:
        return [0 for _ in percents]
    cum = np.cumsum(np.ctypeslib.as_array(hist.counts)[: hist.counts_len])
    out: list[int] = []
    for p in percents:
        index = int(np.searchsorted(cum, hist.get_target_count_at_percentile(p), side="left"))
        value = hist.get_value_from_index(min(index, hist.counts_len - 1))
        equivalent = hist.get_highest_equivalent_value if p else hist.get_lowest_equivalent_value
        out.append(int(equivalent(value)))
    return out


def per_second(seconds: Sequence[IntervalStats]) -> PerSecond:
    """Return each second's p50/p90/p99 (corrected and uncorrected) in ms."""
    return PerSecond(
        corrected=_quantile_series([s.latency_hist for s in seconds]),
        uncorrected=_quantile_series([s.uncorrected_hist for s in seconds]),
    )


def _quantile_series(encoded: Sequence[bytes]) -> dict[str, tuple[float | None, ...]]:
    """Decode each histogram once; return {"p50": (ms | None, ...), ...}."""
    cols: dict[str, list[float | None]] = {pkey(p): [] for p in PERCENTS}
    for item in encoded:
        hist = hdr.decode(item)
        empty = hist.get_total_count() == 0
        for p, value in zip(PERCENTS, values_at(hist, PERCENTS), strict=True):
            cols[pkey(p)].append(None if empty else round(value / 1000.0, 3))
    return {k: tuple(v) for k, v in cols.items()}


def run_totals(
    seconds: Sequence[IntervalStats],
    warmup_s: float,
    window: tuple[float, float] | None = None,
) -> RunTotals:
    """Sum a run's measured seconds; merge their corrected histograms.

    Measured: inside `window` [start, end) when the analysis chose one, else every second
    at or after the warm-up.
    """
    if window is not None:
        measured = [s for s in seconds if window[0] <= s.second < window[1]]
    else:
        measured = [s for s in seconds if s.second >= warmup_s]
    errors: dict[str, int] = {}
    for s in measured:
        for kind, n in s.errors.items():
            errors[kind] = errors.get(kind, 0) + int(n)
    return RunTotals(
        seconds=len(measured),
        completed=sum(s.completed for s in measured),
        errors=errors,
        hist=hdr.merge(s.latency_hist for s in measured),
    )


def pooled_percentiles(runs: Sequence[RunTotals]) -> dict[str, Estimate]:
    """Return {"p50": Estimate(ms), ...} of the arm's merged histogram with 95 % CIs."""
    pooled = hdr.new_histogram()
    for r in runs:
        pooled.add(r.hist)
    if pooled.get_total_count() == 0:
        return {pkey(p): Estimate(None) for p in PERCENTS}
    out: dict[str, Estimate] = {}
    pooled_ms = [v / 1000.0 for v in values_at(pooled, PERCENTS)]
    filled = [r.hist for r in runs if r.hist.get_total_count() > 0]
    run_ms = [[v / 1000.0 for v in values_at(h, PERCENTS)] for h in filled]
    for i, p in enumerate(PERCENTS):
        value = pooled_ms[i]
        per_run = [row[i] for row in run_ms]
        if len(per_run) >= 2:
            low, high = t_interval(per_run)
            out[pkey(p)] = Estimate(value, low, high, f"t over {len(per_run)} runs")
        else:
            low, high = order_statistic_interval(pooled, p)
            out[pkey(p)] = Estimate(value, low, high, "order statistic")
    return out


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """Return the 95 % Student-t interval of the mean of `values` (n >= 2)."""
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    half = float(sps.t.ppf(0.975, n - 1)) * math.sqrt(var / n)
    return mean - half, mean + half


def order_statistic_interval(hist: HdrHistogram, percent: float) -> tuple[float, float]:
    """Return the distribution-free 95 % interval (ms) of one percentile of `hist`."""
    n = hist.get_total_count()
    q = percent / 100.0
    half = Z95 * math.sqrt(n * q * (1 - q))
    lo_rank, hi_rank = max(0.0, n * q - half), min(float(n), n * q + half + 1)
    low, high = values_at(hist, (100.0 * lo_rank / n, 100.0 * hi_rank / n))
    return low / 1000.0, high / 1000.0


def pooled_throughput(runs: Sequence[RunTotals]) -> Estimate:
    """Return the arm's successful responses per second, with a t interval over runs."""
    seconds = sum(r.seconds for r in runs)
    if not seconds:
        return Estimate(None)
    value = sum(r.good for r in runs) / seconds
    per_run = [r.throughput_per_s for r in runs if r.throughput_per_s is not None]
    if len(per_run) >= 2:
        low, high = t_interval(per_run)
        return Estimate(value, low, high, f"t over {len(per_run)} runs")
    return Estimate(value)


def merge_counts(items: Iterable[dict[str, int]]) -> dict[str, int]:
    """Return the per-key sum of count mappings, largest first."""
    total: dict[str, int] = {}
    for item in items:
        for key, n in item.items():
            total[key] = total.get(key, 0) + n
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))
