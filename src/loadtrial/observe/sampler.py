"""The sampler: every observer sampled on the load's clock, beside the load, never in its way.

In: started observers-to-be, the run's t0 (monotonic), an interval. Out: `on_samples(list)`
once per tick (possibly empty) and `on_event(t_s, kind, message)` for faults, both called
from the sampler's own thread.

Ticks sit on the grid t0 + k × interval (a late tick skips to the next grid point; it
never drifts). Each observer runs in its own worker thread, so a slow one (past
`timeout_s`) or a failing one leaves a gap and an "observer_fault" event while the others
are sampled on time. A failed observer is stopped and started again with exponential
backoff (1 s, 2 s, 4 s ... `max_backoff_s`); its first good sample after that gives an
"observer_recovered" event. Observers are started in `start()`, which waits for them
(bounded), so monitoring connections are open before the load begins.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

from loadtrial.clock import Clock, SystemClock
from loadtrial.observe._worker import TickResult, Worker
from loadtrial.observe.model import Observer, Sample

OnSamples = Callable[[list[Sample]], None]
OnEvent = Callable[[float, str, str], None]


def first_tick(now: float, t0: float, interval_s: float) -> int:
    """Return k of the first grid point t0 + k × interval at or after `now`."""
    return math.ceil(round((now - t0) / interval_s, 9))


def next_tick(k: int, now: float, t0: float, interval_s: float) -> int:
    """Return the next k after tick k, skipping grid points already past."""
    return max(k + 1, first_tick(now, t0, interval_s))


class Sampler:
    """Runs observers every `interval_s` on the run clock in a background thread."""

    def __init__(
        self,
        observers: Sequence[Observer],
        *,
        t0: float,
        interval_s: float = 1.0,
        on_samples: OnSamples,
        on_event: OnEvent,
        clock: Clock | None = None,
        timeout_s: float | None = None,
        start_timeout_s: float = 5.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._clock: Clock = clock or SystemClock()
        self._t0 = t0
        self._interval_s = interval_s
        self._timeout_s = timeout_s if timeout_s is not None else 0.8 * interval_s
        self._start_timeout_s = start_timeout_s
        self._on_samples = on_samples
        self._on_event = on_event
        self._stop = threading.Event()
        self._workers = [
            Worker(
                obs,
                t0=t0,
                clock=self._clock,
                every=_every(obs, interval_s),
                max_backoff_s=max_backoff_s,
            )
            for obs in observers
        ]
        self._thread: threading.Thread | None = None
        self.callback_errors = 0  # on_samples/on_event that raised (kept going)

    def start(self) -> list[str]:
        """Start every observer (waits up to `start_timeout_s`), then the tick thread.

        Returns one line per observer that did not start ("db (postgres): cannot connect:
        ..."), for the runner to show before the load; those are retried with backoff and
        their faults also arrive as events."""
        if self._thread is not None:
            return []
        for worker in self._workers:
            worker.launch()
        deadline = time.monotonic() + self._start_timeout_s
        failed = [
            why
            for worker in self._workers
            if (why := worker.wait_started(max(0.0, deadline - time.monotonic())))
        ]
        self._thread = threading.Thread(target=self._run, name="loadtrial-sampler", daemon=True)
        self._thread.start()
        return failed

    def stop(self) -> None:
        """Stop ticking, then stop every observer (bounded waits; never raises)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + 2.0)
        for worker in self._workers:
            worker.shutdown()
        for worker in self._workers:
            worker.join(timeout=2.0)

    def __enter__(self) -> Sampler:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _run(self) -> None:
        """The tick loop: wait for the grid point, sample, deliver, repeat until stopped."""
        k = first_tick(self._clock.now(), self._t0, self._interval_s)
        while not self._stop.is_set():
            target = self._t0 + k * self._interval_s
            self._wait(target - self._clock.now())
            if self._stop.is_set():
                break
            self._tick(k)
            k = next_tick(k, self._clock.now(), self._t0, self._interval_s)

    def _wait(self, seconds: float) -> None:
        """Sleep until a grid point; a real clock sleeps on the stop flag to wake at once."""
        if seconds <= 0:
            return
        if isinstance(self._clock, SystemClock):
            self._stop.wait(seconds)
        else:
            self._clock.sleep(seconds)

    def _tick(self, k: int) -> None:
        """Ask every due, idle worker for a sample; gather what arrives before the timeout."""
        t_s = round(self._clock.now() - self._t0, 6)
        asked = [w for w in self._workers if w.due(k) and w.ask(t_s)]
        deadline = self._clock.now() + self._timeout_s
        samples: list[Sample] = []
        events: list[tuple[float, str, str]] = []
        for worker in self._workers:
            result: TickResult | None = worker.take_pending()
            if worker in asked:
                got = worker.collect(max(0.0, deadline - self._clock.now()))
                result = _merge(result, got)
                if got is None:
                    events.extend(worker.timed_out(t_s, self._timeout_s))
            if result is not None:
                samples.extend(result.samples)
                events.extend(result.events)
        self._deliver(samples, sorted(events))

    def _deliver(self, samples: list[Sample], events: list[tuple[float, str, str]]) -> None:
        """Call the callbacks; a failing callback is counted, never fatal to sampling."""
        for t_s, kind, message in events:
            try:
                self._on_event(t_s, kind, message)
            except Exception:
                self.callback_errors += 1
        try:
            self._on_samples(samples)
        except Exception:
            self.callback_errors += 1


def _every(observer: Observer, interval_s: float) -> int:
    """Return how many ticks apart an observer with its own `interval_s` is sampled."""
    own = getattr(observer, "interval_s", None)
    if not isinstance(own, int | float) or own <= interval_s:
        return 1
    return max(1, round(own / interval_s))


def _merge(a: TickResult | None, b: TickResult | None) -> TickResult | None:
    """Join a start-up result with the first tick's."""
    if a is None or b is None:
        return a or b
    return TickResult(a.samples + b.samples, a.events + b.events)
