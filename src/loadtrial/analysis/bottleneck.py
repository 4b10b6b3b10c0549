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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loadtrial.analysis.runview import RunView
from loadtrial.analysis.saturation import ResourceUse, of_capacity
from loadtrial.findings import Finding, NoBottleneck, evidence_from_json

FloatArray = npt.NDArray[np.float64]
ONSET_SLACK_S = 2.0
ONSET_LEAD_S = 10.0
NOT_HELP_BELOW = 0.70  # a tier whose busiest resource peaked below this is not the limit
MET_OFFERED = 0.95  # goodput at least this share of the offered rate: nothing held it back
PER_RESOURCE_ONLY = ("not_helping", "tier", "quiet")  # figures not copied into evidence
ACRONYMS = {"cpu": "CPU", "io": "I/O", "rss": "RSS"}


@dataclass(frozen=True)
class Call:
    """The bottleneck of one run ("" when none was found) and the facts behind it."""

    run_id: int
    arm: str
    name: str
    tier: str
    evidence: dict[str, Any] = field(default_factory=dict)
    not_helping: tuple[str, ...] = ()
    saturated: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> its figures
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


def _demand(u: ResourceUse, x_per_s: float) -> dict[str, float] | None:
    """Operational-law figures of a resource: D = U / X and the bound 1/D."""
    if x_per_s <= 0 or not u.mean_util > 0:
        return None
    d = u.mean_util / x_per_s
    return {"demand_ms": d * 1000.0, "bound_per_s": 1.0 / d, "mean_util": u.mean_util}


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
    d_max = max(demands, key=lambda n: demands[n]["demand_ms"], default="")
    errs = {u.name: u.errors_at_s for u in uses if u.is_error and u.errors_at_s is not None}
    ev: dict[str, Any] = {
        "onset_s": onset,
        "latency_onset_s": view.latency_onset_s,
        "error_onset_s": view.error_onset_s,
        "throughput_per_s": x,
        "steady_offered_per_s": (
            float(np.median(view.in_window(view.offered))) if view.window.length_s else None
        ),
        "peaks": {u.name: u.peak_util for _, u, _ in scored},
        "demand": demands,
        "d_max": d_max,
        "error_series": errs,
    }
    top = scored[0] if scored else None
    if top is not None and top[1].saturated_at_s is not None and not held_back(view):
        # full, yet latency and errors stayed level and every offered request was served:
        # at capacity, but it did not (yet) limit anything
        ev["at_capacity"] = {u.name: u.peak_util for _, u, _ in scored if u.saturated_at_s}
        top = None
    if top is None or top[1].saturated_at_s is None:
        tiers_with_errors = sorted({n.split(".", 1)[0] for n in errs})
        tier = tiers_with_errors[0] if len(tiers_with_errors) == 1 else ""
        name = f"{tier} (errors)" if tier else ""
        quiet = _quiet_tiers(uses, tier)
        return Call(view.run_id, view.arm, name, tier, ev, _not_helping(uses, tier), quiet=quiet)
    saturated: dict[str, dict[str, Any]] = {
        v.name: {"resource": v.name, "tier": v.tier, "saturated_at_s": v.saturated_at_s,
                 "peak_util": v.peak_util, "capacity": v.capacity, "unit": v.unit,
                 "correlation": c,
                 "score": k[1], "not_helping": _not_helping(uses, v.tier),
                 "quiet": _quiet_tiers(uses, v.tier),
                 "offered_per_s": _offered_at(view, v.saturated_at_s)}
        for k, v, c in scored
        if v.saturated_at_s is not None
    }  # fmt: skip
    u = top[1]
    ev.update({k: v for k, v in saturated[u.name].items() if k not in PER_RESOURCE_ONLY})
    return Call(
        view.run_id, view.arm, u.name, u.tier, ev, _not_helping(uses, u.tier), saturated,
        _quiet_tiers(uses, u.tier),
    )  # fmt: skip


def label(name: str) -> str:
    """A resource as a person says it: "db.connections.active" -> "db connections",
    "app.cpu.util" -> "app CPU" (tier and resource, without the statistic)."""
    parts = name.split(".")
    words = parts[:2] if len(parts) > 2 else parts
    return " ".join(ACRONYMS.get(w.lower(), w) for w in words)


