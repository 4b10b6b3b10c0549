"""One engine in the caller's own thread: `run_load` with one worker and no processes.

In: the plan, `start_at`, `on_interval`, `stop` (as for run_load). Out: the same
LoadResult a worker thread or process would give. Each finished second goes through the
same Merger and verdict as in coordinator.py, called from the engine's loop.

Why not a worker thread: a second Python thread (the coordinator polling its queue) costs
the engine GIL hand-offs on every event-loop callback, measured at ~0.3-0.7 µs of CPU per
request in the closed model (5-8 %; bench/load_peers.py). Ctrl-C (in the main thread)
stops the engine as `stop` does, keeping what was measured; a second Ctrl-C aborts.
"""

from __future__ import annotations

import signal
import threading
import time
import traceback
from collections.abc import Callable
from types import FrameType

from loadtrial.load.coordinator import START_MARGIN_S, Collected, Merger, conclude
from loadtrial.load.engine import run_engine
from loadtrial.load.model import EngineProvenance, IntervalStats, LoadPlan, LoadResult


def run_inline(
    plan: LoadPlan,
    *,
    start_at: float | None,
    on_interval: Callable[[IntervalStats], None] | None,
    stop: threading.Event | None,
) -> LoadResult:
    """Run one engine in this thread to the end of its schedule (or a stop)."""
    stop = stop if stop is not None else threading.Event()
    merger, out = Merger(1), Collected()
    failure: list[BaseException] = []  # raised by on_interval: re-raised after the drain

    def emit(stats: IntervalStats) -> None:
        merger.add(0, stats)
        _release(merger, out, on_interval, failure, stop)

    t0 = start_at if start_at is not None else time.monotonic() + START_MARGIN_S
    started_at = time.time() + (t0 - time.monotonic())
    with _CtrlC(stop) as ctrl_c:
        try:
            out.ran_s = run_engine(
                plan, worker=0, workers=1, t0=t0, emit=emit, should_stop=stop.is_set
            )
        except Exception as exc:  # a bug in the engine: data, as a worker would report it
            out.errors.append(f"worker 0 failed: {traceback.format_exception_only(exc)[-1]}")
            out.failed[0] = merger.partial_after(0)
        merger.finish(0)
        _release(merger, out, on_interval, failure, stop)
    if failure:
        raise failure[0]
    out.interrupted = ctrl_c.pressed or stop.is_set()
    out.worker_cpu = merger.worker_cpu()
    return conclude(plan, t0, started_at, out, EngineProvenance("local", 1))


def _release(
    merger: Merger,
    out: Collected,
    on_interval: Callable[[IntervalStats], None] | None,
    failure: list[BaseException],
    stop: threading.Event,
) -> None:
    """Hand the merged seconds on; an exception of `on_interval` stops the run and is
    kept to be raised once the engine has drained (as run_load raises it otherwise)."""
    for stats in merger.ready():
        out.intervals.append(stats)
        if on_interval is not None and not failure:
            try:
                on_interval(stats)
            except BaseException as exc:
                failure.append(exc)
                stop.set()


class _CtrlC:
    """While inside: the first Ctrl-C sets `stop`, a second one raises KeyboardInterrupt.

    Only the main thread receives signals; elsewhere this does nothing.
    """

    def __init__(self, stop: threading.Event) -> None:
        self.stop, self.pressed = stop, False
        self.previous: Callable[[int, FrameType | None], object] | int | None = None

    def __enter__(self) -> _CtrlC:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True
        self.stop.set()
