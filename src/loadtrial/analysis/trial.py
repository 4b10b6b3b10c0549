"""The whole analysis of one trial: every step composed, findings out.

In: `TrialData` (from the store) and the `Trial` it ran. Out: a tuple of findings in a
stable order: validity, slo (runs, then arms), saturation, bottleneck, confounder,
comparison, verdict, scalability. Pure: no I/O, seeded randomness (trial.seed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from loadtrial.analysis import bottleneck, claims, confounders, saturation, slo
from loadtrial.analysis.compare import Comparison, compare_arms, comparison_effect, describe
from loadtrial.analysis.estimate import WindowSample
from loadtrial.analysis.runview import RunView, build_run_view
from loadtrial.analysis.usl_points import scalability_findings
from loadtrial.findings import ComparisonEvidence, Finding, RunWindow
from loadtrial.spec.model import Trial, load_request_names
from loadtrial.store.model import TrialData

REPORTED_METRICS = ("p50", "p99", "error_rate", "throughput")


def declared_tiers(trial: Trial) -> list[str]:
    """Tier aliases the trial's observers promise samples for (`observe: testbed`: those
    the provider declares its own observers cover)."""
    if trial.observe == "testbed":
        return list(trial.env.own_tiers())
    return [e.as_ or e.kind for e in trial.observe]


def _arm_names(trial: Trial, data: TrialData) -> list[str]:
    names = list(trial.arms)
    return names + sorted({r.info.arm for r in data.runs} - set(names))


def _slo_findings(
    trial: Trial, arms: Sequence[str], views: Mapping[int, RunView], valid_ids: set[int]
) -> tuple[list[Finding], dict[str, Finding], dict[str, list[Finding]]]:
    """Run and arm SLO findings; also per arm: its pooled finding and its run findings.
    `views` are the runs' views, or their `slo.request`'s views when it names one."""
    out: list[Finding] = []
    per_run: dict[str, list[Finding]] = {a: [] for a in arms}
    valid = [v for v in views.values() if v.run_id in valid_ids]
    for v in views.values():
        f = slo.slo_finding(
            f"run {v.run_id}",
            slo.pooled_figures([v]),
            trial.slo,
            arm=v.arm,
            run_id=v.run_id,
            window=_window(v),
        )
        out.append(f)
        if v.run_id in valid_ids:
            per_run.setdefault(v.arm, []).append(f)
    pooled: dict[str, Finding] = {}
    for arm in arms:
        mine = [v for v in valid if v.arm == arm]
        pooled[arm] = slo.slo_finding(f"arm {arm}", slo.pooled_figures(mine), trial.slo, arm=arm)
        out.append(pooled[arm])
    return out, pooled, per_run


def _window(v: RunView) -> RunWindow:
    """The run's steady window and onsets, as its slo finding carries them."""
    return RunWindow(
        v.window.start_s, v.window.end_s, v.window.how, v.latency_onset_s, v.error_onset_s
    )


def _use_findings(
    data: TrialData,
    views: Mapping[int, RunView],
    arms: Sequence[str],
    tiers: Sequence[str],
    valid_ids: set[int],
) -> list[Finding]:
    """Saturation findings per run, then one bottleneck finding per arm (valid runs vote)."""
    out: list[Finding] = []
    calls: dict[str, list[bottleneck.Call]] = {a: [] for a in arms}
    missing: dict[str, set[str]] = {a: set() for a in arms}
    for run in data.runs:
        v = views[run.info.run_id]
        uses = saturation.run_resources(run.series, v.window, v.n_seconds)
        out += saturation.saturation_findings(uses, v.arm, v.run_id)
        if v.run_id not in valid_ids:
            continue
        calls.setdefault(v.arm, []).append(bottleneck.attribute_run(v, uses))
        seen = {s.tier for s in run.series}
        missing.setdefault(v.arm, set()).update(t for t in tiers if t not in seen)
    for arm in arms:
        if calls.get(arm):
            out.append(bottleneck.arm_bottleneck(arm, calls[arm], sorted(missing[arm])))
    return out


def request_views(
    data: TrialData, request: str, *, closed: bool, parts: bool
) -> dict[int, RunView]:
    """Every run's view of one request's figures (over the run's own steady window);
    `parts`: the trial has several request names (see build_run_view)."""
    return {
        r.info.run_id: build_run_view(r, closed=closed, request=request, parts=parts)
        for r in data.runs
    }


def _compare(
    trial: Trial,
    valid: Sequence[RunView],
    metric: str,
    arm: str,
    vs: str,
    salt: int,
    request: str = "",
) -> Comparison:
    def runs_of(name: str) -> list[WindowSample]:
        return [v.sample for v in valid if v.arm == name]

    return compare_arms(
        metric, arm, runs_of(arm), vs, runs_of(vs), seed=trial.seed + salt, request=request
    )  # fmt: skip


