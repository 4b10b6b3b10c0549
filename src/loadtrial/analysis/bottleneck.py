"""Bottleneck attribution: which tier and resource limited a run, with the evidence.

In: a run's `RunView` (latency and error onsets, throughput) and its `ResourceUse`s.
Out: a `Call` per run, and one `bottleneck` finding per arm naming tier and resource,
quoting saturation times against the onset, co-movement with latency/errors, the
operational-law bound (service demand D_k = U_k / X; throughput ≤ 1 / D_max), and what
will not help (tiers whose resources stayed well below capacity). When nothing
saturated it says so, with the tiers that were not observed.

Ranking (USE method): saturated resources first; among them the highest score =
2 × timely (saturation began between 10 s before and 2 s after the onset: one saturated
long before latency moved did not move it, one saturated long after is a consequence)
+ the rank correlation with per-second p99 or error rate over the whole run
+ proximity of its saturation to the onset (1 at the onset, 0 at 10 s or more)
+ the share of the steady window it spent saturated. The arm's bottleneck is the
resource with the highest score summed over its runs; other resources that saturated
are listed beside it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from loadtrial.analysis.runview import RunView
from loadtrial.analysis.saturation import ResourceUse, of_capacity
from loadtrial.findings import (
    BottleneckEvidence,
    Demand,
    Finding,
    Limit,
    NoBottleneck,
    QuietTier,
)

FloatArray = npt.NDArray[np.float64]
ONSET_SLACK_S = 2.0
ONSET_LEAD_S = 10.0
NOT_HELP_BELOW = 0.70  # a tier whose busiest resource peaked below this is not the limit
MET_OFFERED = 0.95  # goodput at least this share of the offered rate: nothing held it back
ACRONYMS = {"cpu": "CPU", "io": "I/O", "rss": "RSS"}


@dataclass(frozen=True)
class RunFigures:
    """A run's figures the attribution is timed and bounded against."""

    onset_s: int | None  # the earlier of the latency and error onsets
    latency_onset_s: int | None
    error_onset_s: int | None
    throughput_per_s: float  # completed per second in the steady window (X)
    steady_offered_per_s: float | None
    peaks: dict[str, float]  # resource -> peak utilisation
    demand: dict[str, Demand]  # resource -> its service demand and bound
    d_max: str  # the resource with the largest demand
    error_series: dict[str, float]  # error series -> when its errors began
    at_capacity: dict[str, float] | None = None  # full but not limiting: the run met its load


@dataclass(frozen=True)
class Candidate:
    """One resource that saturated in a run: the limit it would be, and what would not help."""

    limit: Limit
    tier: str
    not_helping: tuple[str, ...]
    quiet: dict[str, tuple[str, float]]  # see _quiet_tiers


@dataclass(frozen=True)
class Call:
    """The bottleneck of one run ("" when none was found) and the facts behind it."""

    run_id: int
    arm: str
    name: str
    tier: str
    figures: RunFigures
    limit: Limit | None = None  # None: nothing saturated (the tier's errors, or nothing)
    not_helping: tuple[str, ...] = ()
    saturated: dict[str, Candidate] = field(default_factory=dict)  # name -> candidate
    quiet: dict[str, tuple[str, float]] = field(default_factory=dict)  # see _quiet_tiers


