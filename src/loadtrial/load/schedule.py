"""Arrival schedules: when each request of a plan is meant to be sent (pure, no I/O).

In: an OpenModel (stages of constant rate or linear ramps, optionally Poisson) or a
ClosedModel (users, ramp-up, think time), and a worker's share (index, count).
Out: intended send times as offsets in seconds from t0, one numpy array per second of the
run clock (`iter_chunks`), user start offsets (`user_starts`), a `Pacer` that hands out
what is due at a clock's `now()`, and `estimate(plan)` (duration and request count).

The open model is the inverse of the cumulative rate Λ(t) = ∫ rate: arrival k (k = 0, 1,
…) is due at Λ⁻¹(k), so a constant 100 req/s sends at 0, 10 ms, 20 ms … and a ramp
thickens smoothly. Poisson arrivals are unit-rate exponential gaps in Λ-space mapped back
through Λ⁻¹ (time rescaling), seeded so a run is reproducible. Worker w of n takes arrivals
k ≡ w (mod n): every worker sees the same shape at 1/n of the rate.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loadtrial.clock import Clock
from loadtrial.load.model import ClosedModel, LoadPlan, OpenModel

FloatArray = npt.NDArray[np.float64]
_EPS = 1e-9  # guards ceil() against float noise at exact stage/second boundaries


@dataclass(frozen=True)
class Segment:
    """One stage in absolute terms: starts at `start_s`, rate goes `rate0` → `rate1`."""

    start_s: float
    duration_s: float
    rate0: float
    rate1: float
    count0: float  # Λ at the segment's start

    @property
    def count1(self) -> float:
        """Λ at the segment's end."""
        return self.count0 + (self.rate0 + self.rate1) * self.duration_s / 2.0


@dataclass(frozen=True)
class PlanEstimate:
    """What a plan will take: seconds and (open model) expected requests."""

    duration_s: float
    expected_requests: float | None  # None for the closed model: it depends on latency


def segments(model: OpenModel) -> tuple[Segment, ...]:
    """Return the stages as segments; a ramp starts where the previous stage ended."""
    out: list[Segment] = []
    start, count, rate = 0.0, 0.0, 0.0
    for st in model.stages:
        r0 = st.rate_per_s if st.rate_per_s is not None else rate
        r1 = st.ramp_to_per_s if st.ramp_to_per_s is not None else r0
        seg = Segment(start, st.duration_s, max(r0, 0.0), max(r1, 0.0), count)
        out.append(seg)
        start, count, rate = start + st.duration_s, seg.count1, r1
    return tuple(out)


def total_duration_s(model: OpenModel | ClosedModel) -> float:
    """Return the length of the schedule in seconds."""
    if isinstance(model, ClosedModel):
        return model.duration_s
    return sum(st.duration_s for st in model.stages)


def cumulative(segs: tuple[Segment, ...], t_s: float) -> float:
    """Return Λ(t_s): the expected number of arrivals in [0, t_s)."""
    for seg in segs:
        if t_s < seg.start_s + seg.duration_s:
            tau = max(0.0, t_s - seg.start_s)
            slope = (seg.rate1 - seg.rate0) / seg.duration_s if seg.duration_s else 0.0
            return seg.count0 + seg.rate0 * tau + slope * tau * tau / 2.0
    return segs[-1].count1 if segs else 0.0


def inverse(segs: tuple[Segment, ...], counts: FloatArray) -> FloatArray:
    """Return Λ⁻¹ of each value (values must lie in [0, Λ(end)))."""
    out = np.empty_like(counts)
    if counts.size == 0:
        return out
    starts = np.array([s.count0 for s in segs])
    which = np.searchsorted(starts, counts, side="right") - 1
    for i in np.unique(which).tolist():
        seg, mask = segs[i], which == i
        m = counts[mask] - seg.count0
        half_slope = (seg.rate1 - seg.rate0) / (2.0 * seg.duration_s)
        # stable root of half_slope·τ² + rate0·τ − m = 0 (also for ramps down)
        disc = np.sqrt(np.maximum(seg.rate0 * seg.rate0 + 4.0 * half_slope * m, 0.0))
        denom = seg.rate0 + disc
        tau = np.where(denom > 0, 2.0 * m / np.where(denom > 0, denom, 1.0), 0.0)
        out[mask] = seg.start_s + np.minimum(tau, seg.duration_s)
    return out


