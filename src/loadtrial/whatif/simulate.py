"""Discrete-event simulation of a `WhatifModel` (SimPy): finite pools, blocking, timeouts.

In: a model, a seed and how long to simulate. Out: a `SimResult`: requests, errors by cause,
latencies (s) of the requests that arrived in the measured window, and the mean utilisation
of each resource. SimPy was chosen over Ciw because a request here holds several resources
at once (a balancer slot, then a pool connection while it uses the database CPU) and pools
grow per node under one database-wide limit; Ciw's networks move a customer from one node to
the next. Closed forms (`whatif.formulas`) answer the single-station questions and check
this simulator in the tests.

The run simulated is the measured one: the trial's stages (ramp, plateau, warm-up) at the
model's rate, measured over the analysis' steady window. Conventions match the load
engine's: arrivals are its schedule; a request is counted in the second it completes; one
that gives up is an error recorded then; a client timeout (from the intended send) is
recorded at the timeout while the system keeps working on the request.
"""

from __future__ import annotations

import math
import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy

from loadtrial.analysis.windows import steady_window
from loadtrial.load import schedule
from loadtrial.load.model import OpenModel, Stage
from loadtrial.whatif.model import WhatifModel, profile_quantile
from loadtrial.whatif.pools import DbSlots, Pool

FloatArray = npt.NDArray[np.float64]
MONITOR_STEP_S = 0.1
RESOURCES = ("db.connections", "db.cpu", "app.cpu", "lb.maxconn", "host.cpu")
# an error's cause -> the resource that caused it (a node is taken out when its CPU is too
# far behind to answer the balancer's health check)
CAUSE_OF = {"pool_timeout": "db.connections", "lb_queue": "lb.maxconn", "no_backend": "app.cpu"}
HEALTH_FALL = 2  # unanswered checks in a row that take a node out (both balancers: fall 2)
CHECK_LAST = 2**62  # a health check's priority at a node's CPU: after every waiting request


def _newest_first(now_s: float) -> int:
    """A request's priority at a node's CPU (lower first): the newest is served first."""
    return -int(now_s * 1e6)


@dataclass(frozen=True, eq=False)
class SimResult:
    """What the simulated window measured (arrivals in [warmup, horizon))."""

    window_s: float
    arrived: int
    ok: int
    errors: dict[str, int]  # cause -> count: pool_timeout, lb_queue, timeout
    latency_s: FloatArray  # every completed request, errors at their elapsed time
    utilisation: dict[str, float]  # resource -> mean busy share over the window

    @property
    def completed(self) -> int:
        """Requests that finished (ok or error)."""
        return int(self.latency_s.size)

    @property
    def error_rate(self) -> float:
        """Errors / completed (0 when nothing completed)."""
        done = self.completed
        return sum(self.errors.values()) / done if done else 0.0

    @property
    def throughput_per_s(self) -> float:
        """Successful responses per second of window."""
        return self.ok / self.window_s if self.window_s > 0 else 0.0

    def latency_quantile_s(self, percent: float) -> float:
        """A latency quantile (s); NaN when nothing completed."""
        if not self.latency_s.size:
            return float("nan")
        return float(np.percentile(self.latency_s, percent))


