"""Self-watch: did the generator, not the target, limit the load?

In: the plan, the merged per-second stats and each worker's CPU per second. Out: the
reasons (sentences) that make the run invalid; none when the generator kept up.

Only the generator's own limits count, in both load models: its scheduling lag (the open
model's dispatch behind its schedule), its CPU (a worker busy most seconds could not have
sent more; the closed model records no send lag, so this is its only sign), and arrivals it
could not hold (its queue cap). Waits the *target* caused (every connection busy, requests
timing out) are the target's failures, counted as errors and latency, never a reason to
discard the run. A failed worker is added by the coordinator.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats, LoadPlan

MAX_P99_SEND_LAG_US = 5_000  # the generator's dispatch may trail its schedule this much
CPU_BUSY_PERCENT = 90.0  # a worker this busy in a second could not have done more
CPU_BUSY_SHARE = 0.2  # invalid when that many of a worker's seconds were busy
MAX_DROPPED_SHARE = 0.01  # invalid when more arrivals than this overflowed the queue
LAG_REASON = "the generator fell behind its schedule"  # the analysis may keep such a run


def assess(
    plan: LoadPlan, intervals: Sequence[IntervalStats], worker_cpu: Sequence[Sequence[float]]
) -> tuple[str, ...]:
    """Return the reasons the run is invalid (empty when the generator kept up).

    `worker_cpu[w]` is worker w's CPU (% of one core) in each second it reported.
    """
    if not intervals:
        return ()
    reasons = [*_lag(intervals), *_cpu(worker_cpu)]
    offered = sum(i.offered for i in intervals)
    dropped = sum(i.dropped for i in intervals)
    if offered and dropped > MAX_DROPPED_SHARE * offered:
        reasons.append(
            f"{dropped} of {offered} arrivals ({100 * dropped / offered:.1f}%) overflowed the "
            "generator's queue of arrivals waiting for a connection (a shorter timeout or "
            "more --connections keep it smaller)"
        )
    return tuple(reasons)


def _lag(intervals: Sequence[IntervalStats]) -> list[str]:
    lag = hdr.merge(i.send_lag_hist for i in intervals)
    p99_lag = hdr.quantiles_us(lag, [99.0])[99.0]
    if p99_lag <= MAX_P99_SEND_LAG_US:
        return []
    return [
        f"{LAG_REASON}: p99 send lag {p99_lag / 1000:.1f} ms "
        f"> {MAX_P99_SEND_LAG_US / 1000:.0f} ms (use more --workers or a bigger machine)"
    ]


def _cpu(worker_cpu: Sequence[Sequence[float]]) -> list[str]:
    out: list[str] = []
    for w, seconds in enumerate(worker_cpu):
        busy = sum(1 for c in seconds if c >= CPU_BUSY_PERCENT)
        if busy >= 2 and busy >= CPU_BUSY_SHARE * len(seconds):
            out.append(
                f"load worker {w}'s CPU was ≥ {CPU_BUSY_PERCENT:.0f}% of its core in {busy} of "
                f"{len(seconds)} seconds: the generator may have limited the load "
                "(use more --workers or a bigger machine)"
            )
    return out
