"""Build the report document from stored data, the trial and the findings (pure).

In: TrialData (store), Trial (the validated file), findings (analysis). Out: a `Report`
(see model.py): verdict first, bottleneck, arms pooled over repetitions, one timeline per
run, environment, scalability, provenance. Nothing here reads files or the network.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from loadtrial.analysis.estimate import WindowSample, arm_interval
from loadtrial.analysis.runview import build_run_view
from loadtrial.findings import Finding
from loadtrial.report import evidence as ev
from loadtrial.report import stats
from loadtrial.report.environment import action_rows, env_rows, provenance
from loadtrial.report.model import (
    ArmRow,
    Band,
    ClaimView,
    Estimate,
    FindingView,
    Report,
    RequestCell,
    RunTimeline,
    TierSeries,
)
from loadtrial.report.verdict import claim_views, load_text, overall_status, slo_text
from loadtrial.report.whatif_section import whatif_rows
from loadtrial.spec.model import Trial
from loadtrial.store.model import RunData, Series, TrialData

KEPT = frozenset({"ok", "pass", "valid", "degraded"})  # validity statuses that keep a run


def build_report(
    data: TrialData,
    trial: Trial,
    findings: Sequence[Finding],
    *,
    store_path: str = "",
    generated_at: float | None = None,
) -> Report:
    """Return the whole report document of one trial."""
    views = tuple(ev.view(f) for f in findings)
    confounders = tuple(f for f in views if f.kind == "confounder")
    claims: tuple[ClaimView, ...] = claim_views(trial, views, confounders)
    arms = arm_names(data, trial)
    keys, env_arm_names = env_rows(data, trial, arms, confounders, guess=not findings)
    runs = tuple(timeline(r, views) for r in data.runs)
    return Report(
        title=trial.name or data.info.name,
        hypothesis=(trial.hypothesis or data.info.hypothesis).strip(),
        overall=overall_status(claims),
        claims=claims,
        confounders=confounders,
        bottleneck=primary_bottleneck(views),
        bottlenecks=tuple(f for f in views if f.kind == "bottleneck"),
        arms=tuple(arm_row(a, data, trial, views) for a in arms),
        runs=runs,
        env_rows=keys,
        env_arms=env_arm_names,
        actions=action_rows(data),
        scalability=tuple(f for f in views if f.kind == "scalability"),
        findings=views,
        provenance=provenance(data, store_path, generated_at),
        slo_text=slo_text(trial),
        slo_request=trial.slo.request,
        load_text=load_text(trial),
        repeat=trial.repeat,
        duration_s=float(max((len(r.t_s) for r in runs), default=0)),
        slo_p99_ms=None if trial.slo.p99 is None else trial.slo.p99 * 1000.0,
        notes=() if findings else ("No findings were stored or computed for this trial.",),
        whatif=whatif_rows(data, trial),
        requests=tuple(
            request_cell(a, name, data, trial, views) for name in request_names(data) for a in arms
        ),
    )


def primary_bottleneck(views: Sequence[FindingView]) -> FindingView | None:
    """The bottleneck to chart: the first that names a resource, else the first at all."""
    found = [f for f in views if f.kind == "bottleneck"]
    named = [f for f in found if f.status not in ("", "none") or ev.series_names(f.evidence)]
    return next(iter(named or found), None)


def arm_names(data: TrialData, trial: Trial) -> tuple[str, ...]:
    """Return the trial's arms in file order, then any arm only the data knows."""
    names = list(trial.arms)
    names += [r.info.arm for r in data.runs if r.info.arm not in names]
    return tuple(dict.fromkeys(names))


