"""Numbers the report shows, computed from stored per-second stats (pure, no I/O).

In: IntervalStats of runs (encoded HDR histograms in µs). Out: per-second p50/p90/p99 of
each run, and per-arm pooled figures: percentiles of the merged histogram (never averages
of percentiles) with a 95 % interval, throughput, error rate by kind.

The interval of a pooled figure comes from the spread between repetitions (Student t over
the per-run values) when there are two or more runs; with one run it is the order-statistic
interval of the histogram itself (distribution-free, from the binomial ranks).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from hdrh.histogram import HdrHistogram

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats
from loadtrial.report.model import PERCENTS

Z95 = 1.959963984540054


def pkey(percent: float) -> str:
    """Return "p50" for 50.0, "p999" for 99.9."""
    return "p" + f"{percent:g}".replace(".", "")


@dataclass(frozen=True)
class PerSecond:
    """Per-second percentiles of one run, in ms (None for a second without responses)."""

    corrected: dict[str, tuple[float | None, ...]]
    uncorrected: dict[str, tuple[float | None, ...]]


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


def merge_counts(items: Iterable[dict[str, int]]) -> dict[str, int]:
    """Return the per-key sum of count mappings, largest first."""
    total: dict[str, int] = {}
    for item in items:
        for key, n in item.items():
            total[key] = total.get(key, 0) + n
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], kv[0])))
