"""How a run starts: whether the apps' pools begin empty, and what a new connection costs.

In: a trial's stored runs (`starts_cold`), or one run's view and its `db.connections.used`
series (`connect_s_of`). Out: a flag and db CPU seconds per new connection. Both come from
the ramp and the first samples of a run, the part of it the steady window leaves out.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from loadtrial.analysis.runview import RunView
from loadtrial.store.model import RunData, Series, TrialData


def fact(run: RunData, key: str, default: float, cast: Callable[[str], float] = float) -> float:
    """The fact `key` read back before the run, as a number; `default` when absent."""
    text = run.snapshots.get("before", {}).get(key)
    return cast(text) if text not in (None, "") else default


def connect_s_of(view: RunView, used: Series | None, db_s: float, db_cpus: float) -> float:
    """db CPU seconds one new connection cost, read off the ramp of a run whose db CPU was
    the bottleneck: the requests it fell behind by before the window beyond what the CPU's
    capacity explains (`db_s`: db CPU seconds per request), as CPU time, over the
    connections the pools opened meanwhile. 0 when none were opened or nothing was lost.
    (db-cpu: 2 connections for two seconds, db CPU 33 then 67 % while requests queued, 15
    served in a second that offered 38: new backends start up on the db's CPU.)"""
    start = view.window.start_s
    if used is None or not used.values.size or db_s <= 0 or start < 1:
        return 0.0
    ramp = used.values[used.t_s < start + 1]
    opened = float(ramp.max() - used.values[0]) if ramp.size else 0.0
    offered, done = view.offered[:start], view.completed[:start]
    behind = float(offered.sum() - done.sum())
    explained = float(np.clip(offered - db_cpus / db_s, 0.0, None).sum())
    lost = max(0.0, behind - explained)
    return lost * db_s / opened if opened >= 1 else 0.0


def starts_cold(data: TrialData) -> bool:
    """Whether the environment empties the apps' pools before every run (the testbed
    restarts a db that is not the one it was started with, and back after the run): every
    run that followed a run with the same database (max_connections, CPUs) still began
    with no open connection (the first sample of `db.connections.used`), and there was at
    least one such run. The trial's first run (a fresh environment) and runs after a db
    resize (cold anyway: `with_settings` knows) say nothing about it."""
    evidence = []
    for before, run in itertools.pairwise(data.runs):
        used = next((s for s in run.series if s.name == "db.connections.used"), None)
        if used is None or not used.values.size or _db_of(before) != _db_of(run):
            continue
        evidence.append(float(used.values[0]) < 1)
    return bool(evidence) and all(evidence)


def _db_of(run: RunData) -> tuple[float, float]:
    params = run.info.params
    return (
        fact(run, "db.max_connections", float(params.get("db_max_connections", 0))),
        fact(run, "db.cpus", float(params.get("db_cpus", 0))),
    )
