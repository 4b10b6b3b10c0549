"""run_load: start the workers, hand them t0, merge their seconds, return the LoadResult.

`drive(pool, ...)` is the part every engine shares (local workers here, Ray actors in
distributed.py): a Pool is the coordinator's end of N workers (their Transports, `go(t0)`,
`broadcast(Stop)`, `close()`); drive waits for every Ready, starts all on one t0, merges
their seconds exactly and judges the run (watch.py).

In: a LoadPlan, optionally `start_at` (monotonic t0), an `on_interval` callback (called in
the caller's thread once per merged second) and a `stop` event. Out: a LoadResult with
one merged IntervalStats per second and the self-watch verdict (watch.py).

workers == 1 runs the engine in the caller's thread (inline.py: no second Python thread
to share the GIL with) unless `processes=True`; more run as spawned child processes
(spawn, not fork: the caller may have threads). A caller that keeps other Python threads
busy during the load (the trial runner's observers) passes `processes=True`: an engine in
their process would wait for the GIL behind them and fall behind its schedule by tens of
milliseconds. The coordinator only sees Transport messages from its processes. Ctrl-C or
`stop` sends Stop to every worker; what they measured until then is still merged and
returned (`interrupted=True`).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from loadtrial.allow import refusal
from loadtrial.errors import LoadtrialError, TargetError
from loadtrial.load import wire
from loadtrial.load.model import EngineProvenance, IntervalStats, LoadPlan, LoadResult
from loadtrial.load.recorder import merge_intervals
from loadtrial.load.transport import (
    Done,
    Go,
    PipeTransport,
    Ready,
    Stop,
    Tick,
    Transport,
)
from loadtrial.load.validate import check_plan
from loadtrial.load.watch import assess
from loadtrial.load.worker import child_main

READY_TIMEOUT_S = 60.0
START_MARGIN_S = 0.05  # t0 this long after every worker is ready (when start_at is None)
POLL_S = 0.01


@dataclass
class Merger:
    """Collects Ticks per second and releases merged seconds in order."""

    workers: int
    next_second: int = 0
    parts: dict[int, dict[int, IntervalStats]] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)  # worker → its last second (Done)
    seen: dict[int, int] = field(default_factory=dict)  # worker → highest second received
    cpu: dict[int, list[float]] = field(default_factory=dict)  # worker → CPU % per second

    def add(self, worker: int, stats: IntervalStats) -> None:
        self.parts.setdefault(stats.second, {})[worker] = stats
        self.seen[worker] = max(self.seen.get(worker, -1), stats.second)
        self.cpu.setdefault(worker, []).append(stats.cpu_percent)

    def worker_cpu(self) -> list[list[float]]:
        """Each worker's CPU (% of one core) per second it reported (for the self-watch)."""
        return [self.cpu.get(w, []) for w in range(self.workers)]

    def finish(self, worker: int) -> None:
        self.last[worker] = self.seen.get(worker, -1)

    def partial_after(self, worker: int) -> int:
        """The last second a worker delivered (-1: none); later seconds lack its share."""
        return self.last.get(worker, self.seen.get(worker, -1))

    def ready(self) -> list[IntervalStats]:
        """Return the merged seconds every worker has delivered (or is done past)."""
        out: list[IntervalStats] = []
        while True:
            k = self.next_second
            have = self.parts.get(k, {})
            waiting = [w for w in range(self.workers) if w not in have and self.last.get(w, k) >= k]
            if waiting or (not have and len(self.last) == self.workers):
                return out
            out.append(merge_intervals(k, list(have.values())) if have else IntervalStats(k))
            self.parts.pop(k, None)
            self.next_second += 1


class Pool(Protocol):
    """The coordinator's end of N running workers, wherever they run."""

    @property
    def transports(self) -> Sequence[Transport]:
        """One Transport per worker, in worker order."""
        ...

    def go(self, t0: float) -> None:
        """Start every worker with second 0 at monotonic time t0 (this host's clock)."""
        ...

    def broadcast(self, msg: Stop) -> None:
        """Send a message to every worker still reachable."""
        ...

    def close(self) -> None:
        """End every worker (none outlives the run) and release the channels."""
        ...


class Workers:
    """The running workers and the coordinator's ends of their transports."""

    def __init__(self, plan: LoadPlan, workers: int) -> None:
        self.transports: list[Transport] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        ctx = multiprocessing.get_context("spawn")
        for w in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=child_main, args=(plan, w, workers, child), daemon=True)
            proc.start()
            child.close()
            self.transports.append(PipeTransport(parent))
            self.procs.append(proc)

    def go(self, t0: float) -> None:
        self.broadcast(Go(t0))

    def broadcast(self, msg: Go | Stop) -> None:
        for t in self.transports:
            with contextlib.suppress(BrokenPipeError, EOFError, OSError):
                t.send(msg)

    def close(self) -> None:
        """Join every worker (terminating stragglers) and close the channels."""
        for proc in self.procs:
            proc.join(timeout=5.0)
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=2.0)
        for t in self.transports:
            t.close()


