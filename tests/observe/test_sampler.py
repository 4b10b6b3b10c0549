"""The sampler: grid ticks, one call per tick, faults as gaps and events, slow observers
timed out without holding up the others, reconnects with backoff, clean stop.

The observers here are small in-process objects (the sampler's contract is with any
Observer); the observers that talk to servers are tested against real servers elsewhere.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from loadtrial.clock import FakeClock
from loadtrial.errors import ObserverError
from loadtrial.observe.model import Sample, SampleFault
from loadtrial.observe.sampler import Sampler, first_tick, next_tick

INTERVAL = 0.1


def test_ticks_sit_on_the_grid_and_skip_missed_points() -> None:
    assert first_tick(now=100.0, t0=100.0, interval_s=1.0) == 0
    assert first_tick(now=100.2, t0=100.0, interval_s=1.0) == 1
    assert first_tick(now=97.5, t0=100.0, interval_s=1.0) == -2  # before the load: baseline
    assert first_tick(now=103.0000000001, t0=100.0, interval_s=1.0) == 3  # float noise
    assert next_tick(3, now=103.1, t0=100.0, interval_s=1.0) == 4
    assert next_tick(3, now=106.5, t0=100.0, interval_s=1.0) == 7  # late: skip, no drift


@dataclass
class Scripted:
    """An observer whose behaviour per call is set by the test."""

    tier: str
    fail_samples: set[int] = field(default_factory=set)  # call numbers that raise
    fail_starts: int = 0  # the first N starts raise
    delay_s: float = 0.0
    kind: str = "scripted"
    calls: int = 0
    starts: int = 0
    stops: int = 0
    interval_s: float | None = None

    def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_starts:
            gone = Sample(0.0, f"{self.tier}.connect.refused", 1.0, "count")
            raise SampleFault("refused", samples=(gone,))

    def sample(self, t_s: float) -> list[Sample]:
        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.calls in self.fail_samples:
            raise ObserverError("boom")
        return [Sample(t_s, f"{self.tier}.x.value", float(self.calls), "count")]

    def stop(self) -> None:
        self.stops += 1


@dataclass
class Recorder:
    batches: list[list[Sample]] = field(default_factory=list)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_samples(self, samples: list[Sample]) -> None:
        with self.lock:
            self.batches.append(samples)

    def on_event(self, t_s: float, kind: str, message: str) -> None:
        with self.lock:
            self.events.append((t_s, kind, message))

    def names(self, tier: str) -> list[float]:
        return [s.t_s for b in self.batches for s in b if s.name.startswith(tier + ".")]


def _run(
    observers: list[Scripted],
    ticks: int,
    until: Callable[[Recorder], bool] = lambda _: True,
    **kwargs: float,
) -> Recorder:
    """Sample until `ticks` batches arrived and `until` holds (bounded in time)."""
    rec = Recorder()
    sampler = Sampler(
        observers,
        t0=time.monotonic(),
        interval_s=INTERVAL,
        on_samples=rec.on_samples,
        on_event=rec.on_event,
        **kwargs,  # type: ignore[arg-type]
    )
    with sampler:
        deadline = time.monotonic() + ticks * INTERVAL * 20  # generous on a loaded machine
        while (len(rec.batches) < ticks or not until(rec)) and time.monotonic() < deadline:
            time.sleep(INTERVAL / 4)
    return rec


def _recovered(rec: Recorder) -> bool:
    return any(kind == "observer_recovered" for _, kind, _ in rec.events)


def test_every_tick_delivers_one_batch_on_the_run_clock() -> None:
    obs = Scripted("a")
    rec = _run([obs], ticks=5)
    assert len(rec.batches) >= 5
    times = rec.names("a")
    assert times == sorted(times)
    # each sample is taken at (or just after) its grid point, never before it
    for t in times:
        k = round(t / INTERVAL)
        assert t >= k * INTERVAL - 1e-6
    assert obs.starts == 1 and obs.stops == 1
    assert rec.events == []


def test_a_failing_observer_leaves_a_gap_and_events_while_others_go_on() -> None:
    bad, good = Scripted("bad", fail_samples={2}), Scripted("good")
    rec = _run([bad, good], ticks=6, until=_recovered, max_backoff_s=0.2)
    kinds = [k for _, k, _ in rec.events]
    assert kinds.count("observer_fault") == 1
    assert "observer_recovered" in kinds
    fault = next(e for e in rec.events if e[1] == "observer_fault")
    assert "bad (scripted): boom" in fault[2]
    assert bad.starts >= 2  # stopped and started again
    # the good observer was sampled in every batch, the bad one missed some
    assert all(any(s.name == "good.x.value" for s in b) for b in rec.batches)
    assert len(rec.names("bad")) < len(rec.names("good"))


def test_a_slow_observer_times_out_without_delaying_the_others() -> None:
    slow, quick = Scripted("slow", delay_s=INTERVAL * 3), Scripted("quick")
    rec = _run([slow, quick], ticks=8, timeout_s=INTERVAL / 2)
    faults = [e for e in rec.events if e[1] == "observer_fault"]
    assert faults and "slow (scripted): no sample within" in faults[0][2]
    assert len(faults) == 1  # one event per fault episode, not one per tick
    assert len(rec.names("quick")) >= 8
    assert rec.names("slow") == []  # late samples are dropped, not misfiled


def test_start_failures_are_retried_with_backoff_and_carry_their_samples() -> None:
    obs = Scripted("db", fail_starts=2)
    rec = _run([obs], ticks=4, until=_recovered, max_backoff_s=0.2)
    refused = [s for b in rec.batches for s in b if s.name == "db.connect.refused"]
    assert len(refused) == 2 and all(s.value == 1.0 for s in refused)
    kinds = [k for _, k, _ in rec.events]
    assert kinds == ["observer_fault", "observer_recovered"]
    assert obs.starts == 3 and rec.names("db")


def test_observer_with_a_longer_interval_is_sampled_on_fewer_ticks() -> None:
    fast, slow = Scripted("fast"), Scripted("slow", interval_s=INTERVAL * 3)
    rec = _run([fast, slow], ticks=9)
    assert len(rec.names("slow")) <= len(rec.names("fast")) // 2 + 1


def test_a_raising_callback_is_counted_and_sampling_continues() -> None:
    obs = Scripted("a")
    calls: list[int] = []

    def explode(samples: list[Sample]) -> None:
        calls.append(len(samples))
        raise RuntimeError("store is gone")

    sampler = Sampler(
        [obs],
        t0=time.monotonic(),
        interval_s=INTERVAL,
        on_samples=explode,
        on_event=lambda *_: None,
    )
    with sampler:
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(INTERVAL / 4)
    assert len(calls) >= 3 and sampler.callback_errors >= 3
    assert obs.stops == 1


def test_with_an_injected_clock_ticks_land_exactly_on_the_grid() -> None:
    clock = FakeClock(start=50.0)
    obs = Scripted("a")
    rec = Recorder()
    sampler = Sampler(
        [obs],
        t0=52.5,
        interval_s=1.0,
        on_samples=rec.on_samples,
        on_event=rec.on_event,
        clock=clock,
    )
    with sampler:
        deadline = time.monotonic() + 10
        while len(rec.batches) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
    times = rec.names("a")[:6]
    assert times == [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]  # a baseline before t0, then the run


def test_start_reports_observers_that_did_not_start() -> None:
    good, bad = Scripted("good"), Scripted("db", fail_starts=5)
    sampler = Sampler(
        [good, bad],
        t0=time.monotonic(),
        interval_s=INTERVAL,
        on_samples=lambda _: None,
        on_event=lambda *_: None,
    )
    try:
        assert sampler.start() == ["db (scripted): refused"]
    finally:
        sampler.stop()
    assert good.stops == 1 and bad.stops >= 1
