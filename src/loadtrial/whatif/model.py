"""The what-if model: a small typed description of a web system, measured, readable, editable.

In: numbers (from `whatif.measure` or a user's edited JSON). Out: frozen dataclasses that the
solvers read, plus `to_doc`/`from_doc` (the JSON a user reads with `--show-model` and edits)
and `with_settings` (the `--set name=value` knobs: arm parameters such as app_nodes,
db_cpus, db_max_connections, pool_max, lb_maxconn, or any field name of the model).

The system (one request's path): arrivals → balancer (optional per-backend concurrency
limit, FIFO queue with a timeout) → one app node, round robin (its CPU: `app_cores_per_node`
servers, demand `app_cpu_s`, the newest waiting request first; the balancer's health
check after them all, two unanswered in `health_answer_s` take the node out) →
with probability `db_share`, a connection from the node's own pool (grows up to
`pool_max`, while the database has a free slot; waits up to `pool_wait_s`) → the database
CPU (`db_cpus` servers, demand `db_cpu_s`) while the connection is held for `hold_s` on
average. The request's unloaded latency profile (its shape) comes from measured quantiles;
the client gives up after `request_s`. The run is the trial's schedule (`stages`,
`warmup_s`) at `rate_per_s`. When the tiers share one machine (`host_cores`), every CPU
burst (app, db, and the rest's `other_cpu_s` per arrival) also needs one of its cores.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loadtrial.errors import UserError
from loadtrial.load.model import Stage

# the uncertainty that is not sampling error: the model's form (stated, checked by selfcheck)
MODEL_FORM_REL = 0.10  # ±10 % on throughput-like figures and latencies
MODEL_FORM_ERROR_PP = 0.03  # ±3 percentage points on the error rate


@dataclass(frozen=True)
class Estimate:
    """A measured figure with its standard error (0 when it was given, not measured)."""

    value: float
    se: float = 0.0
    source: str = ""  # how it was measured, one phrase


@dataclass(frozen=True)
class Topology:
    """What can be provisioned: the knobs of a what-if (names as the testbed's arm params)."""

    app_nodes: int
    app_cores_per_node: float  # CPU servers per node (1: one GIL-bound process per node)
    pool_max: int  # connections per app node's pool
    db_max_connections: int
    db_reserved_connections: int  # kept for the superuser
    db_other_connections: int  # held by others (observers, admin): measured, not the app's
    db_cpus: float
    lb_maxconn: int  # requests in flight per backend; 0: no limit
    # pools keep the connections they opened (min 0, no idle close within a run): nodes
    # that were running start with these; new nodes, or all after a db restart, start empty
    warm_nodes: int = 0
    warm_connections_per_node: int = 0
    # CPU cores that the tiers and the load generator share (the testbed: one machine);
    # 0: each tier has machines of its own and nothing else competes for their cores
    host_cores: float = 0.0

    @property
    def db_connections(self) -> int:
        """Connections the apps can have at once over all nodes."""
        free = self.db_max_connections - self.db_reserved_connections - self.db_other_connections
        return max(0, min(free, self.app_nodes * self.pool_max))


@dataclass(frozen=True)
class Demands:
    """Service demands per request (seconds), measured by the operational laws."""

    db_share: Estimate  # share of requests that take a db connection
    hold_s: Estimate  # mean connection hold per db request (Little: N / X; = db_cpu_s when
    # the db CPU was saturated: the simulator queues the queries for the CPU itself)
    app_cpu_s: Estimate  # app CPU seconds per request (U / X)
    db_cpu_s: Estimate  # db CPU seconds per db request (U / X_db)
    # the shared host's CPU seconds per arrival outside the app and the db (the balancer,
    # the load generator, the observers): only with `host_cores`
    other_cpu_s: Estimate = Estimate(0.0)
    # db CPU seconds a new connection costs before its query (the backend's start-up and
    # first-use caches), on the db CPU's queue like a query
    connect_s: Estimate = Estimate(0.0)


@dataclass(frozen=True)
class Timeouts:
    """Where waiting ends in an error."""

    pool_wait_s: float  # the app's pool timeout (→ 503)
    lb_queue_s: float  # the balancer's queue timeout when lb_maxconn is set (→ 503)
    request_s: float  # the client's timeout
    # the balancer's health check: every `health_every_s` a check waits its turn for the
    # node's CPU; unanswered after `health_answer_s`, twice in a row, takes the node out
    # (one answer puts it back); with no node in, the balancer answers 503 at once
    health_every_s: float
    health_answer_s: float


@dataclass(frozen=True)
class WhatifModel:
    """Everything a prediction needs, with where each number came from."""

    source: str  # "trial 3, arm baseline, runs 1, 4"
    rate_per_s: float  # open-model arrival rate
    poisson: bool  # arrivals: Poisson (True) or evenly spaced
    topology: Topology
    demands: Demands
    timeouts: Timeouts
    # unloaded response time quantiles (s) at PROFILE_PERCENTS: the shape of one request's
    # time through the system when nothing waits (from seconds before anything saturated)
    profile_s: tuple[float, ...]
    # the run's arrival schedule (the trial's stages, warm-up included): a prediction
    # simulates this run, scaled so its plateau is `rate_per_s`, and measures it as the
    # analysis does (steady window after `warmup_s`, completions in the second they end):
    # an overloaded station's backlog grows over a short run, it does not reach a steady state
    stages: tuple[Stage, ...]
    warmup_s: float
    profile_source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


# every percent, and the tail finer: a mix of a fast and a slow kind has a sharp step
# between them, which 5 % steps smeared into a slope (lb-limit: 10 % of requests at ~1 ms,
# 90 % at ~206 ms; the 5-10 % segment drawn halfway raised the mean a balancer slot is
# held by 5 % and its predicted throughput fell as much)
PROFILE_PERCENTS: tuple[float, ...] = (*(float(p) for p in range(100)), 99.5, 99.9, 100.0)

# `--set` knobs that are arm parameters (names as the testbed provider's)
TOPOLOGY_KNOBS = tuple(f.name for f in dataclasses.fields(Topology))
DB_RESTART_KNOBS = ("db_max_connections", "db_cpus", "db_reserved_connections")
TIMEOUT_KNOBS = tuple(f.name for f in dataclasses.fields(Timeouts))
DEMAND_KNOBS = tuple(f.name for f in dataclasses.fields(Demands))


def _number(name: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(f"--set {name}={text}: not a number", hint=f"e.g. --set {name}=4") from None


def with_settings(model: WhatifModel, settings: Mapping[str, str]) -> WhatifModel:
    """The model with `--set` values applied (all problems reported at once)."""
    topo: dict[str, Any] = {}
    waits: dict[str, float] = {}
    demands: dict[str, Estimate] = {}
    rate = model.rate_per_s
    unknown = []
    for name, text in settings.items():
        value = _number(name, text)
        if name in TOPOLOGY_KNOBS:
            whole = name not in ("app_cores_per_node", "db_cpus", "host_cores")
            topo[name] = int(value) if whole else value
        elif name in TIMEOUT_KNOBS:
            waits[name] = value
        elif name in DEMAND_KNOBS:
            demands[name] = Estimate(value, 0.0, "set by the user")
        elif name == "rate":
            rate = value
        else:
            unknown.append(name)
    if any(k in topo for k in DB_RESTART_KNOBS) and "warm_connections_per_node" not in topo:
        topo["warm_connections_per_node"] = 0  # a db resize restarts it: every pool reconnects
    if unknown:
        known = ", ".join((*TOPOLOGY_KNOBS, *TIMEOUT_KNOBS, *DEMAND_KNOBS, "rate"))
        raise UserError(f"--set: unknown name(s) {', '.join(unknown)}", hint=f"known: {known}")
    out = dataclasses.replace(
        model,
        rate_per_s=rate,
        topology=dataclasses.replace(model.topology, **topo),
        timeouts=dataclasses.replace(model.timeouts, **waits),
        demands=dataclasses.replace(model.demands, **demands),
    )
    check(out)
    return out


def check(model: WhatifModel) -> None:
    """Raise UserError naming every value that cannot describe a system."""
    t, problems = model.topology, []
    for name in ("app_nodes", "pool_max"):
        if getattr(t, name) < 1:
            problems.append(f"{name} must be >= 1")
    for name in ("app_cores_per_node", "db_cpus"):
        if getattr(t, name) <= 0:
            problems.append(f"{name} must be > 0")
    if t.host_cores < 0:
        problems.append("host_cores must be >= 0 (0: each tier on its own machine)")
    if t.lb_maxconn < 0:
        problems.append("lb_maxconn must be >= 0 (0: no limit)")
    if model.rate_per_s <= 0:
        problems.append("rate must be > 0")
    if not 0.0 <= model.demands.db_share.value <= 1.0:
        problems.append("db_share must be within 0..1")
    if not model.stages or sum(st.duration_s for st in model.stages) <= model.warmup_s:
        problems.append("stages must last longer than warmup_s")
    if len(model.profile_s) != len(PROFILE_PERCENTS):
        problems.append(f"profile_s needs {len(PROFILE_PERCENTS)} quantiles")
    if problems:
        raise UserError("the what-if model is not valid: " + "; ".join(problems))


def to_doc(model: WhatifModel) -> dict[str, Any]:
    """The model as JSON-able data (what `--show-model --json` prints and `--model` reads)."""
    doc: dict[str, Any] = dataclasses.asdict(model)
    doc["profile_percents"] = list(PROFILE_PERCENTS)
    return doc


def _estimate(doc: Mapping[str, Any]) -> Estimate:
    return Estimate(float(doc["value"]), float(doc.get("se", 0.0)), str(doc.get("source", "")))


def from_doc(doc: Mapping[str, Any]) -> WhatifModel:
    """A model from `to_doc`'s data (a user's edited file); UserError naming a bad field."""
    try:
        model = WhatifModel(
            source=str(doc["source"]),
            rate_per_s=float(doc["rate_per_s"]),
            poisson=bool(doc["poisson"]),
            topology=Topology(**doc["topology"]),
            demands=Demands(**{k: _estimate(v) for k, v in doc["demands"].items()}),
            timeouts=Timeouts(**doc["timeouts"]),
            profile_s=_profile_at_ours(doc),
            profile_source=str(doc.get("profile_source", "")),
            stages=tuple(Stage(**st) for st in doc["stages"]),
            warmup_s=float(doc["warmup_s"]),
            notes=tuple(str(n) for n in doc.get("notes", ())),
        )
    except KeyError as exc:
        hint = "start from --show-model --json"
        raise UserError(f"model file: missing field {exc}", hint=hint) from None
    except (TypeError, ValueError) as exc:
        raise UserError(f"model file: {exc}", hint="start from --show-model --json") from None
    check(model)
    return model


def _profile_at_ours(doc: Mapping[str, Any]) -> tuple[float, ...]:
    """The file's profile at PROFILE_PERCENTS: a file written with other percents (its
    `profile_percents`, an older version's) is read at ours."""
    values = tuple(float(x) for x in doc["profile_s"])
    theirs = tuple(float(x) for x in doc.get("profile_percents", PROFILE_PERCENTS))
    if theirs == PROFILE_PERCENTS or len(theirs) != len(values):
        return values
    return tuple(profile_quantile(values, p / 100.0, theirs) for p in PROFILE_PERCENTS)


def profile_quantile(
    profile_s: Sequence[float], u: float, percents: Sequence[float] = PROFILE_PERCENTS
) -> float:
    """The unloaded response time at quantile u (0..1), linear between the stored points
    (`profile_s[i]` at `percents[i]`)."""
    pct = u * 100.0
    i = bisect.bisect_left(percents, pct)
    if i <= 0:
        return profile_s[0]
    if i >= len(percents):
        return profile_s[-1]
    lo, hi = percents[i - 1], percents[i]
    w = (pct - lo) / (hi - lo) if hi > lo else 0.0
    return profile_s[i - 1] + w * (profile_s[i] - profile_s[i - 1])
