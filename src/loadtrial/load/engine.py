"""One engine: paces its share of a plan on a uvloop event loop and emits per-second stats.

In: a LoadPlan, this engine's share (worker index, worker count), t0 (monotonic time of
second 0), `emit` (called with each finished second's IntervalStats, in this thread) and
`should_stop` (polled every 50 ms). Out: `run_engine` blocks until the schedule is over and
in-flight requests are drained (or stopped) and returns the seconds of schedule it ran.

Open model: a Pacer hands out due arrivals, each submitted with its intended time; the
engine wakes at the next arrival's time. Closed model: each user submits its next request
when the last one finished (plus think time). Second k's stats are emitted right after
t0 + k + 1, attributing completions to the second they complete in (as wrk2 does).
"""

from __future__ import annotations

import asyncio
import math
import os
import ssl
import time
from collections.abc import Callable, Sequence
from typing import Any

import httptools
import uvloop

from loadtrial.clock import SystemClock
from loadtrial.load import wire
from loadtrial.load.checks import compile_checks
from loadtrial.load.client import Client
from loadtrial.load.data import DataExhausted, DataSet
from loadtrial.load.flows import FlowConn, FlowRunner
from loadtrial.load.model import ClosedModel, IntervalStats, LoadPlan, OpenModel, request_names
from loadtrial.load.recorder import finish
from loadtrial.load.schedule import Pacer, total_duration_s, user_starts
from loadtrial.load.template import Sources
from loadtrial.load.ticker import Ticker

HOUSEKEEPING_S = 0.05  # timeout sweep and stop polling period
# The event loop's timers tick in whole milliseconds (libuv rounds each delay to the
# nearest ms, so a plain call_later may fire up to 0.5 ms early and then wait a tick
# more). The dispatcher instead wakes at the first whole millisecond at or after the next
# arrival: never early, at most one tick late; arrivals closer than a tick go out in one
# batch, each keeping its intended time.
TICK_S = 0.001
# Between ticks a response sends arrivals once they are this overdue: small batches keep
# the lag well under a tick without paying the dispatch overhead for every arrival.
PIGGYBACK_SLACK_S = 0.0002
STOP_GRACE_S = 1.0  # after a stop, in-flight requests get at most this long to finish
# failures of a connection or a malformed response: counted as the request's error when
# the connection closes, never a reason to end the run
_TRANSPORT_ERRORS = (OSError, ssl.SSLError, asyncio.CancelledError, httptools.HttpParserError)

_mono = time.monotonic


def payloads(plan: LoadPlan, origin: wire.Origin, worker: int, workers: int) -> Sequence[bytes]:
    """The bytes of each request: pre-built, or (when some request has `{{...}}` slots)
    a `wire.Payloads` that renders those on each send from this engine's data and
    environment (read here, in the engine: never part of the plan)."""
    templated = [wire.is_templated(r) for r in plan.requests]
    if plan.flows:  # a flow's steps are rendered for their user (FlowRunner.render)
        return [b""] * len(plan.requests)
    built = [
        b"" if t else wire.encode_request(r, origin)
        for r, t in zip(plan.requests, templated, strict=True)
    ]
    if not any(templated):
        return built
    names = frozenset(d.name for d in plan.data)
    templates = [
        wire.compile_request(r, origin, names) if t else None
        for r, t in zip(plan.requests, templated, strict=True)
    ]
    return wire.Payloads(built, templates, sources(plan, worker, workers))


def sources(plan: LoadPlan, worker: int, workers: int) -> Sources:
    """What this engine's templates read: the environment (now), its share of the data."""
    data = {d.name: DataSet(d, worker=worker, workers=workers) for d in plan.data}
    seed = plan.model.seed if isinstance(plan.model, OpenModel) else 0
    return Sources(os.environ, data, worker=worker, workers=workers, seed=seed)


