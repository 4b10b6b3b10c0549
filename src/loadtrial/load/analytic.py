"""The analytic latency of a constant-rate open load against a periodically frozen server.

In: the target's period and freeze length (or the freeze windows inside one run), its
normal answer time, and a quantile. Out: the latency at that quantile (seconds), as a
client free of coordinated omission must report it.

An arrival during a freeze waits for the rest of the freeze, so latencies inside a freeze
are spread uniformly over (0, freeze]; a fraction freeze/period of arrivals fall there.
With a 2 s freeze every 10 s: p99 = 2 − 0.01·10 = 1.90 s and p99.9 = 1.99 s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def freeze_quantile_s(q: float, period_s: float, freeze_s: float, base_s: float = 0.001) -> float:
    """Return the latency at quantile q (0..1) for a freeze of freeze_s every period_s."""
    frozen = freeze_s / period_s
    if q <= 1.0 - frozen:
        return base_s
    return base_s + freeze_s - (1.0 - q) * period_s


def exact_quantile_s(
    q: float,
    rate_per_s: float,
    duration_s: float,
    freezes: Sequence[tuple[float, float]],
    base_s: float = 0.001,
) -> float:
    """Return the latency at quantile q for arrivals k/rate in [0, duration) and the given
    freeze windows (start_s, end_s) on the run clock; each arrival in a window is answered
    at the window's end plus base_s. Uses the same quantile rule as HdrHistogram.
    """
    t = np.arange(round(rate_per_s * duration_s)) / rate_per_s
    lat = np.full(t.shape, base_s)
    for start, end in freezes:
        inside = (t >= start) & (t < end)
        lat[inside] = end - t[inside] + base_s
    lat.sort()
    rank = max(0, int(np.ceil(q * lat.size)) - 1)
    return float(lat[rank])