class _System:
    """The simulated resources and the request process."""

    def __init__(self, model: WhatifModel, env: simpy.Environment, rng: random.Random) -> None:
        t, d = model.topology, model.demands
        self.model, self.env, self.rng = model, env, rng
        self.db = DbSlots(t.db_connections)
        self.pools = [Pool(env, t.pool_max, self.db) for _ in range(t.app_nodes)]
        for pool in self.pools[: t.warm_nodes]:
            for _ in range(min(t.pool_max, t.warm_connections_per_node)):
                if self.db.take():
                    pool.open += 1
                    pool.idle += 1
        cores = max(1, round(t.app_cores_per_node))
        # a node is one event loop, and an overloaded one does not serve in arrival order:
        # measured (app-cpu, one node), the median stays < 0.8 s while a tail times out at
        # 5 s, and the balancer's checks go unanswered until it takes the node out. So its
        # CPU takes the newest waiting request first, and a health check after them all
        self.app_cpu = [simpy.PriorityResource(env, cores) for _ in range(t.app_nodes)]
        self.db_cpu = simpy.Resource(env, max(1, round(t.db_cpus)))
        # one machine for every tier (the testbed): a process that has its tier's CPU still
        # waits for one of the host's cores, as a runnable process waits for the scheduler
        self.host = simpy.Resource(env, max(1, round(t.host_cores))) if t.host_cores else None
        slots = t.lb_maxconn * t.app_nodes
        self.lb = simpy.Resource(env, slots) if slots else None
        self.burning = {"app": 0, "db": 0, "other": 0}  # CPU bursts running now, per tier
        self.next_node = 0
        self.healthy = [True] * t.app_nodes
        self.db_from = 1.0 - d.db_share.value  # quantiles above this use the database
        self.base_s = profile_quantile(model.profile_s, self.db_from) if d.db_share.value else 0
        self.tilt, self.hold_scale, self.hold_offset_s = hold_shape(
            model, self.db_from, self.base_s
        )
        self.records: list[tuple[float, float, str]] = []  # (recorded at, latency, cause)
        self.pending: dict[int, float] = {}  # request number -> its send time, until it ends
        self.sent = 0
        self.window = (0.0, 0.0)

    def _exp(self, mean: float) -> float:
        return self.rng.expovariate(1.0 / mean) if mean > 0 else 0.0

    def request(self) -> Generator[Any, Any, None]:
        """One request's path, sent now; records its outcome."""
        t0, key = self.env.now, self.sent
        self.sent += 1
        self.pending[key] = t0
        node = self._route()
        if node is None:  # every node taken out: the balancer answers 503 at once
            return self._end(key, "no_backend")
        lb = self.lb
        if lb is None:
            cause = yield from self._serve(node)
            return self._end(key, cause)
        slot = lb.request()
        got = yield slot | self.env.timeout(self.model.timeouts.lb_queue_s)
        if slot not in got:
            # granted in the very instant it timed out: give it back (cancel() only takes a
            # waiting request off the queue; a granted slot would be held for ever)
            if slot.triggered:
                lb.release(slot)
            else:
                slot.cancel()
            return self._end(key, "lb_queue")
        try:
            cause = yield from self._serve(node)
        finally:
            lb.release(slot)
        self._end(key, cause)

    def _route(self) -> int | None:
        """The next node in round-robin order that the balancer has in; None if none is."""
        n = len(self.pools)
        for i in range(n):
            node = (self.next_node + i) % n
            if self.healthy[node]:
                self.next_node = (node + 1) % n
                return node
        return None

    def health(self, node: int) -> Generator[Any, Any, None]:
        """The balancer's health check of one node: a check waits for the node's CPU until
        no request waits; HEALTH_FALL unanswered in a row take the node out, one answer
        puts it back."""
        w, fails = self.model.timeouts, 0
        cpu = self.app_cpu[node]
        while True:
            check = cpu.request(priority=CHECK_LAST)
            got = yield check | self.env.timeout(w.health_answer_s)
            if check.triggered:
                cpu.release(check)
            else:
                check.cancel()
            fails = 0 if check in got else fails + 1
            self.healthy[node] = fails < HEALTH_FALL
            yield self.env.timeout(w.health_every_s)

    def _serve(self, node: int) -> Generator[Any, Any, str]:
        """App CPU, then (for a db request) a pool connection held while the db works."""
        u = self.rng.random()
        d = self.model.demands
        uses_db = u >= self.db_from and d.db_share.value > 0
        hold = 0.0
        if uses_db:
            w = (u - self.db_from) / (1.0 - self.db_from)
            hold = _db_hold(self.model, self.db_from, self.base_s, w, self.tilt) * self.hold_scale
            hold += self.hold_offset_s
        whole = profile_quantile(self.model.profile_s, u)  # its unloaded time in all
        # a db request spends the rest of its profile time outside the connection: at most
        # the fastest db request's time, less when the measured hold fills its profile time
        # (a query that holds its connection ~200 ms is ~200 ms of its 206 ms)
        fixed = min(self.base_s, max(0.0, whole - hold)) if uses_db else whole
        fixed -= d.app_cpu_s.value
        yield self.env.timeout(max(0.0, fixed))
        with self.app_cpu[node].request(priority=_newest_first(self.env.now)) as cpu:
            yield cpu
            yield from self._burn("app", d.app_cpu_s.value)
        if not uses_db:
            return ""
        pool = self.pools[node]
        conn = pool.acquire()
        got = yield conn | self.env.timeout(self.model.timeouts.pool_wait_s)
        if conn not in got:
            pool.give_up(conn)
            return "pool_timeout"
        try:
            if got[conn] and d.connect_s.value > 0:  # a new backend starts up on the db CPU
                with self.db_cpu.request() as cpu:
                    yield cpu
                    yield from self._burn("db", d.connect_s.value)
            with self.db_cpu.request() as cpu:
                yield cpu
                yield from self._burn("db", d.db_cpu_s.value)
            yield self.env.timeout(max(0.0, hold - d.db_cpu_s.value))
        finally:
            pool.release()
        return ""

    def _burn(self, tier: str, mean_s: float) -> Generator[Any, Any, None]:
        """Use a CPU for an exponential time of mean `mean_s`, on one of the host's cores
        when the tiers share a host; `burning` counts it as the tier's CPU use (what a CPU
        observer reads: a process waiting for a core is not using one)."""
        took = self._exp(mean_s)
        if self.host is None:
            self.burning[tier] += 1
            yield self.env.timeout(took)
            self.burning[tier] -= 1
            return
        with self.host.request() as core:
            yield core
            self.burning[tier] += 1
            yield self.env.timeout(took)
            self.burning[tier] -= 1

    def other(self) -> Generator[Any, Any, None]:
        """The rest of the host's work for one arrival (the balancer, the load generator,
        the observers): it takes a core, and delays no request but through the cores."""
        yield from self._burn("other", self.model.demands.other_cpu_s.value)

    def _end(self, key: int, cause: str) -> None:
        """Record the outcome as the load engine does: a request still unanswered at the
        client's timeout (counted from its intended send) is a timeout error recorded then,
        while the system goes on working on it (nobody tells the server)."""
        t0 = self.pending.pop(key)
        elapsed = self.env.now - t0
        limit = self.model.timeouts.request_s
        if elapsed > limit:
            cause, elapsed = "timeout", limit
        self.records.append((t0 + elapsed, elapsed, cause))

    def busy(self) -> dict[str, float]:
        """Each resource's busy share right now."""
        t = self.model.topology
        out = {
            "db.connections": sum(p.busy for p in self.pools) / max(1, self.db.limit),
            "db.cpu": self.burning["db"] / self.db_cpu.capacity,
            "app.cpu": self.burning["app"] / sum(r.capacity for r in self.app_cpu),
        }
        if self.lb is not None:
            out["lb.maxconn"] = self.lb.count / max(1, t.lb_maxconn * t.app_nodes)
        if self.host is not None:
            out["host.cpu"] = self.host.count / self.host.capacity
        return out