def share(total: int, worker: int, workers: int) -> int:
    """Return worker's part of `total` when split as evenly as possible (at least 1)."""
    return max(1, total // workers + (1 if worker < total % workers else 0))


class Engine:
    """The state of one running engine (one event loop, one thread)."""

    def __init__(
        self,
        plan: LoadPlan,
        worker: int,
        workers: int,
        t0: float,
        emit: Callable[[IntervalStats], None],
        should_stop: Callable[[], bool],
    ) -> None:
        self.plan, self.worker, self.workers, self.t0 = plan, worker, workers, t0
        self.emit, self.should_stop = emit, should_stop
        self.end_s = total_duration_s(plan.model)
        origin = wire.plan_origin(plan)
        self.payloads = payloads(plan, origin, worker, workers)
        self.origin = origin
        self.second = 0
        self.running = True  # still sending new requests
        self.coordinator_lost = False
        self.bugs: list[str] = []
        self.stopped_at_s: float | None = None
        self.cpu_mark = (time.thread_time(), _mono())
        self.loop = asyncio.get_running_loop()
        # uvloop's (and asyncio's) loop.time() is CLOCK_MONOTONIC, like time.monotonic()
        self.loop_is_monotonic = abs(self.loop.time() - _mono()) < 0.01
        self.done: asyncio.Future[None] = self.loop.create_future()
        self.drain_deadline = math.inf
        self.names = request_names(plan)  # per-name figures when there are two or more
        self.client = Client(
            origin,
            self.payloads,
            wire.mix_sequence([r.weight for r in plan.requests], seed=worker),
            connections=share(plan.connections, worker, workers),
            timeout_s=plan.timeout_s,
            ssl_context=wire.ssl_context(plan, origin),
            on_done=self._user_done if isinstance(plan.model, ClosedModel) else None,
            index=[self.names.index(r.name) for r in plan.requests],
            checkers=[compile_checks(r.checks) if r.checks else None for r in plan.requests],
        )
        self.pacer: Pacer | None = None
        self.ticker: Ticker | None = None
        model = plan.model
        self.think_s = model.think_time_s if isinstance(model, ClosedModel) else 0.0
        self.client.chain = isinstance(model, ClosedModel) and self.think_s == 0
        self.runner: FlowRunner | None = None
        if plan.flows:
            self._run_flows()

    def _run_flows(self) -> None:
        """Flows: users send the requests (each step its user's), not the weighted mix."""
        plan, client = self.plan, self.client
        mix = wire.mix_sequence([f.weight for f in plan.flows], seed=self.worker)
        runner = FlowRunner(
            plan, self.origin, sources(plan, self.worker, self.workers), client, mix,
            self._iteration_over,
        )  # fmt: skip
        client.on_done, client.render = runner.step_done, runner.render
        client.conn_class, client.chain = FlowConn, False
        self.runner = runner

    def _iteration_over(self, now: float) -> None:
        """A flow user's iteration ended: in the closed model the user starts again."""
        if not self.running or not isinstance(self.plan.model, ClosedModel):
            return
        if self.think_s > 0:
            self.loop.call_later(self.think_s, self._user_think_over, now + self.think_s)
        elif self.runner is not None:
            self.runner.start(now)

    def _stop_sending(self, *, flows_finish: bool = False) -> None:
        """Send no new request from now on (the ones in flight may still finish); at the
        schedule's end (`flows_finish`) users already in a flow may still send its next
        steps until drained (no new iteration starts), as k6 lets iterations finish."""
        self.running = False
        if self.runner is not None and not flows_finish:
            self.runner.running = False
        self.client.chain = False
        self.client.next_due_at = math.inf

    def _at(self, offset_s: float, callback: Callable[[], None]) -> None:
        self.loop.call_later(max(0.0, self.t0 + offset_s - _mono()), callback)

    def start(self) -> None:
        """Arm the timers: interval swaps, housekeeping, and the model's first sends."""
        self._at(1.0, self._swap)
        self.loop.call_later(HOUSEKEEPING_S, self._housekeeping)
        model = self.plan.model
        if isinstance(model, OpenModel):
            self.pacer = Pacer(model, SystemClock(), self.t0, self.worker, self.workers)
            self.client.on_due = self._on_due
            self.ticker = Ticker(self.loop, self._on_due)
            self.ticker.start()
            first = self.pacer.next_due_s()
            self._wake_at(self.t0 + (first if first is not None else self.end_s), self._dispatch)
        else:
            for start_s in user_starts(model, self.worker, self.workers):
                self._at(start_s, self._user_start)
        self._at(self.end_s, self._schedule_over)

    # -- open model ---------------------------------------------------------------------
    def _send_due(self, until_s: float | None = None) -> float | None:
        """Submit every due arrival with its intended time; return the next one's offset."""
        pacer, t0, client = self.pacer, self.t0, self.client
        if pacer is None:
            return None
        due = pacer.take_due(until_s)
        if due:
            rel = _mono() - t0
            cur = client.cur
            lag = cur.lag.append
            if self.runner is None:
                cur.offered += len(due)
                for off in due:
                    lag(rel - off)
                    client.submit(t0 + off, self.client.next_req())
            else:  # flow arrivals: each starts an iteration (its steps count as offered)
                for off in due:
                    lag(rel - off)
                    self.runner.start(t0 + off)
        nxt = pacer.next_due_s()
        late_by = PIGGYBACK_SLACK_S
        client.next_due_at = t0 + nxt + late_by if nxt is not None and self.running else math.inf
        if nxt is not None and self.ticker is not None:
            self.ticker.wake_at(t0 + nxt)
        return nxt

    def _dispatch(self) -> None:
        """Timer: send what is due, then sleep until the next arrival (at least one tick).

        Between ticks, responses also send what fell due (`Client.on_due`), so at high
        rates the dispatch lag is bounded by the response spacing, not by the tick.
        """
        if not self.running:
            return
        nxt = self._send_due()
        if nxt is not None:
            self._wake_at(self.t0 + nxt, self._dispatch)

    def _wake_at(self, at: float, callback: Callable[[], None]) -> None:
        """Call back at the first loop tick at or after monotonic time `at`."""
        if self.loop_is_monotonic:
            self.loop.call_at(math.ceil(at / TICK_S - 1e-6) * TICK_S, callback)
        else:
            self.loop.call_later(max(0.0, at - _mono()), callback)

    def _on_due(self) -> None:
        """A response came in after the next arrival fell due: send it now."""
        if self.running:
            self._send_due()

    # -- closed model -------------------------------------------------------------------
    def _user_start(self) -> None:
        if self.running and self.runner is not None:
            self.runner.start(_mono())
        elif self.running:
            self.client.cur.offered += 1
            self.client.submit(_mono(), self.client.next_req())

    def _user_done(self, finished_at: float, user: object) -> None:
        """A user's request finished: send its next one now or after the think time."""
        if not self.running:
            return
        think = self.think_s
        if think > 0:
            self.loop.call_later(think, self._user_think_over, finished_at + think)
        else:
            self.client.cur.offered += 1
            self.client.submit(finished_at, self.client.next_req())

    def _user_think_over(self, intended: float) -> None:
        if self.running and self.runner is not None:
            self.runner.start(intended)
        elif self.running:
            self.client.cur.offered += 1
            self.client.submit(intended, self.client.next_req())

    # -- time keeping -------------------------------------------------------------------
    def _swap(self) -> None:
        """Close second k: swap in a fresh accumulator and emit the old one's stats."""
        old, self.client.cur = self.client.cur, self.client.new_interval()
        self._emit(finish(old, self.second, self._cpu_percent(), self.names))
        self.second += 1
        if not self.done.done():
            self._at(self.second + 1.0, self._swap)

    def _emit(self, stats: IntervalStats) -> None:
        """Hand a second to the coordinator; if it is gone, end the run (nobody listens)."""
        try:
            self.emit(stats)
        except OSError:
            self.coordinator_lost = True

    def on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Event loop error handler: transport failures are data (already counted); an
        exception from one of our callbacks is a bug that ends the run, reported as such.
        """
        exc = context.get("exception")
        if isinstance(exc, httptools.HttpParserCallbackError):  # our response callback broke
            exc = exc.__context__ or exc
        elif exc is None or isinstance(exc, _TRANSPORT_ERRORS):
            return
        if isinstance(exc, DataExhausted):  # the data ran out: the user's to fix, said plainly
            self.bugs.append(str(exc))
        else:
            self.bugs.append(f"{type(exc).__name__}: {exc} ({context.get('message', '')})")
        if not self.done.done():
            self._stop_sending()
            self._finish()

    def _cpu_percent(self) -> float:
        """CPU of this engine (its loop thread and its ticker) since the last call, in %."""
        cpu = time.thread_time() + (self.ticker.cpu_s if self.ticker is not None else 0.0)
        wall = _mono()
        (cpu0, wall0), self.cpu_mark = self.cpu_mark, (cpu, wall)
        return 100.0 * (cpu - cpu0) / (wall - wall0) if wall > wall0 else 0.0

    def _schedule_over(self) -> None:
        if self.running:
            # the end timer may tick a little before t0 + end: send what the schedule still
            # holds (all of it is due before its end), so no arrival is silently lost
            self._send_due(until_s=self.end_s)
            self.drain_deadline = _mono() + self.plan.timeout_s + HOUSEKEEPING_S * 2
        self._stop_sending(flows_finish=True)

    def _housekeeping(self) -> None:
        """Sweep timeouts, notice a stop, and end the run once drained."""
        if self.done.done():
            return
        self.client.cur.fold()
        self.client.sweep()
        if self.running and (self.coordinator_lost or self.should_stop()):
            self._stop_sending()
            self.stopped_at_s = _mono() - self.t0
            self.drain_deadline = _mono() + min(self.plan.timeout_s, STOP_GRACE_S)
        drained = self.client.inflight == 0 and not self.client.queue and not self.client.opening
        if self.runner is not None and self.runner.running:  # users finishing their flow
            drained = drained and self.runner.thinking == 0 and not self.runner.tasks
        if not self.running and (drained or _mono() >= self.drain_deadline):
            self._finish()
            return
        self.loop.call_later(HOUSEKEEPING_S, self._housekeeping)

    def _finish(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        try:
            self.client.abandon_queue()
            self.client.close()
            old, self.client.cur = self.client.cur, self.client.new_interval()
            self._emit(finish(old, self.second, self._cpu_percent(), self.names))
        finally:
            self.done.set_result(None)

    def ran_s(self) -> float:
        """Seconds of schedule this engine ran."""
        if self.stopped_at_s is not None:
            return max(0.0, min(self.stopped_at_s, self.end_s))
        return self.end_s


async def _run(
    plan: LoadPlan,
    worker: int,
    workers: int,
    t0: float,
    emit: Callable[[IntervalStats], None],
    should_stop: Callable[[], bool],
) -> float:
    engine = Engine(plan, worker, workers, t0, emit, should_stop)
    asyncio.get_running_loop().set_exception_handler(engine.on_loop_error)
    engine.start()
    await engine.done
    if engine.bugs:
        raise RuntimeError(engine.bugs[0])
    return engine.ran_s()


def new_loop() -> asyncio.AbstractEventLoop:
    """Return a uvloop event loop (uvloop is a dependency: one loop, measured as benched)."""
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run_engine(
    plan: LoadPlan,
    *,
    worker: int,
    workers: int,
    t0: float,
    emit: Callable[[IntervalStats], None],
    should_stop: Callable[[], bool],
) -> float:
    """Run one engine to the end of its schedule; return the seconds of schedule run."""
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_run(plan, worker, workers, t0, emit, should_stop))
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
