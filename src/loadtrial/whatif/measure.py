"""A `WhatifModel` from the stored runs of one arm: the operational laws on measured data.

In: `TrialData`, the `Trial` it ran, an arm. Out: a model whose every number says where it
came from. Per run, over its steady window (the analysis' own, `build_run_view`):
- arrival rate X0 = offered/s; db requests/s C = `db.xact.commit_per_s` (+ the errors/s
  when the db connections were saturated: those requests waited for a connection);
- db_share = C / answered (requests completed or given up: when the system falls behind,
  commits follow what it serves, not what arrives; ≈ X0 when it keeps up);
- hold_s = (db connections active + idle in transaction) / C (Little); when the db CPU
  was saturated (≥ SATURATED_UTIL), db_cpu_s instead: the connections were held while
  their queries queued for the CPU, a queue the simulator makes itself;
- app_cpu_s = app CPU cores busy / completed/s; when the run fell behind (goodput of the
  window's seconds before the first error < 90 % of offered, < 95 % when that CPU was
  pinned at ≥ SATURATED_UTIL per core) and the app's CPU was busier than the db's (per
  core) and at least BUSY_UTIL busy, nodes / that goodput instead (X_max = c / D):
  D = U / X understates the work when U is capped by the host or pinned at 1;
- db_cpu_s = db CPU cores busy / C; when the run fell behind and the db's CPU was the
  busier, db CPUs / (db_share × that goodput) instead (C counts the observer's commits too);
- on a host the tiers share (the provider says so: `shared_host()`): host_cores from the
  `host.cpu.percent` capacity, other_cpu_s = (host CPU busy − app − db) / X0 (the balancer,
  the generator, the observers and any neighbour); a station that fell behind while its
  own CPU was not pinned and the host was saturated was held back by the host: its demand
  stays U / X, and the simulated host makes the shortfall;
- db_other_connections = slots the apps never got when they were saturated (capacity −
  peak held; saturated: the held connections sat at a ceiling ≥ 80 % of capacity);
- topology from the facts read back (app.nodes, app.pool_max, db.max_connections, db.cpus,
  lb.maxconn) and db.connections.reserved; timeouts from the trial file and the testbed's.
Runs the analysis calls invalid (the generator was the limit) are left out.
Across runs: the mean, with standard error = SD / √runs (one run: 10 % of the value, said so).
The unloaded profile: `whatif.profile` (the seconds before anything saturated, queued or
failed).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loadtrial.analysis.runview import RunView, build_run_view
from loadtrial.analysis.saturation import SATURATED_UTIL
from loadtrial.analysis.slo import validity_finding
from loadtrial.errors import UserError
from loadtrial.load.model import Stage
from loadtrial.spec.model import Trial
from loadtrial.store.model import RunData, Series, TrialData
from loadtrial.whatif.model import (
    Demands,
    Estimate,
    Timeouts,
    Topology,
    WhatifModel,
)
from loadtrial.whatif.profile import held_series, profile_counts, profile_of
from loadtrial.whatif.runstart import connect_s_of, fact, starts_cold

USABLE = ("complete", "aborted", "interrupted")
ONE_RUN_REL_SE = 0.10
# a CPU at least this busy (per core) when the run fell behind is taken as the station that
# did: the host may cap it below SATURATED_UTIL (a balancer's limit leaves the CPUs idler)
BUSY_UTIL = 0.5
# the run fell behind when its goodput was below this share of the offered rate: a busy
# station (≥ BUSY_UTIL) that the host starved short of its core (app-cpu, load 4-17: 60-75 %)
FELL_BEHIND = 0.90
# ... or below this share while the busier station's CPU was pinned (≥ SATURATED_UTIL per
# core): then the shortfall is a backlog, not counting noise. A node at 93 % that served
# 92 % of 48/s (app-cpu, quiet host) was 5 s behind within the window; read as keeping up,
# D = U / X counted its 503s and timeouts as served (X_max 53/s where it served 44/s). Two
# db CPUs at 70 % that served 93 % (db-cpu, busy host) were held back by the host, not by
# their own work, and stay U / X
FELL_BEHIND_PINNED = 0.95
# the testbed's app pool timeout and balancer queue timeout (testbed/app.py, balancer.py);
# editable in the model for another system
POOL_WAIT_S = 2.0
LB_QUEUE_S = 1.0
# both balancers' health checks (testbed/lb.py, lb_haproxy.py: `inter 1s`, `timeout check 3s`)
HEALTH_EVERY_S = 1.0
HEALTH_ANSWER_S = 3.0


@dataclass(frozen=True)
class RunFigures:
    """One run's measured figures (per second unless named otherwise)."""

    run_id: int
    arrivals: float
    completed: float
    db_requests: float
    db_share: float
    hold_s: float
    app_cpu_s: float
    db_cpu_s: float
    other_connections: int
    open_connections: int  # the apps' pools' open connections (db.connections.used) at peak
    reserved: int
    app_capped: bool  # the app CPU fell behind: app_cpu_s = nodes / goodput before errors
    db_capped: bool  # the db CPU fell behind: db_cpu_s = db CPUs / db goodput before errors
    db_cpu_full: bool  # the db CPU was saturated: hold_s = db_cpu_s (its queue is simulated)
    profile_counts: np.ndarray  # HDR counts of the unloaded seconds
    host_cores: float  # the host's cores (host.cpu.percent capacity / 100); 0: not observed
    other_cpu_s: float  # host CPU seconds per arrival outside the app and the db
    host_held: bool  # the host, not the busier station's own CPU, held the run back
    connect_s: float  # db CPU seconds per new connection (0 unless the db CPU was the limit)


