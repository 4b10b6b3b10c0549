"""One observer in its own thread: started, sampled on request, restarted with backoff.

In: an observer, asks from the sampler ("sample now, t_s"). Out: a TickResult (samples and
events) per ask, or nothing before the sampler's deadline (then the sampler calls
`timed_out` and the late result's samples are dropped, its events kept).

Everything that calls the observer runs in this thread, so a call that hangs only stalls
its own observer. The fault state lives here: the first failure of an episode gives one
"observer_fault" event; the first good sample after it gives "observer_recovered".
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field, replace

from loadtrial.clock import Clock
from loadtrial.errors import LoadtrialError
from loadtrial.observe.model import Observer, Sample, SampleFault

EventTuple = tuple[float, str, str]
FIRST_BACKOFF_S = 1.0


@dataclass(frozen=True)
class TickResult:
    """What one ask produced."""

    samples: list[Sample] = field(default_factory=list)
    events: list[EventTuple] = field(default_factory=list)


def _describe(exc: BaseException) -> str:
    """One line for an event: typed errors by message, others with their type."""
    if isinstance(exc, LoadtrialError):
        return exc.message
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Worker:
    """Owns one observer and the thread that calls it."""

    def __init__(
        self, observer: Observer, *, t0: float, clock: Clock, every: int, max_backoff_s: float
    ) -> None:
        self._obs = observer
        self._t0, self._clock, self._every = t0, clock, every
        self._max_backoff_s = max_backoff_s
        kind = getattr(observer, "kind", "")
        self.label = f"{observer.tier} ({kind})" if kind else observer.tier
        self._cv = threading.Condition()
        self._ask: float | None = None  # t_s asked for, until the worker takes it
        self._busy = False
        self._abandoned = False  # the sampler stopped waiting for the current ask
        self._result: TickResult | None = None
        self._pending: list[TickResult] = []  # start-up and late results
        self._stopping = False
        self._ready = threading.Event()
        self._start_error = ""  # why the first start failed, for the runner to show
        self._thread = threading.Thread(
            target=self._loop, name=f"observe-{self.label}", daemon=True
        )
        # fault state: touched by the worker thread and by timed_out (under _cv)
        self._running = False
        self._faulted = False
        self._fault_since = 0.0
        self._next_try = float("-inf")
        self._backoff_s = min(FIRST_BACKOFF_S, max_backoff_s)

    # --- the sampler's side -------------------------------------------------------------
    def launch(self) -> None:
        """Start the thread; it starts the observer before taking any ask."""
        self._thread.start()

    def wait_started(self, timeout_s: float) -> str:
        """Wait (bounded) until the first start attempt is over; return "" when the
        observer started, else one line saying why not."""
        if not self._ready.wait(timeout_s):
            return f"{self.label}: not started within {timeout_s:.1f} s"
        return self._start_error

    def due(self, k: int) -> bool:
        """True when tick k is one of this observer's ticks."""
        return k % self._every == 0

    def ask(self, t_s: float) -> bool:
        """Ask for a sample at t_s; False when still busy with an earlier ask."""
        with self._cv:
            if self._busy or self._stopping:
                return False
            self._ask, self._busy, self._abandoned, self._result = t_s, True, False, None
            self._cv.notify_all()
            return True

    def collect(self, timeout_s: float) -> TickResult | None:
        """Wait up to timeout_s for the current ask's result; None when it is late."""
        with self._cv:
            self._cv.wait_for(lambda: self._result is not None, timeout=timeout_s)
            result, self._result = self._result, None
            if result is None:
                self._abandoned = True
            return result

    def take_pending(self) -> TickResult | None:
        """Return start-up and late results gathered since the last tick."""
        with self._cv:
            if not self._pending:
                return None
            pending, self._pending = self._pending, []
        return TickResult(
            [s for r in pending for s in r.samples], [e for r in pending for e in r.events]
        )

    def timed_out(self, t_s: float, timeout_s: float) -> list[EventTuple]:
        """Note a late sample: a fault event unless already in a fault episode."""
        with self._cv:
            if self._faulted:
                return []
            self._faulted, self._fault_since = True, t_s
        return [(t_s, "observer_fault", f"{self.label}: no sample within {timeout_s:g} s")]

    def shutdown(self) -> None:
        """Ask the thread to stop the observer and end."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()

    def join(self, timeout: float) -> None:
        """Wait (bounded) for the thread; a hung observer call is left to finish alone."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    # --- the worker thread ----------------------------------------------------------------
    def _loop(self) -> None:
        """Start the observer, then serve asks until told to stop; always stop it."""
        try:
            t_s = self._clock.now() - self._t0
            first = self._try_start(t_s)
            faults = [m for _, kind, m in first.events if kind == "observer_fault"]
            self._start_error = faults[0] if faults else ""
            with self._cv:
                self._pending.append(first)
            self._ready.set()
            while True:
                with self._cv:
                    self._cv.wait_for(lambda: self._stopping or self._ask is not None)
                    if self._stopping:
                        break
                    t_s, self._ask = float(self._ask or 0.0), None
                result, ok = self._serve(t_s)
                self._publish(result, ok, t_s)
        finally:
            self._ready.set()
            self._safe_stop()

    def _publish(self, result: TickResult, ok: bool, t_s: float) -> None:
        """Hand the result over; a late one keeps only its events and ends no fault."""
        with self._cv:
            self._busy = False
            if self._abandoned:
                self._pending.append(TickResult([], result.events))
            else:
                events = result.events + (self._recovered(t_s) if ok else [])
                self._result = TickResult(result.samples, events)
            self._cv.notify_all()

    def _serve(self, t_s: float) -> tuple[TickResult, bool]:
        """Sample, (re)starting first when needed and the backoff allows; True when a
        sample was taken."""
        if not self._running:
            if t_s < self._next_try:
                return TickResult(), False
            started = self._try_start(t_s)
            if not self._running:
                return started, False
        try:
            samples = list(self._obs.sample(t_s))
        except Exception as exc:
            return self._failed(t_s, exc), False
        self._backoff_s = min(FIRST_BACKOFF_S, self._max_backoff_s)
        return TickResult(samples, self._drain()), True

    def _try_start(self, t_s: float) -> TickResult:
        """Start the observer; a failure is a fault, retried after the backoff."""
        try:
            self._obs.start()
        except Exception as exc:
            return self._failed(t_s, exc)
        self._running = True
        return TickResult([], self._drain(restamp=t_s))

    def _failed(self, t_s: float, exc: BaseException) -> TickResult:
        """Record a failure: stop, schedule a retry, one event per fault episode."""
        self._safe_stop()
        self._running = False
        self._next_try = t_s + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2.0, self._max_backoff_s)
        # samples carried by a fault (e.g. connect.refused = 1) are stamped with its time
        carried = [replace(s, t_s=t_s) for s in exc.samples] if isinstance(exc, SampleFault) else []
        events = self._drain()
        with self._cv:
            first = not self._faulted
            if first:
                self._faulted, self._fault_since = True, t_s
        if first:
            events.append((t_s, "observer_fault", f"{self.label}: {_describe(exc)}"))
        return TickResult(carried, events)

    def _recovered(self, t_s: float) -> list[EventTuple]:
        """After an on-time good sample: end a fault episode with one event (under _cv)."""
        if not self._faulted:
            return []
        self._faulted = False
        gap = t_s - self._fault_since
        return [(t_s, "observer_recovered", f"{self.label}: sampling again after {gap:.1f} s")]

    def _drain(self, restamp: float | None = None) -> list[EventTuple]:
        """Collect the observer's own events (optional ability); those noticed while
        starting carry no run time of their own, so `restamp` gives them the start's."""
        drain = getattr(self._obs, "drain_events", None)
        if drain is None:
            return []
        try:
            return [
                (e.t_s if restamp is None else restamp, e.kind, f"{self.label}: {e.message}")
                for e in drain()
            ]
        except Exception:
            return []

    def _safe_stop(self) -> None:
        # stop() must never raise; a broken one must not end sampling
        with contextlib.suppress(Exception):
            self._obs.stop()
