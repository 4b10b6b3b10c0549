"""The (N, throughput) points for a USL fit where the trial declares a scale, and the finding.

In: the trial, its runs' views (steady windows, throughput per second). Out: `scalability`
findings. Two sources of points:
- arms over the trial's declared `scale:` parameter (e.g. app_nodes): one point per valid
  run whose throughput was *limited* (latency or errors rose, or fewer requests succeeded
  than arrived), N = that parameter, X = mean ok/s in the steady window. A run that served
  its whole offered rate measured the load, not the capacity: it is left out. Any other
  varying count (a rate, max_connections) is not a scale and is never fitted.
- a closed-model load whose stages step `users`: one point per stage and run.
Fewer than 3 distinct N: no fit; with a declared scale, a finding says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from loadtrial.analysis.bottleneck import held_back
from loadtrial.analysis.runview import RunView
from loadtrial.analysis.scalability import MIN_LEVELS, fit_usl
from loadtrial.analysis.windows import stage_windows
from loadtrial.findings import Finding, UslNotFitted
from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData


def arm_points(trial: Trial, valid: Sequence[RunView]) -> list[tuple[float, float]]:
    """[(N, X)] of the valid, throughput-limited runs over the declared scale."""
    param = trial.scale
    if param is None:
        return []
    return [
        (float(trial.arms[v.arm][param]), float(np.mean(v.in_window(v.ok))))
        for v in valid
        if v.arm in trial.arms and v.window.length_s > 0 and held_back(v)
    ]


def stage_points(trial: Trial, valid: Sequence[RunView]) -> list[tuple[float, float]]:
    """[(users, X)] per held stage of a closed-model load that steps users."""
    stages = trial.load.stages
    if trial.load.model != "closed" or len(stages) < MIN_LEVELS:
        return []
    if any(s.users is None for s in stages):
        return []
    durs = [s.duration for s in stages]
    users = [float(s.users or 0) for s in stages]
    pts: list[tuple[float, float]] = []
    for v in valid:
        for level, w in stage_windows(durs, users, trial.load.warmup, v.n_seconds):
            pts.append((level, float(np.mean(v.ok[w.start_s : w.end_s]))))
    return pts


def _finding(subject: str, pts: Sequence[tuple[float, float]]) -> Finding | None:
    n = np.array([p[0] for p in pts])
    x = np.array([p[1] for p in pts])
    if np.unique(n).size < MIN_LEVELS:
        return None
    fit = fit_usl(n, x)
    peak = "∞ (no coherency cost)" if not np.isfinite(fit.peak_n) else f"{fit.peak_n:.1f}"
    text = (
        f"USL over {subject}: σ={fit.sigma:.3g} (contention), κ={fit.kappa:.3g} (coherency), "
        f"λ={fit.lam:.4g}/s per unit, R²={fit.r2:.3f}; peak at N*={peak}"
        + (f", ~{fit.peak_throughput:.0f}/s" if np.isfinite(fit.peak_throughput) else "")
    )
    ev = fit.evidence(tuple(pts), subject)
    return Finding("scalability", f"usl {subject}", text, "fit", ev)


def _not_fitted(subject: str, pts: Sequence[tuple[float, float]]) -> Finding:
    levels = sorted({n for n, _ in pts})
    text = (
        f"USL over {subject} not fitted: throughput was limited at {len(levels)} level(s) "
        f"of {subject} ({', '.join(f'{n:g}' for n in levels) or 'none'}); a fit needs "
        f"{MIN_LEVELS} (arms that served their whole offered rate measured the load, "
        "not the capacity: raise the rate)"
    )
    ev = UslNotFitted(tuple(pts), subject, tuple(levels))
    return Finding("scalability", f"usl {subject}", text, "not_fitted", ev)


def scalability_findings(
    trial: Trial, data: TrialData, views: Mapping[int, RunView], valid: Sequence[RunView]
) -> list[Finding]:
    """USL findings for the count the trial varies, if any."""
    del data, views  # the valid views carry everything needed
    out: list[Finding] = []
    if trial.scale is not None:
        pts = arm_points(trial, valid)
        out.append(_finding(trial.scale, pts) or _not_fitted(trial.scale, pts))
    if (f := _finding("users (load stages)", stage_points(trial, valid))) is not None:
        out.append(f)
    return out