def _comparison_finding(c: Comparison) -> Finding:
    text = f"{c.arm} vs {c.vs}: {c.result} — {describe(c)}"
    metric = f"{c.request} {c.metric}" if c.request else c.metric
    return Finding(
        "comparison", f"{c.arm} vs {c.vs}: {metric}", text, c.result,
        ComparisonEvidence(comparison_effect(c), c.reason), c.arm,
    )  # fmt: skip


def _claims_and_comparisons(
    trial: Trial,
    arms: Sequence[str],
    valid: Sequence[RunView],
    found: Sequence[confounders.Confounder],
    pooled: Mapping[str, Finding],
    per_run: Mapping[str, list[Finding]],
    by_request: Mapping[str, Sequence[RunView]],
) -> list[Finding]:
    """Comparisons (the reported metrics against the first arm, and each claim's) and the
    claims' verdicts; a claim naming a request compares that request's valid views."""
    comps: dict[tuple[str, str, str, str], Comparison] = {}
    base = arms[0] if arms else ""
    pairs = [(m, a, base, "") for a in arms[1:] for m in REPORTED_METRICS]
    pairs += [(c.metric, c.arm, c.vs, c.request or "") for c in trial.expect if c.vs and c.metric]
    for m, a, b, req in pairs:
        if (m, a, b, req) not in comps:
            views = by_request[req] if req else valid
            comps[(m, a, b, req)] = _compare(trial, views, m, a, b, len(comps), req)
    out = [_comparison_finding(c) for c in comps.values()]
    for i, claim in enumerate(trial.expect):
        if claim.meets_slo is not None:
            # a single-arm claim rests only on its own arm running as declared
            touching = confounders.confounders_of_arm(found, claim.arm)
            out.append(
                claims.judge_slo(
                    i, claim, pooled.get(claim.arm), per_run.get(claim.arm, []), touching
                )
            )
        elif claim.vs and claim.metric:
            touching = confounders.confounders_between(found, claim.arm, claim.vs)
            c = comps[(claim.metric, claim.arm, claim.vs, claim.request or "")]
            out.append(claims.judge_comparison(i, claim, c, touching))
    return out


def analyze_trial(data: TrialData, trial: Trial) -> tuple[Finding, ...]:
    """Every finding of a trial (see the module docstring for the order)."""
    # runs that never started (the trial was interrupted or failed first) are not evidence
    data = replace(data, runs=tuple(r for r in data.runs if r.info.status != "planned"))
    closed = trial.load.model == "closed"
    views = {r.info.run_id: build_run_view(r, closed=closed) for r in data.runs}
    tiers = declared_tiers(trial)
    arms = _arm_names(trial, data)
    validity = [
        f
        for r in data.runs
        if (f := slo.validity_finding(r, views[r.info.run_id], tiers, closed=closed)) is not None
    ]
    invalid = {f.run_id for f in validity if f.status == "invalid"}
    valid = [v for v in views.values() if v.run_id not in invalid]
    valid_ids = {v.run_id for v in valid}
    # a run's validity is the whole run's; a request's figures are judged on its valid runs
    named = sorted({c.request for c in trial.expect if c.request} | {trial.slo.request or ""})
    several = len(load_request_names(trial.load)) > 1
    by_request = {n: request_views(data, n, closed=closed, parts=several) for n in named if n}
    valid_by_request = {
        n: [v for v in vs.values() if v.run_id in valid_ids] for n, vs in by_request.items()
    }
    slo_views = views if trial.slo.request is None else by_request[trial.slo.request]
    slo_out, pooled, per_run = _slo_findings(trial, arms, slo_views, valid_ids)
    kept = {v.run_id for v in valid}  # an invalid run's environment decides nothing
    facts = [
        confounders.RunFacts(r.info.run_id, r.info.arm, r.info.params, r.snapshots)
        for r in data.runs
        if r.info.run_id in kept
    ]
    # a parameter not in force says most plainly what went wrong: it comes first
    # which facts each parameter sets: the provider's declaration, carried by the trial
    governance = trial.env.governance()
    found = confounders.not_in_force(facts, governance)
    found += confounders.between_arms(facts, trial.arms, governance, trial.expected_to_vary)
    found += confounders.within_arms(facts)
    return tuple(
        validity
        + slo_out
        + _use_findings(data, views, arms, tiers, kept)
        + confounders.confounder_findings(found)
        + _claims_and_comparisons(trial, arms, valid, found, pooled, per_run, valid_by_request)
        + scalability_findings(trial, data, views, valid)
    )