def _ranks(x: FloatArray) -> FloatArray:
    """Ranks with ties given their average rank (as Spearman's rho needs)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    average = np.cumsum(counts) - (counts - 1) / 2.0
    return np.asarray(average[inverse], dtype=np.float64)


def co_movement(a: FloatArray, b: FloatArray) -> float:
    """Spearman rank correlation over seconds where both are finite (0 when undefined)."""
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 5 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return 0.0
    rho = float(np.corrcoef(_ranks(a[ok]), _ranks(b[ok]))[0, 1])
    return 0.0 if np.isnan(rho) else rho


def _key(u: ResourceUse, onset: int | None, corr: float) -> tuple[float, ...]:
    """Sort key: saturated first, then score = 2·timely + ρ + proximity to the onset
    + the share of the steady window spent saturated.

    timely: saturation began at most ONSET_LEAD_S before the onset and at most
    ONSET_SLACK_S after it (a resource saturated long before latency moved did not cause
    the move; one that saturated long after is a consequence).
    """
    if u.saturated_at_s is None:
        return (0.0, corr, u.peak_util)
    if onset is None:
        return (1.0, 1.0 + corr + 0.5 + u.saturated_share, u.peak_util)
    lead = onset - u.saturated_at_s
    timely = -ONSET_SLACK_S <= lead <= ONSET_LEAD_S
    proximity = 1.0 - min(abs(lead), 10.0) / 10.0
    return (1.0, 2.0 * timely + corr + proximity + u.saturated_share, u.peak_util)


def _demand(u: ResourceUse, x_per_s: float) -> Demand | None:
    """Operational-law figures of a resource: D = U / X and the bound 1/D."""
    if x_per_s <= 0 or not u.mean_util > 0:
        return None
    d = u.mean_util / x_per_s
    return Demand(demand_ms=d * 1000.0, bound_per_s=1.0 / d, mean_util=u.mean_util)


def _quiet_tiers(uses: Sequence[ResourceUse], tier: str) -> dict[str, tuple[str, float]]:
    """tier -> (its busiest series, peak utilisation) for every other tier that stayed
    below NOT_HELP_BELOW: capacity added there will not raise throughput."""
    peaks: dict[str, ResourceUse] = {}
    for u in uses:
        if not u.is_error and u.tier != tier and np.isfinite(u.peak_util):
            best = peaks.get(u.tier)
            if best is None or u.peak_util > best.peak_util:
                peaks[u.tier] = u
    return {
        t: (u.name, u.peak_util) for t, u in sorted(peaks.items()) if u.peak_util < NOT_HELP_BELOW
    }


def _not_helping(uses: Sequence[ResourceUse], tier: str) -> tuple[str, ...]:
    return tuple(
        f"more {t} capacity will not raise throughput: {name} peaked at {peak:.0%}"
        for t, (name, peak) in _quiet_tiers(uses, tier).items()
    )


def _offered_at(view: RunView, t_s: float | None) -> float | None:
    """The offered rate around second `t_s` (mean of the 3 seconds centred on it)."""
    if t_s is None or view.offered.size == 0:
        return None
    i = int(min(max(round(t_s), 0), view.offered.size - 1))
    return float(np.mean(view.offered[max(i - 1, 0) : i + 2]))


def held_back(view: RunView) -> bool:
    """Whether the run shows a limit at all: latency or errors rose (an onset), or, in an
    open model, fewer successful responses than arrivals in the steady window."""
    if view.onset_s is not None:
        return True
    if view.closed or not view.window.length_s:
        return False
    offered = float(np.mean(view.in_window(view.offered)))
    return float(np.mean(view.in_window(view.ok))) < MET_OFFERED * offered


def attribute_run(view: RunView, uses: Sequence[ResourceUse]) -> Call:
    """Return the bottleneck of one run (name "" when no observed resource saturated)."""
    lat, err = view.latency_us[99.0], view.error_rate
    x = float(np.mean(view.in_window(view.completed))) if view.window.length_s else 0.0
    onset = view.onset_s
    scored = []
    for u in uses:
        if u.is_error:
            continue
        corr = max(co_movement(u.util_per_s, lat), co_movement(u.util_per_s, err))
        scored.append((_key(u, onset, corr), u, corr))
    scored.sort(key=lambda item: item[0], reverse=True)
    demands = {u.name: d for _, u, _ in scored if (d := _demand(u, x)) is not None}
    d_max = max(demands, key=lambda n: demands[n].demand_ms, default="")
    errs = {u.name: u.errors_at_s for u in uses if u.is_error and u.errors_at_s is not None}
    figures = RunFigures(
        onset_s=onset, latency_onset_s=view.latency_onset_s, error_onset_s=view.error_onset_s,
        throughput_per_s=x,
        steady_offered_per_s=(
            float(np.median(view.in_window(view.offered))) if view.window.length_s else None
        ),
        peaks={u.name: u.peak_util for _, u, _ in scored}, demand=demands, d_max=d_max,
        error_series=errs,
    )  # fmt: skip
    top = scored[0] if scored else None
    if top is not None and top[1].saturated_at_s is not None and not held_back(view):
        # full, yet latency and errors stayed level and every offered request was served:
        # at capacity, but it did not (yet) limit anything
        full = {u.name: u.peak_util for _, u, _ in scored if u.saturated_at_s}
        figures = replace(figures, at_capacity=full)
        top = None
    if top is None or top[1].saturated_at_s is None:
        tiers_with_errors = sorted({n.split(".", 1)[0] for n in errs})
        tier = tiers_with_errors[0] if len(tiers_with_errors) == 1 else ""
        name = f"{tier} (errors)" if tier else ""
        return Call(view.run_id, view.arm, name, tier, figures, None, _not_helping(uses, tier),
                    quiet=_quiet_tiers(uses, tier))  # fmt: skip
    saturated = {
        v.name: Candidate(
            Limit(resource=v.name, saturated_at_s=v.saturated_at_s, peak_util=v.peak_util,
                  capacity=v.capacity, unit=v.unit, correlation=c, score=k[1],
                  offered_per_s=_offered_at(view, v.saturated_at_s)),
            v.tier, _not_helping(uses, v.tier), _quiet_tiers(uses, v.tier),
        )
        for k, v, c in scored
        if v.saturated_at_s is not None
    }  # fmt: skip
    u = top[1]
    return Call(
        view.run_id, view.arm, u.name, u.tier, figures, saturated[u.name].limit,
        _not_helping(uses, u.tier), saturated, _quiet_tiers(uses, u.tier),
    )  # fmt: skip


def label(name: str) -> str:
    """A resource as a person says it: "db.connections.active" -> "db connections",
    "app.cpu.util" -> "app CPU" (tier and resource, without the statistic)."""
    parts = name.split(".")
    words = parts[:2] if len(parts) > 2 else parts
    return " ".join(ACRONYMS.get(w.lower(), w) for w in words)


def _when(fig: RunFigures, limit: Limit) -> str:
    """How the saturation lines up with the rise of latency and errors."""
    onset, sat = fig.onset_s, limit.saturated_at_s
    if onset is None:
        return ""
    if not -ONSET_SLACK_S <= onset - sat <= ONSET_LEAD_S:
        return f"; latency/errors rose at t={onset:.0f}s"
    rose = {w: t for w, t in (("latency", fig.latency_onset_s),
                              ("errors", fig.error_onset_s)) if t is not None}  # fmt: skip
    if len(rose) == 2 and abs(rose["latency"] - rose["errors"]) > ONSET_SLACK_S:
        first, second = sorted(rose, key=lambda w: rose[w])
        return f", when {first} rose ({second} from t={rose[second]:.0f}s)"
    return f", when {' and '.join(rose) or 'latency/errors'} rose"


def _knee(fig: RunFigures, limit: Limit) -> str:
    """ " at 32/s offered" when it saturated while the load was still ramping up (below 90 %
    of the steady level): that rate is the capacity the ramp found."""
    at, steady = limit.offered_per_s, fig.steady_offered_per_s
    if at is None or not steady or at >= 0.9 * steady:
        return ""
    onset, sat = fig.onset_s, limit.saturated_at_s
    if sat < 1 or onset is None or not -ONSET_SLACK_S <= onset - sat <= ONSET_LEAD_S:
        return ""  # full from the start, or latency did not move with it: no knee
    return f" at {at:.0f}/s offered"


def _sentence(call: Call, limit: Limit, runs: int, agree: int) -> str:
    """One sentence: what limited the arm, the evidence in numbers, what did not."""
    fig = call.figures
    head = f"{label(call.name)} limited throughput in arm {call.arm}"
    if agree < runs:
        head += f" (saturated in {agree} of {runs} runs)"
    text = (
        f"{head}: {call.name} at {limit.peak_util:.0%}"
        f"{of_capacity(limit.capacity, limit.unit)} "
        f"from t={limit.saturated_at_s:.0f}s{_knee(fig, limit)}{_when(fig, limit)}"
    )
    d = fig.demand.get(call.name)
    if d:
        text += f"; X ≤ 1/D = {d.bound_per_s:.0f}/s (measured {fig.throughput_per_s:.0f}/s)"
    mine = label(call.name)
    others = sorted({label(n) for n in limit.also_saturated or ()} - {mine})
    if others:
        text += ". Also saturated: " + ", ".join(others)
    if call.quiet:
        text += ". Not the limit: " + ", ".join(
            f"{label(n)} (peak {p:.0%})" for n, p in call.quiet.values()
        )
    return text + "."


def _arm_choice(calls: Sequence[Call]) -> tuple[str, int, Call | None]:
    """The resource with the highest score summed over the arm's runs, how many runs saw it
    saturated, and the call of the run where it scored best (re-centred on it)."""
    totals: dict[str, float] = {}
    for c in calls:
        for name, cand in c.saturated.items():
            totals[name] = totals.get(name, 0.0) + cand.limit.score
    if not totals:
        votes = Counter(c.name for c in calls)
        name, agree = votes.most_common(1)[0] if votes else ("", 0)
        return name, agree, next((c for c in calls if c.name == name), None)
    ranked = sorted(totals, key=lambda n: totals[n], reverse=True)
    name = ranked[0]
    seen = [c for c in calls if name in c.saturated]
    best = max(seen, key=lambda c: c.saturated[name].limit.score)
    cand = best.saturated[name]
    limit = replace(cand.limit, also_saturated=tuple(ranked[1:]))
    call = Call(best.run_id, best.arm, name, cand.tier, best.figures, limit, cand.not_helping,
                quiet=cand.quiet)  # fmt: skip
    return name, len(seen), call


def _unobserved(missing_tiers: Sequence[str]) -> str:
    return f"; no samples from tier {', '.join(missing_tiers)}" if missing_tiers else ""


def _busiest(peaks: dict[str, float]) -> str:
    finite = {n: p for n, p in peaks.items() if np.isfinite(p)}
    if not finite:
        return ""
    name = max(finite, key=lambda n: finite[n])
    return f" (busiest: {name} at {finite[name]:.0%})"


def arm_bottleneck(arm: str, calls: Sequence[Call], missing_tiers: Sequence[str]) -> Finding:
    """One `bottleneck` finding for an arm: the resource with the highest summed score."""
    name, agree, chosen = _arm_choice(calls)
    per_run = {str(c.run_id): c.name or "none" for c in calls}
    if chosen is None or not name:
        peaks = dict(chosen.figures.peaks) if chosen else {}
        full = dict(chosen.figures.at_capacity or {}) if chosen else {}
        if full:
            names = ", ".join(f"{n} at {p:.0%}" for n, p in full.items())
            text = (
                f"nothing limited throughput in arm {arm}: {names}, but latency and errors "
                "stayed level and every offered request was served"
            )
        else:
            text = f"no observed resource saturated in arm {arm}{_busiest(peaks)}"
        text += _unobserved(missing_tiers)
        ev = NoBottleneck(per_run, tuple(missing_tiers), peaks, full)
        return Finding("bottleneck", f"arm {arm}", text, "none", ev, arm)
    if chosen.limit is None:
        errs = ", ".join(chosen.figures.error_series)
        text = (
            f"{chosen.tier} reported errors in arm {arm} ({errs}) but no observed resource "
            f"saturated{_unobserved(missing_tiers)}"
        )
    else:
        text = _sentence(chosen, chosen.limit, len(calls), agree)
    return Finding("bottleneck", f"arm {arm}", text, name, _evidence(chosen, calls, agree,
                   missing_tiers), arm)  # fmt: skip


def _evidence(
    chosen: Call, calls: Sequence[Call], agree: int, missing_tiers: Sequence[str]
) -> BottleneckEvidence:
    """The evidence of an arm's bottleneck: the chosen run's figures and limit, the vote."""
    f = chosen.figures
    return BottleneckEvidence(
        tier=chosen.tier, per_run={str(c.run_id): c.name or "none" for c in calls},
        runs_saturated=agree, runs=len(calls), not_helping=chosen.not_helping,
        not_limits={t: QuietTier(n, p) for t, (n, p) in chosen.quiet.items()},
        missing_tiers=tuple(missing_tiers), onset_s=f.onset_s,
        latency_onset_s=f.latency_onset_s, error_onset_s=f.error_onset_s,
        throughput_per_s=f.throughput_per_s, steady_offered_per_s=f.steady_offered_per_s,
        peaks=f.peaks, demand=f.demand, d_max=f.d_max, error_series=f.error_series,
        at_capacity=f.at_capacity, limit=chosen.limit,
    )  # fmt: skip