def _when(ev: dict[str, Any]) -> str:
    """How the saturation lines up with the rise of latency and errors."""
    onset, sat = ev.get("onset_s"), float(ev["saturated_at_s"])
    if onset is None:
        return ""
    if not -ONSET_SLACK_S <= onset - sat <= ONSET_LEAD_S:
        return f"; latency/errors rose at t={onset:.0f}s"
    rose = {w: t for w, t in (("latency", ev.get("latency_onset_s")),
                              ("errors", ev.get("error_onset_s"))) if t is not None}  # fmt: skip
    if len(rose) == 2 and abs(rose["latency"] - rose["errors"]) > ONSET_SLACK_S:
        first, second = sorted(rose, key=lambda w: rose[w])
        return f", when {first} rose ({second} from t={rose[second]:.0f}s)"
    return f", when {' and '.join(rose) or 'latency/errors'} rose"


def _knee(ev: dict[str, Any]) -> str:
    """ " at 32/s offered" when it saturated while the load was still ramping up (below 90 %
    of the steady level): that rate is the capacity the ramp found."""
    at, steady = ev.get("offered_per_s"), ev.get("steady_offered_per_s")
    if at is None or not steady or at >= 0.9 * steady:
        return ""
    onset, sat = ev.get("onset_s"), float(ev["saturated_at_s"])
    if sat < 1 or onset is None or not -ONSET_SLACK_S <= onset - sat <= ONSET_LEAD_S:
        return ""  # full from the start, or latency did not move with it: no knee
    return f" at {at:.0f}/s offered"


def _sentence(call: Call, runs: int, agree: int) -> str:
    """One sentence: what limited the arm, the evidence in numbers, what did not."""
    ev = call.evidence
    head = f"{label(call.name)} limited throughput in arm {call.arm}"
    if agree < runs:
        head += f" (saturated in {agree} of {runs} runs)"
    text = (
        f"{head}: {call.name} at {ev['peak_util']:.0%}"
        f"{of_capacity(ev['capacity'], ev.get('unit', ''))} "
        f"from t={ev['saturated_at_s']:.0f}s{_knee(ev)}{_when(ev)}"
    )
    d = ev["demand"].get(call.name)
    if d:
        text += f"; X ≤ 1/D = {d['bound_per_s']:.0f}/s (measured {ev['throughput_per_s']:.0f}/s)"
    mine = label(call.name)
    others = sorted({label(n) for n in ev.get("also_saturated", [])} - {mine})
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
        for name, fig in c.saturated.items():
            totals[name] = totals.get(name, 0.0) + float(fig["score"])
    if not totals:
        votes = Counter(c.name for c in calls)
        name, agree = votes.most_common(1)[0] if votes else ("", 0)
        return name, agree, next((c for c in calls if c.name == name), None)
    ranked = sorted(totals, key=lambda n: totals[n], reverse=True)
    name = ranked[0]
    seen = [c for c in calls if name in c.saturated]
    best = max(seen, key=lambda c: float(c.saturated[name]["score"]))
    fig = best.saturated[name]
    ev = {**best.evidence, **{k: v for k, v in fig.items() if k not in PER_RESOURCE_ONLY}}
    ev["also_saturated"] = ranked[1:]
    call = Call(
        best.run_id, best.arm, name, str(fig["tier"]), ev, tuple(fig["not_helping"]),
        quiet=dict(fig["quiet"]),
    )  # fmt: skip
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
        peaks = dict(chosen.evidence.get("peaks", {})) if chosen else {}
        full = dict(chosen.evidence.get("at_capacity", {})) if chosen else {}
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
    if chosen.evidence.get("resource") is None:
        errs = ", ".join(chosen.evidence["error_series"])
        text = (
            f"{chosen.tier} reported errors in arm {arm} ({errs}) but no observed resource "
            f"saturated{_unobserved(missing_tiers)}"
        )
    else:
        text = _sentence(chosen, len(calls), agree)
    out: dict[str, Any] = {
        **chosen.evidence,
        "per_run": per_run,
        "runs_saturated": agree,
        "runs": len(calls),
        "not_helping": list(chosen.not_helping),
        "not_limits": {t: {"series": n, "peak_util": p} for t, (n, p) in chosen.quiet.items()},
        "missing_tiers": list(missing_tiers),
        "tier": chosen.tier,
    }
    # the run's call is still a mapping of figures (Call.evidence); it becomes the typed
    # evidence here, through the one reader of evidence keys
    return Finding(
        "bottleneck", f"arm {arm}", text, name, evidence_from_json("bottleneck", name, out), arm
    )