def iter_chunks(model: OpenModel, worker: int = 0, workers: int = 1) -> Iterator[FloatArray]:
    """Yield this worker's intended send offsets (s from t0), one array per second.

    Chunk k holds the arrivals in [k, k + 1) (the last one ends at the schedule's end).
    """
    segs = segments(model)
    end = total_duration_s(model)
    n_chunks = math.ceil(end - _EPS) if end > 0 else 0
    if model.poisson:
        yield from _poisson_chunks(segs, end, n_chunks, model.seed, worker, workers)
        return
    for k in range(n_chunks):
        lo = math.ceil(cumulative(segs, float(k)) - _EPS)
        hi = math.ceil(cumulative(segs, min(float(k + 1), end)) - _EPS)
        first = lo + ((worker - lo) % workers)
        ks = np.arange(first, hi, workers, dtype=np.float64)
        yield inverse(segs, ks)


def _poisson_chunks(
    segs: tuple[Segment, ...], end: float, n_chunks: int, seed: int, worker: int, workers: int
) -> Iterator[FloatArray]:
    """Yield seeded Poisson arrivals per second; every worker draws the same sequence."""
    rng = np.random.default_rng(seed)
    u, index = 0.0, 0  # position in Λ-space and global arrival index of the next draw
    pending = np.empty(0)
    for k in range(n_chunks):
        limit = cumulative(segs, min(float(k + 1), end))
        parts = [pending]
        while u < limit:
            block = u + np.cumsum(rng.exponential(1.0, max(16, int(1.2 * (limit - u)) + 8)))
            parts.append(block)
            u = float(block[-1])
        allu = np.concatenate(parts)
        here, pending = allu[allu < limit], allu[allu >= limit]
        idx = np.arange(index, index + here.size)
        index += here.size
        yield inverse(segs, here[idx % workers == worker])


def user_starts(model: ClosedModel, worker: int = 0, workers: int = 1) -> list[float]:
    """Return the start offsets (s) of this worker's users; user u starts at u·ramp/users."""
    step = model.ramp_up_s / model.users if model.users else 0.0
    return [u * step for u in range(worker, model.users, workers)]


def estimate(plan: LoadPlan) -> PlanEstimate:
    """Return the plan's duration and, for the open model, its expected request count."""
    model = plan.model
    if isinstance(model, ClosedModel):
        return PlanEstimate(model.duration_s, None)
    segs = segments(model)
    return PlanEstimate(total_duration_s(model), segs[-1].count1 if segs else 0.0)


def peak_rate_per_s(model: OpenModel) -> float:
    """Return the highest rate any stage reaches."""
    return max((max(s.rate0, s.rate1) for s in segments(model)), default=0.0)


class Pacer:
    """Hands out the arrivals that are due at `clock.now()` (one worker's share).

    `take_due()` returns the intended offsets (s from t0) due now, in order, and never
    skips or shifts one: an arrival taken late keeps its intended time.
    """

    def __init__(
        self, model: OpenModel, clock: Clock, t0: float, worker: int = 0, workers: int = 1
    ) -> None:
        self._chunks = iter_chunks(model, worker, workers)
        self._clock, self._t0 = clock, t0
        self._buf: list[float] = []  # the current chunk as floats: cheap to walk per wake
        self._pos = 0

    def _refill(self) -> bool:
        """Load the next non-exhausted chunk; False when the schedule is over."""
        while self._pos >= len(self._buf):
            nxt = next(self._chunks, None)
            if nxt is None:
                return False
            self._buf, self._pos = nxt.tolist(), 0
        return True

    def take_due(self, until_s: float | None = None) -> list[float]:
        """Return the offsets of every arrival due by now (or by offset `until_s`)."""
        rel = self._clock.now() - self._t0 if until_s is None else until_s
        out: list[float] = []
        while self._refill():
            buf, pos, n = self._buf, self._pos, len(self._buf)
            start = pos
            while pos < n and buf[pos] <= rel:
                pos += 1
            if pos == start:
                break
            out.extend(buf[start:pos])
            self._pos = pos
        return out

    def next_due_s(self) -> float | None:
        """Return the offset of the next arrival, or None when the schedule is over."""
        if not self._refill():
            return None
        return self._buf[self._pos]