def _in_window(s: Series | None, view: RunView) -> np.ndarray:
    if s is None:
        return np.zeros(0)
    keep = (s.t_s >= view.window.start_s) & (s.t_s < view.window.end_s)
    return s.values[keep]


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else 0.0


def _capped_rate(view: RunView, pinned: bool) -> float | None:
    """Successful responses/s of the window's seconds before the first error, when they fell
    behind the offered rate (< FELL_BEHIND of it, FELL_BEHIND_PINNED when the busier
    station's CPU was `pinned`): the rate a saturated station could
    serve, before clients started giving up (errors from the window's first seconds: the
    whole window's, a lower bound: the station also served requests whose clients had
    given up); None when the run kept up."""
    start, end = view.window.start_s, view.window.end_s
    erred = np.flatnonzero(view.errors[start:end] > 0)
    stop = start + int(erred[0]) if erred.size else end
    if stop - start < 2:
        stop = end
    ok = float(np.mean(view.ok[start:stop]))
    offered = float(np.mean(view.offered[start:stop]))
    share = FELL_BEHIND_PINNED if pinned else FELL_BEHIND
    return ok if 0 < ok < share * offered else None


def _host(by: dict[str, Series], view: RunView) -> tuple[float, float]:
    """(the host's cores, its mean busy cores over the window); (0, 0) when not observed."""
    s = by.get("host.cpu.percent")
    if s is None or not s.capacity:
        return 0.0, 0.0
    return s.capacity / 100.0, _mean(_in_window(s, view)) / 100.0


