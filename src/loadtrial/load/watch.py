"""Self-watch: did the generator, not the target, limit the load?

In: the plan, the merged per-second stats and the number of workers. Out: the reasons
(sentences) that make the run invalid; none when the generator kept up. A queue behind a
full connection pool is the target's slowness and is not counted here (that is latency and
`late`), except when arrivals had to be dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats, LoadPlan

MAX_P99_SEND_LAG_US = 5_000  # the generator's dispatch may trail its schedule this much
CPU_BUSY_PERCENT = 90.0  # a worker this busy in a second could not have done more
CPU_BUSY_SHARE = 0.2  # invalid when that many of the seconds were busy
MAX_DROPPED_SHARE = 0.01  # invalid when more arrivals than this were never sent
LAG_REASON = "the generator fell behind its schedule"  # the analysis may keep such a run


def assess(plan: LoadPlan, intervals: Sequence[IntervalStats], workers: int) -> tuple[str, ...]:
    """Return the reasons the run is invalid (empty when the generator kept up)."""
    reasons: list[str] = []
    if not intervals:
        return ()
    lag = hdr.merge(i.send_lag_hist for i in intervals)
    p99_lag = hdr.quantiles_us(lag, [99.0])[99.0]
    if p99_lag > MAX_P99_SEND_LAG_US:
        reasons.append(
            f"{LAG_REASON}: p99 send lag {p99_lag / 1000:.1f} ms "
            f"> {MAX_P99_SEND_LAG_US / 1000:.0f} ms (use more --workers or a bigger machine)"
        )
    busy = [i for i in intervals if i.cpu_percent / workers >= CPU_BUSY_PERCENT]
    if len(busy) >= 2 and len(busy) >= CPU_BUSY_SHARE * len(intervals):
        reasons.append(
            f"the generator's CPU was ≥ {CPU_BUSY_PERCENT:.0f}% of its cores in {len(busy)} of "
            f"{len(intervals)} seconds: it may have limited the load"
        )
    offered = sum(i.offered for i in intervals)
    dropped = sum(i.dropped for i in intervals)
    if offered and dropped > MAX_DROPPED_SHARE * offered:
        reasons.append(
            f"{dropped} of {offered} arrivals ({100 * dropped / offered:.1f}%) were dropped: "
            f"the {plan.connections} connections were all busy for longer than the timeout "
            "(raise --connections if the target can take it)"
        )
    return tuple(reasons)
