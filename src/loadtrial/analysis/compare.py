"""Arm comparison on one metric: the run is the unit of evidence.

In: the `WindowSample`s of the valid runs of an arm and of the arm it is compared with
(`vs`). Out: a `Comparison` with result higher | lower | no_difference | inconclusive and
the numbers behind it.

Levels are the pooled figures (`estimate.pooled_value`: quantiles of the merged
histograms, the numbers the arms table shows). The difference is tested on the analysis
scale (log for latency, linear for rates) with a t-test over runs (Student's with equal
runs per arm, Welch's otherwise): each arm's variance is its runs' spread / runs (see
estimate.py). Seconds are never treated as independent samples.
With fewer than two valid runs in either arm nothing is decided: one run per arm cannot
tell a difference between arms from a difference between runs.
higher / lower: significant (the 95 % interval excludes 0) and the change at least the
tolerance. no_difference: the interval lies within ± tolerance. Otherwise inconclusive.
Tolerance = max(relative tolerance × the `vs` arm's level, an absolute floor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from loadtrial.analysis.estimate import ArmSpread, WindowSample, arm_spread, from_scale, to_scale
from loadtrial.findings import Effect
from loadtrial.units import format_ms

FloatArray = npt.NDArray[np.float64]
Result = Literal["higher", "lower", "no_difference", "inconclusive"]

ALPHA = 0.05
MIN_RUNS = 2
REL_TOLERANCE = {
    "p50": 0.10, "p90": 0.15, "p99": 0.20, "p999": 0.25, "error_rate": 0.20, "throughput": 0.05,
}  # fmt: skip
ABS_FLOOR = {
    "p50": 100.0, "p90": 100.0, "p99": 100.0, "p999": 100.0, "error_rate": 0.001,
    "throughput": 1.0,
}  # fmt: skip
UNITS = {
    "p50": "µs", "p90": "µs", "p99": "µs", "p999": "µs", "error_rate": "fraction",
    "throughput": "ok/s",
}  # fmt: skip
NAN = float("nan")


@dataclass(frozen=True)
class Comparison:
    """`arm` against `vs` on one metric; differences are arm − vs, in the metric's unit."""

    metric: str
    arm: str
    vs: str
    result: Result
    level_arm: float  # pooled figure of the arm (the arms table's number)
    level_vs: float
    difference: float  # level_arm − level_vs
    ci: tuple[float, float]  # 95 % interval of the difference (NaN: not estimable)
    p_value: float  # Welch's t over runs (NaN: fewer than two runs in an arm)
    df: float  # its degrees of freedom
    tolerance: float
    n_runs: tuple[int, int]
    reason: str
    request: str = ""  # the request name the figures are of ("": the whole run)

    @property
    def relative(self) -> float:
        """difference / level of vs (inf when vs is zero and the difference is not)."""
        if self.level_vs:
            return self.difference / abs(self.level_vs)
        return 0.0 if self.difference == 0 else math.copysign(math.inf, self.difference)

    @property
    def relative_ci(self) -> tuple[float, float]:
        """The interval relative to the level of vs."""
        if not self.level_vs:
            return (
                -math.inf if self.ci[0] < 0 else 0.0,
                math.inf if self.ci[1] > 0 else 0.0,
            )
        return (self.ci[0] / abs(self.level_vs), self.ci[1] / abs(self.level_vs))


@dataclass(frozen=True)
class _Test:
    p_value: float
    df: float
    ci: tuple[float, float]  # in the metric's unit, arm − vs


def t_test(metric: str, a: ArmSpread, b: ArmSpread, alpha: float = ALPHA) -> _Test:
    """Two-sample t over runs on the analysis scale between two arms' pooled values; the
    interval is returned in the metric's unit (arm − vs).

    Equal runs per arm (the usual `repeat`): Student's t with the pooled variance and
    n_a + n_b − 2 degrees of freedom, exact under equal spreads and, with equal counts,
    robust to unequal ones. Unequal counts (a run left out as invalid): Welch's t."""
    # imported here, not at the top: scipy's ~0.6 s of import CPU would otherwise land on
    # every `loadtrial load`, which never calls this
    from scipy import stats

    va, vb = a.variance_of_mean, b.variance_of_mean
    d = to_scale(metric, a.value) - to_scale(metric, b.value)
    if not all(math.isfinite(x) for x in (va, vb, d)):
        return _Test(NAN, NAN, (NAN, NAN))
    var = va + vb
    if var <= 0:  # every run of both arms gave the same figure: no spread to test against
        return _Test(1.0 if d == 0 else 0.0, math.inf, (a.value - b.value, a.value - b.value))
    if a.runs == b.runs:
        df = float(a.runs + b.runs - 2)
    else:
        terms = [v * v / (n - 1) for v, n in ((va, a.runs), (vb, b.runs)) if v > 0]
        df = var * var / sum(terms)
    se = math.sqrt(var)
    p = float(2 * stats.t.sf(abs(d) / se, df))
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    base = to_scale(metric, b.value)
    ci = (from_scale(metric, base + d - half), from_scale(metric, base + d + half))
    # every metric is ≥ 0, so arm − vs ≥ −level(vs): a linear interval is cut there
    return _Test(p, df, (max(ci[0] - b.value, -b.value), ci[1] - b.value))