def _await_ready(pool: Pool, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Wait for every worker's Ready; LoadtrialError when one ends or stays silent."""
    waiting = set(range(len(pool.transports)))
    deadline = time.monotonic() + timeout_s
    while waiting and time.monotonic() < deadline:
        for w in list(waiting):
            try:
                msg = pool.transports[w].recv(POLL_S)
            except (EOFError, OSError):
                raise LoadtrialError(
                    f"load worker {w} ended before it was ready", "see the messages above"
                ) from None
            if isinstance(msg, Ready):
                waiting.discard(w)
    if waiting:
        raise LoadtrialError(
            f"load worker(s) {sorted(waiting)} not ready after {timeout_s:g} s",
            "the machine may be overloaded",
        )


@dataclass
class Collected:
    """What the coordinator gathered while the workers ran."""

    intervals: list[IntervalStats] = field(default_factory=list)
    ran_s: float = 0.0
    errors: list[str] = field(default_factory=list)
    interrupted: bool = False
    worker_cpu: list[list[float]] = field(default_factory=list)
    failed: dict[int, int] = field(default_factory=dict)  # failed worker → its last second
    # workers that stopped sending before their schedule's end: "worker w after x s: why"
    stopped: list[str] = field(default_factory=list)


def _pump(
    pool: Pool,
    merger: Merger,
    out: Collected,
    on_interval: Callable[[IntervalStats], None] | None,
) -> bool:
    """Move every waiting message into the merger; return True when all workers are done."""
    for w, t in enumerate(pool.transports):
        if w in merger.last:
            continue
        try:
            while (msg := t.recv(0)) is not None:
                if isinstance(msg, Tick):
                    merger.add(w, msg.stats)
                elif isinstance(msg, Done):
                    merger.finish(w)
                    out.ran_s = max(out.ran_s, msg.ran_s)
                    if msg.stopped:
                        out.stopped.append(f"load worker {w} stopped sending after "
                                           f"{msg.ran_s:.2f} s: {msg.stopped}")  # fmt: skip
                    if msg.error:
                        out.errors.append(f"worker {w} failed: {msg.error}")
                        out.failed[w] = merger.partial_after(w)
                    break
        except (EOFError, OSError) as exc:
            merger.finish(w)
            out.errors.append(
                f"worker {w} ended without reporting" + (f": {exc}" if str(exc) else "")
            )
            out.failed[w] = merger.partial_after(w)
    for stats in merger.ready():
        out.intervals.append(stats)
        if on_interval is not None:
            on_interval(stats)
    return len(merger.last) == len(pool.transports)


def _collect(
    pool: Pool,
    workers: int,
    on_interval: Callable[[IntervalStats], None] | None,
    stop: threading.Event,
) -> Collected:
    """Merge seconds until every worker is done; Ctrl-C or `stop` ends the run early."""
    merger, out = Merger(workers), Collected()
    while True:
        try:
            if stop.is_set() and not out.interrupted:
                out.interrupted = True
                pool.broadcast(Stop())
            if _pump(pool, merger, out, on_interval):
                out.worker_cpu = merger.worker_cpu()
                return out
            time.sleep(POLL_S)
        except KeyboardInterrupt:
            if out.interrupted:  # a second Ctrl-C: stop waiting for the drain
                out.worker_cpu = merger.worker_cpu()
                return out
            stop.set()


def check_target(plan: LoadPlan) -> None:
    """Check the plan and its target's host (by address: this machine, or allowed) before
    any packet: the engine enforces the rule itself, whoever built the plan."""
    check_plan(plan)
    host = wire.plan_origin(plan).host
    why = refusal(host, plan.allow_hosts)
    if why:
        raise TargetError(
            f"refusing to send load: {why}", f"add {host} to target.allow if you own it"
        )


def drive(
    pool: Pool,
    plan: LoadPlan,
    *,
    start_at: float | None,
    on_interval: Callable[[IntervalStats], None] | None,
    stop: threading.Event | None,
    provenance: EngineProvenance,
    margin_s: float,
) -> LoadResult:
    """Run started workers to the end: Ready, one t0 (`start_at` or `margin_s` from
    now), merged seconds, the verdict. The pool is closed in every case."""
    stop = stop if stop is not None else threading.Event()
    workers = len(pool.transports)
    try:
        _await_ready(pool)
        t0 = start_at if start_at is not None else time.monotonic() + margin_s
        started_at = time.time() + (t0 - time.monotonic())
        pool.go(t0)
        out = _collect(pool, workers, on_interval, stop)
    finally:
        pool.broadcast(Stop())
        pool.close()
    return conclude(plan, t0, started_at, out, provenance)


def conclude(
    plan: LoadPlan, t0: float, started_at: float, out: Collected, provenance: EngineProvenance
) -> LoadResult:
    """Return the LoadResult of what the workers delivered, judged (partial seconds,
    failed workers, the self-watch)."""
    partial = _partial_seconds(out)
    reasons = tuple(out.errors) + _partial_reason(partial, provenance.workers)
    if not out.interrupted:  # a stop nobody here asked for: the run lacks load, say why
        reasons += tuple(out.stopped)
    reasons += assess(plan, out.intervals, out.worker_cpu)
    return LoadResult(
        plan=plan,
        t0=t0,
        started_at=started_at,
        intervals=tuple(out.intervals),
        interrupted=out.interrupted,
        valid=not reasons,
        invalid_reasons=reasons,
        duration_s=out.ran_s,
        partial_seconds=partial,
        provenance=provenance,
    )


def _partial_seconds(out: Collected) -> tuple[int, ...]:
    """Seconds that lack the share of a worker that failed or was lost."""
    if not out.failed:
        return ()
    first = min(out.failed.values()) + 1
    return tuple(iv.second for iv in out.intervals if iv.second >= first)


def _partial_reason(partial: tuple[int, ...], workers: int) -> tuple[str, ...]:
    if not partial:
        return ()
    return (
        f"seconds {partial[0]}-{partial[-1]} are partial: they lack the load of a lost "
        f"worker (of {workers}); the others' data is kept",
    )
