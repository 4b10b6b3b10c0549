"""SLO checks per run and per arm, and the validity of each run.

In: `RunView`s (steady windows, merged HDR counts), the trial's `SloSpec`, the run's
events, status and observed series names. Out: `slo` findings (status pass | fail |
no_data) with the measured figures, and `validity` findings for runs that cannot be fully
trusted: status `invalid` (left out of per-arm SLOs and comparisons) or `degraded` (kept,
with reservations: observers missing, or a generator lag too small to matter) or
`aborted` (kept: what it measured is evidence).
Per-arm figures merge the runs' histograms; percentiles are never averaged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from loadtrial.analysis import hist
from loadtrial.analysis.runview import RunView
from loadtrial.findings import Finding, RunWindow, SloEvidence, ValidityEvidence
from loadtrial.findings import Objective as JudgedObjective
from loadtrial.load import watch
from loadtrial.spec.model import SloSpec
from loadtrial.store.model import RunData
from loadtrial.units import format_ms

MIN_REQUESTS = 100  # fewer completed requests in the window: a p99 means nothing
INVALID_EVENT_KIND = "load_invalid"  # the engine's own verdict, one event per reason
ABORTED_STATUSES = ("aborted", "interrupted")
LAG_SHARE_OF_P99 = 0.10  # generator lateness under this share of p99 did not shape it


@dataclass(frozen=True)
class SloFigures:
    """Pooled figures of a window (or several): latency in µs, rates per second."""

    requests: int
    errors: int
    seconds: int
    latency_us: Mapping[float, float]

    @property
    def error_rate(self) -> float:
        """Errors / completed (0 when nothing completed)."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def throughput_per_s(self) -> float:
        """Successful responses per second."""
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0


def pooled_figures(views: Iterable[RunView]) -> SloFigures:
    """Merge the steady windows of runs: sum counts and HDR counts, then take quantiles."""
    views = list(views)
    counts = hist.merge_counts(v.window_counts for v in views)
    return SloFigures(
        requests=int(sum(v.in_window(v.completed).sum() for v in views)),
        errors=int(sum(v.in_window(v.errors).sum() for v in views)),
        seconds=sum(v.window.length_s for v in views),
        latency_us=hist.quantiles(counts, (50.0, 90.0, 99.0, 99.9)),
    )


OBJECTIVES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


@dataclass(frozen=True)
class Objective:
    """One declared SLO objective judged: limit and value in seconds (latency), a fraction
    (error_rate) or per second (min_throughput); value None when nothing was measured."""

    name: str
    limit: float
    value: float | None
    met: bool

    def breach(self) -> str:
        """The miss as a phrase: 'p99 1.2s > 500ms'."""
        got = float("nan") if self.value is None else self.value
        if self.name in OBJECTIVES:
            return f"{self.name} {format_ms(got * 1e6)} > {format_ms(self.limit * 1e6)}"
        if self.name == "error_rate":
            return f"error rate {got:.2%} > {self.limit:.2%}"
        return f"throughput {got:.0f}/s < {self.limit:.0f}/s"


def slo_objectives(fig: SloFigures, slo: SloSpec) -> list[Objective]:
    """One Objective per objective the SLO declares."""
    out: list[Objective] = []
    for name, pct in OBJECTIVES.items():
        limit_s = getattr(slo, name)
        if limit_s is not None:
            got = fig.latency_us.get(pct, float("nan")) / 1e6
            out.append(Objective(name, limit_s, _finite(got), bool(got <= limit_s)))
    if slo.error_rate is not None:
        rate = fig.error_rate
        out.append(Objective("error_rate", slo.error_rate, rate, rate <= slo.error_rate))
    if slo.min_throughput is not None:
        ok_s = fig.throughput_per_s
        out.append(Objective("min_throughput", slo.min_throughput, ok_s,
                             ok_s >= slo.min_throughput))  # fmt: skip
    return out


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def slo_breaches(fig: SloFigures, slo: SloSpec) -> list[str]:
    """Return one phrase per SLO target the figures miss (empty: all met)."""
    return [o.breach() for o in slo_objectives(fig, slo) if not o.met]


def _evidence(
    fig: SloFigures, slo: SloSpec, breaches: Sequence[str] | None, window: RunWindow | None
) -> SloEvidence:
    """The figures and the judged objectives (`breaches` None: nothing was measured)."""
    lat = tuple((p, None if np.isnan(v) else float(v)) for p, v in fig.latency_us.items())
    objectives = tuple(
        JudgedObjective(o.name, o.limit, o.value, o.met) for o in slo_objectives(fig, slo)
    )
    return SloEvidence(
        requests=fig.requests, errors=fig.errors, error_rate=fig.error_rate,
        throughput_per_s=fig.throughput_per_s, seconds=fig.seconds, latency_us=lat,
        request=slo.request, objectives=objectives,
        breaches=None if breaches is None else tuple(breaches), window=window,
    )  # fmt: skip