def arm_row(arm: str, data: TrialData, trial: Trial, views: Sequence[FindingView]) -> ArmRow:
    """Return one arm pooled over its valid runs' steady windows: the same figures, by the
    same code, as the analysis quotes in its SLO findings, comparisons and claims."""
    runs = [r for r in data.runs if r.info.arm == arm]
    excluded = excluded_runs(runs, views)
    closed = trial.load.model == "closed"
    kept = [build_run_view(r, closed=closed) for r in runs if r.info.run_id not in excluded]
    samples = [v.sample for v in kept if v.sample.n_seconds]
    completed = int(sum(s.completed.sum() for s in samples))
    errors = stats.merge_counts(v.error_kinds for v in kept)
    latency = {key: _estimate(key, samples, 1e-3) for key in ("p50", "p90", "p99")}
    invalid = validity_reasons(runs, views)
    slo, detail = arm_slo(arm, views)
    return ArmRow(
        arm=arm,
        params=ev.jsonable(trial.arms.get(arm, runs[0].info.params if runs else {})),
        runs=len(runs),
        valid_runs=len(runs) - len(excluded),
        throughput_per_s=_estimate("throughput", samples, 1.0),
        latency_ms=latency,
        requests=completed,
        error_rate=(sum(errors.values()) / completed) if completed else None,
        errors_by_kind=errors,
        slo=slo,
        slo_detail=detail,
        validity=tuple(reason for _, reason in invalid),
        notes=tuple(reservations(runs, views)),
    )


def request_names(data: TrialData) -> tuple[str, ...]:
    """Request names with figures of their own in the stored runs (none with one name)."""
    return tuple(dict.fromkeys(n for r in data.runs for s in r.seconds for n in s.requests))


def request_cell(
    arm: str, name: str, data: TrialData, trial: Trial, views: Sequence[FindingView]
) -> RequestCell:
    """One request of one arm over the arm's valid runs' steady windows: the analysis' own
    request views and estimate functions, as a request-scoped SLO or claim quotes them."""
    runs = [r for r in data.runs if r.info.arm == arm]
    excluded = excluded_runs(runs, views)
    closed = trial.load.model == "closed"
    kept = [
        build_run_view(r, closed=closed, request=name, parts=True)  # 2+ names recorded
        for r in runs
        if r.info.run_id not in excluded
    ]
    samples = [v.sample for v in kept if v.sample.n_seconds]
    completed = int(sum(s.completed.sum() for s in samples))
    errors = stats.merge_counts(v.error_kinds for v in kept)
    return RequestCell(
        arm=arm,
        request=name,
        throughput_per_s=_estimate("throughput", samples, 1.0),
        latency_ms={key: _estimate(key, samples, 1e-3) for key in ("p50", "p99")},
        requests=completed,
        error_rate=(sum(errors.values()) / completed) if completed else None,
        errors_by_kind=errors,
    )


def _estimate(metric: str, samples: Sequence[WindowSample], scale: float) -> Estimate:
    """The analysis' pooled figure and 95 % interval of `metric`, times `scale`."""
    if not samples:
        return Estimate(None)
    got = arm_interval(metric, samples)

    def num(x: float) -> float | None:
        return x * scale if math.isfinite(x) else None

    return Estimate(num(got.value), num(got.low), num(got.high), got.method)


def window_of(run: RunData, views: Sequence[FindingView]) -> tuple[float, float] | None:
    """The steady window the analysis measured a run on (from its run SLO finding)."""
    for f in views:
        if f.run_id == run.info.run_id and f.kind == "slo":
            found = ev.window(f.evidence)
            if found is not None:
                return found
    return None


def excluded_runs(runs: Sequence[RunData], views: Sequence[FindingView]) -> set[int]:
    """Runs left out of the arm's pooled figures: judged invalid by the analysis (as it
    does itself), failed, or without a single measured second."""
    ids = {r.info.run_id for r in runs}
    judged = {
        f.run_id
        for f in views
        if f.kind == "validity" and f.status == "invalid" and f.run_id in ids
    }
    empty = {r.info.run_id for r in runs if r.info.status == "failed" or not r.seconds}
    return {rid for rid in judged | empty if rid is not None}


def validity_reasons(
    runs: Sequence[RunData], views: Sequence[FindingView]
) -> list[tuple[int, str]]:
    """Return (run_id, reason) for each doubt about a run of the arm (flagged, not dropped)."""
    out: list[tuple[int, str]] = []
    for r in runs:
        rid = r.info.run_id
        if r.info.status != "complete":
            why = f": {r.info.abort_reason}" if r.info.abort_reason else ""
            out.append((rid, f"run {rid} {r.info.status}{why}"))
        for f in views:
            if f.kind == "validity" and f.run_id == rid and f.status not in KEPT:
                out.append((rid, f"run {rid}: {f.summary}"))
    return out


def reservations(runs: Sequence[RunData], views: Sequence[FindingView]) -> list[str]:
    """Notes on runs that were kept with reservations (validity status "degraded")."""
    ids = {r.info.run_id for r in runs}
    return [
        f.summary
        for f in views
        if f.kind == "validity" and f.run_id in ids and f.status in KEPT - {"ok", "pass", "valid"}
    ]