def _tilt(w: float, a: float) -> float:
    """Map a uniform w to 1 - (1 - w)^a: a > 1 leans toward the slow end of the profile."""
    return float(1.0 - (1.0 - w) ** a)


def _db_hold(model: WhatifModel, db_from: float, base_s: float, w: float, a: float) -> float:
    v = db_from + (1.0 - db_from) * _tilt(w, a)
    return profile_quantile(model.profile_s, v) - base_s


def hold_shape(model: WhatifModel, db_from: float, base_s: float) -> tuple[float, float, float]:
    """(tilt a, scale, offset s): a db request holds its connection for
    offset + scale × (its profile time − base), on average the measured `hold_s`.

    The profile's values are kept (its p99 is what a request takes); its mix is re-weighted
    (tilt), because seconds of a ramp over-count fast requests: a slow request completes a
    second later, when fewer were sent. Only when even the slowest mix is short of `hold_s`
    are the values scaled as well; a profile without spread holds exactly `hold_s`.
    """
    target = model.demands.hold_s.value
    if model.demands.db_share.value <= 0 or target <= 0:
        return 1.0, 1.0, 0.0
    ws = np.linspace(0.0, 1.0, 401)[:-1] + 1.0 / 800

    def mean_at(log_a: float) -> float:
        a = float(np.exp(log_a))
        return float(np.mean([_db_hold(model, db_from, base_s, float(w), a) for w in ws]))

    lo, hi = -4.0, 4.0
    top = mean_at(hi)
    if top <= 0:
        return 1.0, 0.0, target
    if top < target:
        return float(np.exp(hi)), target / top, 0.0
    if mean_at(lo) > target:
        return float(np.exp(lo)), target / mean_at(lo), 0.0
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean_at(mid) < target else (lo, mid)
    return float(np.exp((lo + hi) / 2)), 1.0, 0.0