def slo_finding(
    subject: str,
    fig: SloFigures,
    slo: SloSpec,
    *,
    arm: str = "",
    run_id: int | None = None,
    window: RunWindow | None = None,
) -> Finding:
    """One `slo` finding for a run (with its steady `window`) or an arm (of
    `slo.request`'s figures when it names one: the summary says so and the evidence
    carries `request`)."""
    label = subject if slo.request is None else f"{subject} (request {slo.request})"
    rid = run_id
    if fig.requests == 0:
        text = f"{label}: no valid run measured anything, so its SLO is not met"
        if rid is not None:
            text = f"{label}: no requests measured in its steady window"
        return Finding("slo", subject, text, "no_data", _evidence(fig, slo, None, window), arm, rid)
    breaches = slo_breaches(fig, slo)
    figures = (
        f"p99 {format_ms(fig.latency_us[99.0])}, errors {fig.error_rate:.2%}, "
        f"{fig.throughput_per_s:.0f} ok/s"
    )
    declared = slo.declared()
    if breaches:
        summary = f"{label} misses the SLO: " + "; ".join(breaches)
    elif declared:
        summary = f"{label} meets the SLO ({figures})"
    else:  # nothing to meet: say the figures, not a pass the trial never asked for
        summary = f"{label}: {figures} (the trial declares no slo)"
    ev = _evidence(fig, slo, breaches, window)
    return Finding("slo", subject, summary, "fail" if breaches else "pass", ev, arm, rid)


def generator_lag_minor(run: RunData, view: RunView, *, closed: bool) -> tuple[bool, str]:
    """Whether the generator's lateness is too small to have shaped the figures.

    Only an open-model schedule lag can be weighed this way: latency is measured from the
    intended send time, so a late send is inside the measured latency already; when the
    worst per-second send lag (95th percentile over the steady seconds) stays under
    LAG_SHARE_OF_P99 of the measured p99, the target, not the generator, shaped them.
    A closed model records no send lag (a CPU-bound generator shows as fewer users'
    requests, not as lag), so it is never kept this way.
    """
    secs = [s for s in run.seconds if view.window.start_s <= s.second < view.window.end_s]
    if closed or not secs:
        return False, ""
    lag_us = float(np.percentile([s.max_send_lag_us for s in secs], 95))
    p99_us = hist.quantiles(view.window_counts, (99.0,))[99.0]
    minor = bool(p99_us > 0) and lag_us <= LAG_SHARE_OF_P99 * p99_us
    why = (
        f"the worst send lag of most seconds, {format_ms(lag_us)}, is small against "
        f"the p99 latency of {format_ms(p99_us)}, which includes it"
    )
    return minor, why


def _reasons(run: RunData, view: RunView, *, closed: bool) -> tuple[list[str], list[str]]:
    """(reasons the run is invalid, notes that only degrade it).

    Invalid only when the generator was the limit (its CPU, its schedule lag, a failed
    worker: the engine's `load_invalid` events) or too little completed to measure. A
    schedule lag alone is kept (degraded) when it was minor; CPU and worker reasons never
    are. Requests the target left waiting are the target's failures, not the generator's.
    """
    invalid: list[str] = []
    notes: list[str] = []
    engine = [e.message for e in run.events if e.kind == INVALID_EVENT_KIND]
    lag_only = bool(engine) and all(m.startswith(watch.LAG_REASON) for m in engine)
    minor, why = generator_lag_minor(run, view, closed=closed) if lag_only else (False, "")
    if minor:
        notes += [f"{m} (kept: {why})" for m in engine]
    else:
        invalid += engine
    n_req = int(view.in_window(view.completed).sum())
    if n_req < MIN_REQUESTS:
        invalid.append(f"only {n_req} requests completed in the steady window")
    return invalid, notes


def validity_finding(
    run: RunData, view: RunView, declared_tiers: Sequence[str], *, closed: bool = False
) -> Finding | None:
    """Return why a run cannot be fully trusted, or None when it can."""
    invalid, notes = _reasons(run, view, closed=closed)
    seen = {s.tier for s in run.series}
    missing = [t for t in declared_tiers if t not in seen]
    if missing:
        notes.append(f"no samples from: {', '.join(missing)}")
    subject, arm, rid = f"run {run.info.run_id}", run.info.arm, run.info.run_id
    ev = ValidityEvidence(
        reasons=tuple(invalid), notes=tuple(notes), missing_tiers=tuple(missing),
        requests=int(view.in_window(view.completed).sum()), status=run.info.status,
        abort_reason=run.info.abort_reason,
    )  # fmt: skip
    if invalid:
        text = f"{subject} ({arm}) is invalid: " + "; ".join(invalid)
        return Finding("validity", subject, text, "invalid", ev, arm, rid)
    if run.info.status in ABORTED_STATUSES:
        why = run.info.abort_reason or run.info.status
        text = f"{subject} ({arm}) was {run.info.status}: {why}; its data is kept"
        return Finding("validity", subject, text, "aborted", ev, arm, rid)
    if notes:
        text = f"{subject} ({arm}) is kept with reservations: " + "; ".join(notes)
        return Finding("validity", subject, text, "degraded", ev, arm, rid)
    return None