def arm_slo(arm: str, views: Sequence[FindingView]) -> tuple[str, str]:
    """Return (pass|fail|no data|not analysed, sentence) from the analysis' arm SLO finding:
    the report never judges an SLO itself."""
    mine = [f for f in views if f.kind == "slo" and f.arm == arm and f.run_id is None]
    if not mine:
        return "not analysed", "run `loadtrial analyze` to judge the SLO"
    status = {"no_data": "no data"}.get(mine[0].status, mine[0].status)
    return status, mine[0].summary


def timeline(run: RunData, views: Sequence[FindingView]) -> RunTimeline:
    """Return one run's per-second series, tiers and markers."""
    secs = run.seconds
    q = stats.per_second(secs)
    kinds = sorted({k for s in secs for k in s.errors})
    rid, arm = run.info.run_id, run.info.arm
    mine = [f for f in views if f.run_id == rid or (f.run_id is None and f.arm == arm)]
    focus = bottleneck_series(f for f in mine if f.kind == "bottleneck")
    # only the bottleneck's own saturation is shaded: shading every busy resource would
    # paint the whole run red (utilisation lines show the rest)
    bands = [
        ev.band_of(f, f.subject) for f in mine if f.kind == "saturation" and f.subject in focus
    ]
    onsets = [
        Band(t, t, f"onset: {f.subject}")
        for f in mine
        if f.kind == "bottleneck" and (t := ev.onset(f.evidence)) is not None
    ]
    return RunTimeline(
        run_id=rid,
        arm=arm,
        repetition=run.info.repetition,
        status=run.info.status,
        abort_reason=run.info.abort_reason,
        warmup_s=run.info.warmup_s,
        window_s=window_of(run, views),
        t_s=tuple(s.second for s in secs),
        offered=tuple(s.offered for s in secs),
        achieved=tuple(s.completed for s in secs),
        ok=tuple(s.ok for s in secs),
        dropped=tuple(s.dropped for s in secs),
        latency_ms=q.corrected,
        uncorrected_ms=q.uncorrected,
        errors={k: tuple(int(s.errors.get(k, 0)) for s in secs) for k in kinds},
        tiers=tuple(tier_series(s) for s in run.series),
        bands=merge_bands(b for b in bands if b is not None),
        onsets=tuple(onsets),
        events=tuple(Band(e.t_s, e.t_s, f"{e.kind}: {e.message}") for e in run.events),
    )


def bottleneck_series(found: Iterable[FindingView]) -> set[str]:
    """Series names the bottleneck findings point at (their status names the resource)."""
    names: set[str] = set()
    for f in found:
        names.update(ev.series_names(f.evidence))
        if f.status not in ("", "none"):
            names.add(f.status)
    return names


def merge_bands(bands: Iterable[Band]) -> tuple[Band, ...]:
    """Union of overlapping time ranges (labels joined), sorted by start."""
    out: list[Band] = []
    for b in sorted(bands, key=lambda b: b.start_s):
        if out and b.start_s <= out[-1].end_s:
            last = out[-1]
            label = last.label if b.label in last.label else f"{last.label}, {b.label}"
            out[-1] = Band(last.start_s, max(last.end_s, b.end_s), label)
        else:
            out.append(b)
    return tuple(out)


def tier_series(s: Series) -> TierSeries:
    """Return a metric series rounded for the page, with utilisation when known."""
    values = [float(v) if math.isfinite(v) else None for v in s.values.tolist()]
    scale: float | None = None
    if s.capacity:
        scale = 1.0 / s.capacity
    elif s.unit == "percent":
        scale = 0.01
    elif s.unit == "ratio":
        scale = 1.0
    util = (
        None
        if scale is None
        else tuple(_round(v * scale if v is not None else None) for v in values)
    )
    return TierSeries(
        name=s.name,
        unit=s.unit,
        capacity=s.capacity,
        t_s=tuple(round(float(t), 2) for t in s.t_s.tolist()),
        values=tuple(_round(v) for v in values),
        util=util,
    )


def _round(value: float | None) -> float | None:
    """Round to 4 significant digits (the page shows no more; the JSON stays small)."""
    return None if value is None else float(f"{value:.4g}")