def run_figures(run: RunData, view: RunView, *, shared_host: bool = False) -> RunFigures:
    """The operational-law figures of one run's steady window (`shared_host`: the tiers
    and the generator run on the machine the `host` tier observes)."""
    by = {s.name: s for s in run.series}

    def w(name: str) -> np.ndarray:
        return _in_window(by.get(name), view)

    arrivals = _mean(view.in_window(view.offered))
    completed = _mean(view.in_window(view.completed))
    # a request that gave up waiting for a connection is recorded when it gave up, the pool
    # timeout after it arrived: count the errors of the window's arrivals, not its seconds
    lag = round(POOL_WAIT_S)
    errors = _mean(view.errors[view.window.start_s + lag : view.window.end_s + lag])
    held_s = held_series(by)
    cap = held_s.capacity if held_s is not None and held_s.capacity else 0.0
    held_w = _in_window(held_s, view)
    peak = float(held_w.max()) if held_w.size else 0.0
    # full: the held connections sat at a ceiling near capacity (slots others hold keep it
    # a little under the nominal figure); then the requests that erred waited for one
    full = cap > 0 and peak >= 0.8 * cap and float(np.median(held_w)) >= SATURATED_UTIL * peak
    # the pools' own ceiling (nodes × pool_max) can be the lower one: there too the requests
    # that erred waited for a connection (db-cpu: 20 held of 100 allowed, the pools full)
    nodes = fact(run, "app.nodes", float(run.info.params.get("app_nodes", 1)))
    pools = nodes * fact(run, "app.pool_max", float(run.info.params.get("pool_max", 0)))
    ceiling = min(cap, pools) if pools > 0 else cap
    waited = full or (
        ceiling > 0 and peak >= 0.8 * ceiling and float(np.median(held_w)) >= SATURATED_UTIL * peak
    )
    commits = _mean(w("db.xact.commit_per_s"))
    held = _mean(held_w)
    db_requests = commits + (errors if waited else 0.0)
    reserved = int(_mean(w("db.connections.reserved")))
    # the requests the apps served, and those that gave up waiting for a connection: when
    # the system falls behind, commits follow what it serves, not what arrives; requests
    # the balancer turned away or the client gave up on never reached the db
    ok = completed - _mean(view.in_window(view.errors))
    answered = ok + (errors if waited else 0.0)
    app_u = _mean(w("app.cpu.percent")) / 100.0
    db_u = _mean(w("db.cpu.percent")) / 100.0
    app_cpu_s = app_u / completed if completed else 0.0
    db_cpu_s = db_u / commits if commits else 0.0
    db_cpus = fact(run, "db.cpus", float(run.info.params.get("db_cpus", 1)))
    db_share = min(1.0, db_requests / answered) if answered > 0 else 0.0
    # a CPU station fell behind (one at least BUSY_UTIL busy: the db's connections or the
    # balancer's limit leave the CPUs idler): D = U / X understates its work when U is
    # capped (by the host, or pinned at 1); its throughput then is c / D
    app_busier = app_u / nodes > db_u / db_cpus
    busiest = max(app_u / nodes, db_u / db_cpus)
    busy = busiest >= BUSY_UTIL  # not a balancer's limit
    pinned = busiest >= SATURATED_UTIL
    host_cores, host_u = _host(by, view) if shared_host else (0.0, 0.0)
    # the host saturated under a station whose own CPU was not: the host held it back, and
    # the simulated host (its cores shared by every tier) makes that shortfall itself
    host_held = host_cores > 0 and host_u >= SATURATED_UTIL * host_cores and not pinned
    capped = None if host_held else _capped_rate(view, pinned=pinned)
    app_capped = capped is not None and busy and app_busier
    db_capped = capped is not None and busy and not app_busier and db_share > 0
    if capped is not None and app_capped:
        app_cpu_s = max(app_cpu_s, nodes / capped)
    if capped is not None and db_capped:
        db_cpu_s = max(db_cpu_s, db_cpus / (db_share * capped))
    db_cpu_full = db_capped or db_u / db_cpus >= SATURATED_UTIL
    used = by.get("db.connections.used")
    connect_s = connect_s_of(view, used, db_share * db_cpu_s, db_cpus) if db_cpu_full else 0.0
    return RunFigures(
        run_id=run.info.run_id,
        arrivals=arrivals,
        completed=completed,
        db_requests=db_requests,
        db_share=db_share,
        # a saturated db CPU: the connections are held while their queries queue for it, and
        # the simulator queues them itself; the hold of its own is the query's CPU time
        hold_s=db_cpu_s if db_cpu_full else held / commits if commits else 0.0,
        app_cpu_s=app_cpu_s,
        db_cpu_s=db_cpu_s,
        other_connections=max(0, round(cap - peak)) if full else 0,
        open_connections=int(w("db.connections.used").max())
        if w("db.connections.used").size
        else 0,
        reserved=reserved,
        app_capped=app_capped,
        db_capped=db_capped,
        db_cpu_full=db_cpu_full,
        profile_counts=profile_counts(run, view),
        host_cores=host_cores,
        other_cpu_s=max(0.0, host_u - app_u - db_u) / arrivals if arrivals else 0.0,
        host_held=host_held,
        connect_s=connect_s,
    )


def _estimate(values: Sequence[float], source: str) -> Estimate:
    mean = float(np.mean(values))
    if len(values) > 1:
        se = float(np.std(values, ddof=1)) / math.sqrt(len(values))
        return Estimate(mean, se, f"{source}; mean of {len(values)} runs")
    return Estimate(mean, abs(mean) * ONE_RUN_REL_SE, f"{source}; one run (SE taken as 10 %)")


def _topology(run: RunData, figs: Sequence[RunFigures]) -> Topology:
    params = run.info.params
    nodes = int(fact(run, "app.nodes", float(params.get("app_nodes", 1))))
    return Topology(
        app_nodes=nodes,
        app_cores_per_node=1.0,
        pool_max=int(fact(run, "app.pool_max", float(params.get("pool_max", 10)))),
        db_max_connections=int(
            fact(run, "db.max_connections", float(params.get("db_max_connections", 100)))
        ),
        db_reserved_connections=max(f.reserved for f in figs),
        db_other_connections=max(f.other_connections for f in figs),
        db_cpus=fact(run, "db.cpus", float(params.get("db_cpus", 1))),
        lb_maxconn=int(fact(run, "lb.maxconn", float(params.get("lb_maxconn", 0)))),
        warm_nodes=nodes,
        warm_connections_per_node=min(f.open_connections for f in figs) // max(1, nodes),
        host_cores=max(f.host_cores for f in figs),
    )