def _decide(metric: str, diff: float, test: _Test, tol: float) -> tuple[Result, str]:
    """The result and its reason in words (the p value and interval are in `describe`)."""
    lo, hi = test.ci
    significant = test.p_value < ALPHA and (lo > 0 or hi < 0)
    t = format_change(metric, tol)
    if significant and diff >= tol:
        return "higher", f"significantly higher over runs, by more than the tolerance of {t}"
    if significant and diff <= -tol:
        return "lower", f"significantly lower over runs, by more than the tolerance of {t}"
    if -tol <= lo and hi <= tol:
        return "no_difference", f"the 95% interval of the difference lies within ±{t}"
    if not significant:
        return "inconclusive", f"not significant over runs, yet the interval reaches beyond ±{t}"
    return "inconclusive", f"significant, but the change may be smaller than the tolerance of {t}"


def _too_few(a: ArmSpread, b: ArmSpread, arm: str, vs: str) -> str:
    """Why a comparison cannot be decided from the runs ('' when it can)."""
    empty = [name for name, s in ((arm, a), (vs, b)) if s.runs == 0]
    if empty:
        return f"no valid run with data in arm {' and '.join(empty)}"
    single = [name for name, s in ((arm, a), (vs, b)) if s.runs < MIN_RUNS]
    if single:
        return (
            f"one valid run in arm {' and '.join(single)}: a difference between arms cannot "
            "be told from a difference between runs (set repeat: 3)"
        )
    return ""


def compare_arms(
    metric: str,
    arm: str,
    arm_runs: Sequence[WindowSample],
    vs: str,
    vs_runs: Sequence[WindowSample],
    *,
    seed: int = 0,
    rel_tolerance: float | None = None,
    request: str = "",
) -> Comparison:
    """Compare `arm` with `vs` on `metric` over their valid runs (see module doc); the
    samples are of one request when `request` names it (the label only: the caller
    gives that request's samples)."""
    rng = np.random.default_rng(seed)
    a, b = arm_spread(metric, arm_runs, rng), arm_spread(metric, vs_runs, rng)
    rel = REL_TOLERANCE.get(metric, 0.10) if rel_tolerance is None else rel_tolerance
    floor = ABS_FLOOR.get(metric, 0.0) if rel_tolerance is None else 0.0
    level_b = b.value if math.isfinite(b.value) else 0.0
    tol = max(rel * abs(level_b), floor)
    diff = a.value - b.value
    why_not = _too_few(a, b, arm, vs)
    if why_not:
        return Comparison(
            metric, arm, vs, "inconclusive", a.value, b.value, diff, (NAN, NAN), NAN, NAN,
            tol, (a.runs, b.runs), why_not, request,
        )  # fmt: skip
    test = t_test(metric, a, b)
    result, reason = _decide(metric, diff, test, tol)
    return Comparison(
        metric, arm, vs, result, a.value, b.value, diff, test.ci, test.p_value, test.df,
        tol, (a.runs, b.runs), reason, request,
    )  # fmt: skip


def format_level(metric: str, value: float) -> str:
    """A metric's value as a person reads it: 12.3ms, 4.20%, 98/s."""
    if not math.isfinite(value):
        return "n/a"
    if metric == "error_rate":
        return f"{value:.2%}"
    if metric == "throughput":
        return f"{value:.1f}/s"
    return format_ms(value)


def format_change(metric: str, value: float) -> str:
    """A difference in a metric's unit: 0.6s, 4.99 pp (error rate), 2.1/s."""
    if metric == "error_rate" and math.isfinite(value):
        return f"{value * 100:.2f} pp"
    return format_level(metric, value)


def describe(c: Comparison) -> str:
    """'p99 12ms vs 30ms (-60%, 95% CI -70%..-50%, p=0.001, 3+3 runs)'; without data on a
    side, 'p99: no valid runs to compare in arm X'; with one run, the levels alone."""
    empty = [a for a, v in ((c.arm, c.level_arm), (c.vs, c.level_vs)) if not math.isfinite(v)]
    metric = f"{c.request} {c.metric}" if c.request else c.metric
    if empty:
        return f"{metric}: no valid runs to compare in arm {' and '.join(empty)}"
    levels = f"{format_level(c.metric, c.level_arm)} vs {format_level(c.metric, c.level_vs)}"
    lo, hi = c.relative_ci
    runs = f"{c.n_runs[0]}+{c.n_runs[1]} runs"
    if not all(math.isfinite(x) for x in (c.relative, lo, hi, c.p_value)):
        change = f"{c.relative:+.0%}, " if math.isfinite(c.relative) else ""
        return f"{metric} {levels} ({change}{runs}: no test)"
    return (
        f"{metric} {levels} ({c.relative:+.0%}, 95% CI {lo:+.0%}..{hi:+.0%}, "
        f"p={c.p_value:.2g}, {runs})"
    )


def comparison_effect(c: Comparison) -> Effect:
    """The numbers of a comparison, as a comparison or a verdict finding carries them."""
    return Effect(
        metric=c.metric, unit=UNITS.get(c.metric, ""), arm=c.arm, vs=c.vs, request=c.request,
        level_arm=c.level_arm, level_vs=c.level_vs, difference=c.difference,
        relative=c.relative, ci=c.ci, relative_ci=c.relative_ci, p_value=c.p_value, df=c.df,
        tolerance=c.tolerance, n_runs=c.n_runs, test="t over runs",
    )  # fmt: skip