def arrival_times(model: WhatifModel, seed: int) -> FloatArray:
    """Intended send times (s) of the model's run: the trial's stages scaled so their peak
    is `rate_per_s`, paced by the load engine's own schedule (even or Poisson)."""
    peak = schedule.peak_rate_per_s(OpenModel(model.stages))
    k = model.rate_per_s / peak if peak > 0 else 0.0
    stages = tuple(
        Stage(st.duration_s, _scaled(st.rate_per_s, k), _scaled(st.ramp_to_per_s, k))
        for st in model.stages
    )
    plan = OpenModel(stages, poisson=model.poisson, seed=seed)
    chunks = list(schedule.iter_chunks(plan))
    return np.concatenate(chunks) if chunks else np.zeros(0)


def _scaled(rate: float | None, k: float) -> float | None:
    return None if rate is None else rate * k


def _arrivals(sys: _System, times: FloatArray) -> Generator[Any, Any, None]:
    env = sys.env
    for t in times.tolist():
        if t > env.now:
            yield env.timeout(t - env.now)
        env.process(sys.request())
        if sys.host is not None and sys.model.demands.other_cpu_s.value > 0:
            env.process(sys.other())


def _monitor(sys: _System, sums: dict[str, float], counts: list[int]) -> Generator[Any, Any, None]:
    start, end = sys.window
    yield sys.env.timeout(start)
    while sys.env.now < end:
        for name, share in sys.busy().items():
            sums[name] = sums.get(name, 0.0) + share
        counts[0] += 1
        yield sys.env.timeout(MONITOR_STEP_S)


def simulate(model: WhatifModel, *, seed: int) -> SimResult:
    """Simulate the model's run and measure it as the analysis measures a run: the steady
    window of its offered rate after warm-up (`analysis.windows.steady_window`), requests
    counted in the second they complete (errors too, timeouts at the timeout)."""
    env = simpy.Environment()
    sys = _System(model, env, random.Random(seed))
    times = arrival_times(model, seed)
    run_s = sum(st.duration_s for st in model.stages)
    seconds = max(1, math.ceil(run_s))
    offered = np.bincount(times.astype(np.int64), minlength=seconds)[:seconds]
    window = steady_window(offered.astype(np.float64), model.warmup_s)
    sys.window = (float(window.start_s), float(window.end_s))
    sums: dict[str, float] = {}
    counts = [0]
    env.process(_arrivals(sys, times))
    for node in range(len(sys.pools)):
        env.process(sys.health(node))
    env.process(_monitor(sys, sums, counts))
    limit = model.timeouts.request_s
    env.run(until=run_s + limit + 0.001)
    # requests still inside the system past the client's timeout: timeouts at t0 + limit
    records = sys.records + [(t0 + limit, limit, "timeout") for t0 in sys.pending.values()]
    lo, hi = sys.window
    inside = [(lat, cause) for end, lat, cause in records if lo <= end < hi]
    errors: dict[str, int] = {}
    for _, cause in inside:
        if cause:
            errors[cause] = errors.get(cause, 0) + 1
    n = max(1, counts[0])
    return SimResult(
        window_s=hi - lo,
        arrived=int(np.count_nonzero((times >= lo) & (times < hi))),
        ok=sum(1 for _, cause in inside if not cause),
        errors=errors,
        latency_s=np.asarray([lat for lat, _ in inside], dtype=np.float64),
        utilisation={k: v / n for k, v in sums.items()},
    )
