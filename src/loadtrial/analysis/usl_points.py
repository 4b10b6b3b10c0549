"""Where a trial varies a count, the (N, throughput) points for a USL fit, and the finding.

In: the trial, its runs' views (steady windows, throughput per second). Out: `scalability`
findings. Two sources of points:
- arms that differ in exactly one integer parameter (app_nodes, users, rate …), all
  other parameters equal: one point per valid run, N = that parameter, X = mean ok/s in
  the steady window;
- a closed-model load whose stages step `users`: one point per stage and run.
Fewer than 3 distinct N: no fit (nothing to say).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from loadtrial.analysis.model import Finding
from loadtrial.analysis.runview import RunView
from loadtrial.analysis.scalability import MIN_LEVELS, fit_usl
from loadtrial.analysis.windows import stage_windows
from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData


def count_param(arms: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The one integer parameter that varies across arms while all others stay equal."""
    keys = {k for p in arms.values() for k in p}
    varying = [k for k in keys if len({repr(p.get(k)) for p in arms.values()}) > 1]
    if len(varying) != 1:
        return None
    values = [p.get(varying[0]) for p in arms.values()]
    is_count = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values)
    return varying[0] if is_count else None


def arm_points(trial: Trial, valid: Sequence[RunView]) -> tuple[str, list[tuple[float, float]]]:
    """(parameter, [(N, X)]) from arms varying one count (empty when none does)."""
    param = count_param(trial.arms)
    if param is None:
        return "", []
    pts = [
        (float(trial.arms[v.arm][param]), float(np.mean(v.in_window(v.ok))))
        for v in valid
        if v.arm in trial.arms and v.window.length_s > 0
    ]
    return param, pts


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
    ev = {**fit.as_dict(), "points": [[a, b] for a, b in pts], "over": subject}
    return Finding("scalability", f"usl {subject}", text, "fit", ev)


def scalability_findings(
    trial: Trial, data: TrialData, views: Mapping[int, RunView], valid: Sequence[RunView]
) -> list[Finding]:
    """USL findings for the count the trial varies, if any."""
    del data, views  # the valid views carry everything needed
    out: list[Finding] = []
    param, pts = arm_points(trial, valid)
    if param and (f := _finding(param, pts)) is not None:
        out.append(f)
    if (f := _finding("users (load stages)", stage_points(trial, valid))) is not None:
        out.append(f)
    return out
