"""One request's unloaded time: the profile a what-if model draws its requests from.

In: a stored run and its `RunView`. Out: the HDR counts of its seconds before anything
saturated, queued or failed (`profile_counts`), merged over runs into quantiles
(`profile_of`). Second 0 (the cold start) is left out; a window that never saturated counts
whole. Latency from the actual send: a generator that fell behind delays the send, not the
service.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from loadtrial.analysis import hist
from loadtrial.analysis.runview import RunView
from loadtrial.analysis.saturation import SATURATED_UTIL, SMOOTHED_SUFFIXES
from loadtrial.errors import UserError
from loadtrial.load.model import IntervalStats
from loadtrial.store.model import RunData, Series
from loadtrial.whatif.model import PROFILE_PERCENTS

MIN_PROFILE_REQUESTS = 20
# a request's 90th percentile this many times its lowest earlier one, two seconds running,
# is a queue (app-cpu one node: render's p90 32 ms in second 1, 161 then 314 ms in seconds
# 2-3 of the ramp, where its median read 51 then 131 ms); the 90th, not the median: a queue's first
# victims are a tail (the median kept two seconds of queue in the profile and put the two
# nodes' p99 at 0.39 s, measured 0.06; the 90th: 0.23 s). A second with fewer than
# QUEUE_MIN requests says too little
QUEUE_RISE = 4.0
QUEUE_MIN = 5
QUEUE_PCT = 90.0


def held_series(by: dict[str, Series]) -> Series | None:
    """db connections doing work: active + idle in transaction (a pool's idle ones are
    open but free, so `used` is not the pool's load)."""
    active = by.get("db.connections.active")
    if active is None:
        return None
    iit = by.get("db.connections.idle_in_transaction")
    values = active.values.copy()
    if iit is not None and iit.values.size == values.size:
        values = values + iit.values
    return Series("db.connections.held", "count", active.capacity, active.t_s, values)


def queued_from(run: RunData) -> int | None:
    """First second (≥ 2) from which the 90th percentile of the run's most frequent request
    stayed above QUEUE_RISE × its lowest earlier per-second value (seconds of ≥ QUEUE_MIN
    requests, second 0 left out), for two seconds in a row: a queue, even one that began
    inside the analysis' onset baseline (a ramp that already overloads a node). One request
    name, so a mix that jumps between a fast and a slow kind is not a queue."""
    done: Counter[str] = Counter()
    for s in run.seconds:
        for name, stats in s.requests.items():
            done[name] += stats.completed
    top = done.most_common(1)[0][0] if done else None  # None: one name, the whole run
    levels: list[tuple[int, float]] = []
    for sec in sorted(run.seconds, key=lambda x: x.second):
        part: IntervalStats | None = sec if top is None else sec.requests.get(top)
        if part is None or sec.second < 1 or part.completed < QUEUE_MIN:
            continue
        if part.uncorrected_hist:
            counts = hist.counts_of(part.uncorrected_hist)
            levels.append((sec.second, hist.quantiles(counts, [QUEUE_PCT])[QUEUE_PCT]))
    for i in range(1, len(levels) - 1):
        floor = min(m for _, m in levels[:i])
        (second, now), (_, then) = levels[i], levels[i + 1]
        if second >= 2 and min(now, then) > QUEUE_RISE * floor:
            return second
    return None


def saturated_from(run: RunData, view: RunView, *, queue: bool = True) -> int:
    """First second a counted resource was at ≥ 90 % of its capacity, latency rose (the
    analysis' onset, or with `queue` a queue by `queued_from`), or a request failed: the db
    connections held, or any other count series with a capacity."""
    from loadtrial.observe.model import is_use

    by = {s.name: s for s in run.series}
    held = held_series(by)
    first = view.onset_s if view.onset_s is not None else view.n_seconds
    queued = queued_from(run) if queue else None
    if queued is not None:
        first = min(first, queued)
    erred = np.flatnonzero(view.errors > 0)  # a request that gave up waited: not unloaded
    if erred.size:
        first = min(first, int(erred[0]))
    others = [
        s
        for s in run.series
        if not s.name.startswith("db.connections.") and not s.name.endswith(SMOOTHED_SUFFIXES)
    ]
    for s in [*others, *([held] if held is not None else [])]:
        if s.capacity and s.unit == "count" and is_use(s.name) and s.values.size:
            # the level it settled at counts as full too: slots others hold (or a pool
            # that cannot grow) keep a saturated resource under its nominal capacity
            level = min(SATURATED_UTIL * s.capacity, SATURATED_UTIL * float(s.values.max()))
            hot = s.t_s[s.values >= level]
            if hot.size and float(s.values.max()) >= SATURATED_UTIL * 0.9 * s.capacity:
                first = min(first, int(hot[0]))
    return first


def profile_counts(run: RunData, view: RunView) -> np.ndarray:
    """HDR counts of the seconds before saturation, or the whole window if it never did;
    when a queue found that early leaves fewer than MIN_PROFILE_REQUESTS, the seconds up to
    the other signals (a queue from the ramp's first seconds leaves too few to learn from,
    and a profile with some queue in it beats no model)."""
    counts = _counts_before(run, view, saturated_from(run, view))
    if int(counts.sum()) < MIN_PROFILE_REQUESTS:
        counts = _counts_before(run, view, saturated_from(run, view, queue=False))
    return counts


def _counts_before(run: RunData, view: RunView, first: int) -> np.ndarray:
    secs = [s for s in run.seconds if 1 <= s.second < first]
    if first >= view.window.end_s:
        secs = [s for s in run.seconds if view.window.start_s <= s.second < view.window.end_s]
    # from the actual send: a generator that fell behind delays the send, not the service
    return hist.merge_counts(hist.counts_of(s.uncorrected_hist) for s in secs if s.uncorrected_hist)


def profile_of(rows: Sequence[np.ndarray]) -> tuple[tuple[float, ...], str]:
    """The profile's quantiles (s, at PROFILE_PERCENTS) of the runs' merged counts, and how
    many requests they hold; UserError when too few to learn from."""
    counts = hist.merge_counts(rows)
    n = int(counts.sum())
    if n < MIN_PROFILE_REQUESTS:
        raise UserError(
            f"only {n} requests completed before anything saturated or failed: too few to "
            "learn one request's unloaded time",
            hint="measure an arm with a slower ramp, or edit profile_s in a model file",
        )
    q = hist.quantiles(counts, PROFILE_PERCENTS)
    return tuple(q[p] / 1e6 for p in PROFILE_PERCENTS), f"{n} requests before saturation"