def _rule(figs: Sequence[RunFigures], flag: str, usual: str, saturated: str) -> str:
    """The source phrase of a demand measured one way or another per run."""
    n = sum(bool(getattr(f, flag)) for f in figs)
    if n == 0:
        return usual
    return saturated if n == len(figs) else f"{saturated} ({n} of {len(figs)} runs), else {usual}"


def usable_runs(data: TrialData, trial: Trial, arm: str) -> list[tuple[RunData, RunView]]:
    """The arm's runs the analysis keeps (not invalid: the generator was not the limit),
    with their views; UserError when there is none, or for a closed-model trial."""
    if trial.load.model == "closed":
        raise UserError("what-if needs an open-model trial (arrivals on a schedule)",
                        hint="closed-model trials are not modelled yet")  # fmt: skip
    out = []
    for r in data.runs:
        if r.info.arm != arm or r.info.status not in USABLE:
            continue
        view = build_run_view(r)
        verdict = validity_finding(r, view, ())
        if verdict is None or verdict.status != "invalid":
            out.append((r, view))
    if not out:
        arms = sorted({r.info.arm for r in data.runs})
        raise UserError(f"arm {arm!r} has no valid run",
                        hint=f"arms: {', '.join(arms)}; `loadtrial analyze` says why")  # fmt: skip
    return out


def arm_setting(data: TrialData, trial: Trial, arm: str) -> tuple[Topology, float]:
    """What an arm ran: its topology (facts read back) and its arrival rate (offered/s)."""
    runs = usable_runs(data, trial, arm)
    figs = [run_figures(r, v, shared_host=trial.env.shared_host()) for r, v in runs]
    return _topology(runs[0][0], figs), float(np.mean([f.arrivals for f in figs]))


def model_from_arm(data: TrialData, trial: Trial, arm: str) -> WhatifModel:
    """The model of `arm` from its usable runs; UserError when it has none."""
    runs = usable_runs(data, trial, arm)
    figs = [run_figures(r, v, shared_host=trial.env.shared_host()) for r, v in runs]
    profile, how = profile_of([f.profile_counts for f in figs])
    demands = Demands(
        db_share=_estimate([f.db_share for f in figs], "(commits + pool errors) / answered"),
        hold_s=_estimate(
            [f.hold_s for f in figs],
            _rule(
                figs,
                "db_cpu_full",
                "connections held / commits (Little)",
                "db CPU saturated: db CPU busy / commits (its queue is simulated)",
            ),
        ),
        app_cpu_s=_estimate(
            [f.app_cpu_s for f in figs],
            _rule(
                figs,
                "app_capped",
                "app CPU busy / completed",
                "app fell behind: nodes / goodput before the first error",
            ),
        ),
        db_cpu_s=_estimate(
            [f.db_cpu_s for f in figs],
            _rule(
                figs,
                "db_capped",
                "db CPU busy / commits",
                "db fell behind: db CPUs / (db share × goodput before errors)",
            ),
        ),
        other_cpu_s=_estimate(
            [f.other_cpu_s for f in figs],
            "(host CPU busy − app − db) / offered: the balancer, the generator, the rest",
        ),
        connect_s=_estimate(
            [f.connect_s for f in figs],
            "db CPU time the ramp lost beyond the CPU's capacity / connections opened",
        ),
    )
    ids = ", ".join(str(f.run_id) for f in figs)
    topology = _topology(runs[0][0], figs)
    notes: tuple[str, ...] = ()
    if starts_cold(data):  # what the arm's pools left is not what the next run starts with
        topology = dataclasses.replace(topology, warm_connections_per_node=0)
        notes = ("runs of this trial begin with empty pools (a run after one with the same db "
                 "began with none open): predictions start cold",)  # fmt: skip
    return WhatifModel(
        source=f"trial {data.info.trial_id} ({data.info.name}), arm {arm}, runs {ids}",
        rate_per_s=float(np.mean([f.arrivals for f in figs])),
        poisson=bool(trial.load.poisson),
        topology=topology,
        notes=notes,
        demands=demands,
        timeouts=Timeouts(
            POOL_WAIT_S, LB_QUEUE_S, float(trial.load.timeout), HEALTH_EVERY_S, HEALTH_ANSWER_S
        ),
        profile_s=profile,
        stages=tuple(Stage(st.duration, st.rate, st.ramp_to) for st in trial.load.stages),
        warmup_s=float(trial.load.warmup),
        profile_source=how,
    )
