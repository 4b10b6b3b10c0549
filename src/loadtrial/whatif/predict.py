"""Predictions with their uncertainty: replicated simulations of a model, plus the bounds.

In: a `WhatifModel`. Out: a `Prediction`: throughput, p50, p99 and error rate, each as a
`Figure` (value and interval), the bottleneck, and the first limit after it. A `sweep` over
arrival rates gives the knee.

Uncertainty: each replication draws the demands from their measurement error (normal, SE
from the runs) and a new seed; the interval is the replications' range widened by the
model-form allowance (`MODEL_FORM_REL`, `MODEL_FORM_ERROR_PP`), which the self-check tests
against measured arms. Bounds: the operational law X ≤ servers / D per resource
(connections: slots / (db_share × hold_s)), which name the next limit.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from loadtrial.analysis.saturation import SATURATED_UTIL
from loadtrial.whatif.model import (
    MODEL_FORM_ERROR_PP,
    MODEL_FORM_REL,
    Demands,
    Estimate,
    WhatifModel,
)
from loadtrial.whatif.simulate import CAUSE_OF, SimResult, simulate

LABELS = {
    "db.connections": "db connections",
    "db.cpu": "db CPU",
    "app.cpu": "app CPU",
    "lb.maxconn": "balancer limit",
    "host.cpu": "host CPU",
}


@dataclass(frozen=True)
class Figure:
    """A predicted value with the interval the model vouches for."""

    value: float
    low: float
    high: float

    def contains(self, measured: float) -> bool:
        """Whether a measured value lies inside the interval."""
        return self.low <= measured <= self.high


@dataclass(frozen=True)
class Prediction:
    """What the model says a topology does at a rate."""

    rate_per_s: float
    offered_per_s: float  # the simulated arrivals of the measured window, per second
    throughput_per_s: Figure
    p50_s: Figure
    p99_s: Figure
    error_rate: Figure
    errors_by_cause: dict[str, float]  # cause -> share of completed requests
    utilisation: dict[str, float]
    ceilings_per_s: dict[str, float]  # resource -> X ≤ c / D
    bottleneck: str  # resource name, or "none"
    next_limit: str  # the next resource to limit after the bottleneck ("none" if none)
    replications: int


def ceilings(model: WhatifModel) -> dict[str, float]:
    """Throughput bound of each finite resource (operational law X ≤ c / D), per second."""
    t, d = model.topology, model.demands
    share = d.db_share.value
    out = {
        "db.connections": _bound(t.db_connections, share * d.hold_s.value),
        "db.cpu": _bound(t.db_cpus, share * d.db_cpu_s.value),
        "app.cpu": _bound(t.app_nodes * t.app_cores_per_node, d.app_cpu_s.value),
    }
    if t.lb_maxconn:
        mean_s = float(np.mean(model.profile_s))  # a slot is held for the whole request
        out["lb.maxconn"] = _bound(t.lb_maxconn * t.app_nodes, mean_s)
    if t.host_cores:
        every = d.app_cpu_s.value + share * d.db_cpu_s.value + d.other_cpu_s.value
        out["host.cpu"] = _bound(t.host_cores, every)
    return out


def _bound(servers: float, demand_s: float) -> float:
    return servers / demand_s if demand_s > 0 else math.inf


def _draw(e: Estimate, rng: random.Random, high: float = math.inf) -> Estimate:
    value = min(high, max(0.0, rng.gauss(e.value, e.se))) if e.se > 0 else e.value
    return dataclasses.replace(e, value=value)


def perturbed(model: WhatifModel, rng: random.Random) -> WhatifModel:
    """The model with its demands drawn from their measurement error."""
    d = model.demands
    drawn = Demands(
        db_share=_draw(d.db_share, rng, 1.0),
        hold_s=_draw(d.hold_s, rng),
        app_cpu_s=_draw(d.app_cpu_s, rng),
        db_cpu_s=_draw(d.db_cpu_s, rng),
        other_cpu_s=_draw(d.other_cpu_s, rng),
        connect_s=_draw(d.connect_s, rng),
    )
    return dataclasses.replace(model, demands=drawn)


def _figure(central: Sequence[float], drawn: Sequence[float], rel: float, abs_: float = 0.0
            ) -> Figure:  # fmt: skip
    """The measured model's mean, in the range of every replication widened by the
    model-form allowance (relative `rel`, absolute `abs_`)."""
    mid = np.asarray([v for v in central if math.isfinite(v)], dtype=np.float64)
    arr = np.asarray([v for v in (*central, *drawn) if math.isfinite(v)], dtype=np.float64)
    if not mid.size:
        return Figure(math.nan, math.nan, math.nan)
    low = float(arr.min()) * (1 - rel) - abs_
    high = float(arr.max()) * (1 + rel) + abs_
    return Figure(float(mid.mean()), max(0.0, low), high)


def _bottleneck(model: WhatifModel, runs: Sequence[SimResult], bounds: dict[str, float]) -> str:
    """The resource errors came from, else the busiest saturated one (a host the tiers
    share is one of them), else none."""
    causes: dict[str, int] = {}
    for r in runs:
        for cause, n in r.errors.items():
            causes[cause] = causes.get(cause, 0) + n
    util = _mean_util(runs)
    done = sum(r.completed for r in runs)
    if done and sum(causes.values()) / done > 0.01:
        cause = max(causes, key=lambda c: causes[c])
        if cause == "pool_timeout" and util.get("db.cpu", 0.0) >= SATURATED_UTIL:
            return "db.cpu"  # the connections were held while their queries queued for CPU
        if cause in CAUSE_OF:
            return CAUSE_OF[cause]
        return max(util, key=lambda k: util[k]) if util else "none"
    hot = {k: u for k, u in util.items() if u >= SATURATED_UTIL}
    return max(hot, key=lambda k: hot[k]) if hot else "none"


def _mean_util(runs: Sequence[SimResult]) -> dict[str, float]:
    names = {k for r in runs for k in r.utilisation}
    return {k: float(np.mean([r.utilisation.get(k, 0.0) for r in runs])) for k in sorted(names)}


def _next_limit(bottleneck: str, bounds: dict[str, float]) -> str:
    rest = {k: v for k, v in bounds.items() if k != bottleneck and math.isfinite(v)}
    return min(rest, key=lambda k: rest[k]) if rest else "none"


def predict(
    model: WhatifModel,
    *,
    replications: int = 5,
    seed: int = 0,
) -> Prediction:
    """Simulate `replications` draws of the model's run; summarise with intervals and
    bounds."""
    # the value: the model as measured (seeds differ); the interval: also the demands drawn
    # from their measurement error (at a saturated station a low draw of both the db share
    # and the db demand is a far higher ceiling: the mean of draws would be biased upward)
    rng = random.Random(seed)
    runs = [simulate(model, seed=seed * 1000 + i) for i in range(replications)]
    drawn = [
        simulate(perturbed(model, rng), seed=seed * 1000 + replications + i)
        for i in range(replications)
    ]
    bounds = ceilings(model)
    neck = _bottleneck(model, runs, bounds)
    done = max(1, sum(r.completed for r in runs))
    causes: dict[str, float] = {}
    for r in runs:
        for cause, n in r.errors.items():
            causes[cause] = causes.get(cause, 0.0) + n / done

    def figure(of: Callable[[SimResult], float], rel: float, abs_: float = 0.0) -> Figure:
        return _figure([of(r) for r in runs], [of(r) for r in drawn], rel, abs_)

    return Prediction(
        rate_per_s=model.rate_per_s,
        offered_per_s=float(np.mean([r.arrived / r.window_s for r in runs if r.window_s > 0])),
        throughput_per_s=figure(lambda r: r.throughput_per_s, MODEL_FORM_REL),
        p50_s=figure(lambda r: r.latency_quantile_s(50), MODEL_FORM_REL),
        p99_s=figure(lambda r: r.latency_quantile_s(99), MODEL_FORM_REL),
        error_rate=figure(lambda r: r.error_rate, 0.0, MODEL_FORM_ERROR_PP),
        errors_by_cause=causes,
        utilisation=_mean_util(runs),
        ceilings_per_s=bounds,
        bottleneck=neck,
        next_limit=_next_limit(neck, bounds),
        replications=replications,
    )


@dataclass(frozen=True)
class Knee:
    """Where a sweep stops keeping up: the last good rate and the first bad one."""

    last_good_per_s: float | None
    first_bad_per_s: float | None
    why: str


def find_knee(points: Sequence[Prediction]) -> Knee:
    """First rate where goodput < 95 % of arrivals, errors > 1 % or p99 > 2 × the lowest
    rate's p99; the rate before it is the last good one."""
    if not points:
        return Knee(None, None, "no points")
    floor = points[0].p99_s.value
    last: float | None = None
    for p in points:
        reasons = []
        if p.throughput_per_s.value < 0.95 * p.offered_per_s:  # (Poisson: not the nominal)
            reasons.append("goodput falls behind arrivals")
        if p.error_rate.value > 0.01:
            reasons.append(f"errors {p.error_rate.value:.1%}")
        if math.isfinite(floor) and p.p99_s.value > 2 * floor:
            reasons.append(f"p99 {p.p99_s.value:.3g}s > 2 × {floor:.3g}s")
        if reasons:
            return Knee(last, p.rate_per_s, "; ".join(reasons) + f" ({label(p.bottleneck)})")
        last = p.rate_per_s
    return Knee(last, None, "kept up at every rate swept")


def sweep(
    model: WhatifModel, rates: Sequence[float], *, replications: int = 2, seed: int = 0
) -> list[Prediction]:
    """One prediction per arrival rate (fewer replications: a sweep looks for the shape)."""
    return [
        predict(dataclasses.replace(model, rate_per_s=r), replications=replications, seed=seed)
        for r in rates
    ]


def label(resource: str) -> str:
    """A resource as a person says it: "db connections"."""
    return LABELS.get(resource, resource)
