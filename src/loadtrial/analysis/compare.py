"""Arm comparison on one metric: Mann-Whitney, Hodges-Lehmann shift, repetition bootstrap.

In: per-second values of the steady windows, one array per run, for an arm and the arm it
is compared with (`vs`). Out: a `Comparison` with result higher | lower | no_difference |
inconclusive and the numbers behind it.

Per-second values are autocorrelated and runs differ from each other, so a per-second
test alone is over-confident. The decision therefore needs two witnesses:
1. Mann-Whitney U on the pooled seconds (p < alpha), with the Hodges-Lehmann shift and its
   distribution-free confidence interval reported, as in Kayenta's judge;
2. a seeded hierarchical bootstrap: runs resampled with replacement, then blocks of
   seconds within each run (moving blocks keep the autocorrelation), giving a confidence
   interval of the difference of the metric's statistic (median for latency, mean for
   error rate and throughput) that is honest about run-to-run variation.
higher / lower: both witnesses agree and the estimated change is at least the tolerance.
no_difference: the bootstrap interval lies within ± tolerance. Otherwise inconclusive.
Tolerance = max(relative tolerance × the `vs` arm's level, an absolute floor).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

from loadtrial.units import format_ms

FloatArray = npt.NDArray[np.float64]
Result = Literal["higher", "lower", "no_difference", "inconclusive"]

ALPHA = 0.05
N_BOOT = 1000
BLOCK_S = 5
MAX_PAIRS = 250_000  # Hodges-Lehmann on a seeded subsample beyond this many pairs
REL_TOLERANCE = {"p50": 0.10, "p90": 0.15, "p99": 0.20, "error_rate": 0.20, "throughput": 0.05}
ABS_FLOOR = {"p50": 100.0, "p90": 100.0, "p99": 100.0, "error_rate": 0.001, "throughput": 1.0}
UNITS = {"p50": "µs", "p90": "µs", "p99": "µs", "error_rate": "fraction", "throughput": "ok/s"}


@dataclass(frozen=True)
class Comparison:
    """`arm` against `vs` on one metric; differences are arm − vs, in the metric's unit."""

    metric: str
    arm: str
    vs: str
    result: Result
    level_arm: float
    level_vs: float
    difference: float  # statistic(arm) − statistic(vs)
    boot_ci: tuple[float, float]
    hl_shift: float
    hl_ci: tuple[float, float]
    p_value: float
    tolerance: float
    n_seconds: tuple[int, int]
    n_runs: tuple[int, int]
    reason: str

    @property
    def relative(self) -> float:
        """difference / level of vs (inf when vs is zero and the difference is not)."""
        if self.level_vs:
            return self.difference / abs(self.level_vs)
        return 0.0 if self.difference == 0 else math.copysign(math.inf, self.difference)

    @property
    def relative_ci(self) -> tuple[float, float]:
        """The bootstrap interval relative to the level of vs."""
        if not self.level_vs:
            return (
                -math.inf if self.boot_ci[0] < 0 else 0.0,
                math.inf if self.boot_ci[1] > 0 else 0.0,
            )
        return (self.boot_ci[0] / abs(self.level_vs), self.boot_ci[1] / abs(self.level_vs))


def _statistic(metric: str) -> str:
    return "median" if metric.startswith("p") else "mean"


def _stat(values: FloatArray, how: str, axis: int | None = None) -> FloatArray:
    out = np.median(values, axis=axis) if how == "median" else np.mean(values, axis=axis)
    return np.asarray(out, dtype=np.float64)


def boot_statistic(
    runs: Sequence[FloatArray], how: str, rng: np.random.Generator, n_boot: int = N_BOOT
) -> FloatArray:
    """Bootstrap replicates of the statistic: runs with replacement, then moving blocks."""
    runs = [np.asarray(r, dtype=np.float64) for r in runs if len(r)]
    lengths = np.array([r.size for r in runs])
    block = int(max(1, min(BLOCK_S, lengths.min())))
    per_slot = math.ceil(lengths.mean() / block)
    pad = np.zeros((len(runs), int(lengths.max())))
    for i, r in enumerate(runs):
        pad[i, : r.size] = r
    pick = rng.integers(0, len(runs), size=(n_boot, len(runs)))
    room = (lengths[pick] - block + 1)[..., None]
    starts = (rng.random((n_boot, len(runs), per_slot)) * room).astype(np.int64)
    idx = starts[..., None] + np.arange(block)
    values = pad[pick[..., None, None], idx].reshape(n_boot, -1)
    reps = np.asarray(_stat(values, how, axis=1), dtype=np.float64)
    if len(runs) > 1:  # resampling r runs shrinks their variance by (r - 1) / r; undo it
        centre = float(np.mean(reps))
        reps = centre + (reps - centre) * math.sqrt(len(runs) / (len(runs) - 1))
    return reps


def hodges_lehmann(
    a: FloatArray, b: FloatArray, rng: np.random.Generator, alpha: float = ALPHA
) -> tuple[float, tuple[float, float]]:
    """Median of pairwise differences a − b and its distribution-free (1 − alpha) interval."""
    while a.size * b.size > MAX_PAIRS:
        a = rng.choice(a, size=max(1, a.size // 2), replace=False) if a.size >= b.size else a
        b = rng.choice(b, size=max(1, b.size // 2), replace=False) if b.size > a.size else b
    diffs = np.sort(np.subtract.outer(a, b).ravel())
    n, m = a.size, b.size
    z = stats.norm.ppf(1 - alpha / 2)
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12.0))
    k = min(max(k, 0), diffs.size - 1)
    return float(np.median(diffs)), (float(diffs[k]), float(diffs[diffs.size - 1 - k]))


def _mann_whitney(a: FloatArray, b: FloatArray) -> float:
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _decide(
    metric: str, diff: float, ci: tuple[float, float], p: float, tol: float
) -> tuple[Result, str]:
    """The result and its reason in words (the p value and interval are in `describe`)."""
    both_agree = p < ALPHA and (ci[0] > 0 or ci[1] < 0)
    t = format_change(metric, tol)
    if both_agree and diff >= tol:
        return "higher", f"significantly higher, by more than the tolerance of {t}"
    if both_agree and diff <= -tol:
        return "lower", f"significantly lower, by more than the tolerance of {t}"
    if -tol <= ci[0] and ci[1] <= tol:
        return "no_difference", f"the 95% interval of the difference lies within ±{t}"
    if not both_agree:
        return "inconclusive", f"not significant, yet the interval reaches beyond ±{t}"
    return "inconclusive", f"significant, but the change may be smaller than the tolerance of {t}"


def compare_runs(
    metric: str,
    arm: str,
    arm_runs: Sequence[FloatArray],
    vs: str,
    vs_runs: Sequence[FloatArray],
    *,
    seed: int = 0,
    rel_tolerance: float | None = None,
) -> Comparison:
    """Compare per-second values of `arm` with those of `vs` on `metric` (see module doc)."""
    a_runs = [np.asarray(r, dtype=np.float64) for r in arm_runs if len(r)]
    b_runs = [np.asarray(r, dtype=np.float64) for r in vs_runs if len(r)]
    how = _statistic(metric)
    if not a_runs or not b_runs:
        nan = float("nan")
        return Comparison(
            metric,
            arm,
            vs,
            "inconclusive",
            nan,
            nan,
            nan,
            (nan, nan),
            nan,
            (nan, nan),
            nan,
            nan,
            (0, 0),
            (len(a_runs), len(b_runs)),
            "no measured seconds in one of the arms",
        )
    a, b = np.concatenate(a_runs), np.concatenate(b_runs)
    rng = np.random.default_rng(seed)
    level_a, level_b = float(_stat(a, how)), float(_stat(b, how))
    boots = boot_statistic(a_runs, how, rng) - boot_statistic(b_runs, how, rng)
    # every metric is ≥ 0, so arm − vs ≥ −level(vs); the variance correction can overshoot
    ci = (max(float(np.percentile(boots, 2.5)), -level_b), float(np.percentile(boots, 97.5)))
    hl, hl_ci = hodges_lehmann(a, b, rng)
    p = _mann_whitney(a, b)
    rel = REL_TOLERANCE.get(metric, 0.10) if rel_tolerance is None else rel_tolerance
    tol = max(rel * abs(level_b), ABS_FLOOR.get(metric, 0.0))
    result, reason = _decide(metric, level_a - level_b, ci, p, tol)
    if min(len(a_runs), len(b_runs)) < 2:
        reason += "; one run in an arm: run-to-run variation is not measured (use repeat ≥ 2)"
    return Comparison(
        metric,
        arm,
        vs,
        result,
        level_a,
        level_b,
        level_a - level_b,
        ci,
        hl,
        hl_ci,
        p,
        tol,
        (a.size, b.size),
        (len(a_runs), len(b_runs)),
        reason,
    )


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
    """'p99 12ms vs 30ms (-60%, 95% CI -70%..-50%, p=0.001)'; without data on a side,
    'p99: no valid runs to compare in arm X'."""
    empty = [a for a, v in ((c.arm, c.level_arm), (c.vs, c.level_vs)) if not math.isfinite(v)]
    if empty:
        return f"{c.metric}: no valid runs to compare in arm {' and '.join(empty)}"
    lo, hi = c.relative_ci
    if not all(math.isfinite(x) for x in (c.relative, lo, hi, c.p_value)):
        levels = f"{format_level(c.metric, c.level_arm)} vs {format_level(c.metric, c.level_vs)}"
        return f"{c.metric} {levels} (too few seconds for a test)"
    return (
        f"{c.metric} {format_level(c.metric, c.level_arm)} vs {format_level(c.metric, c.level_vs)}"
        f" ({c.relative:+.0%}, 95% CI {lo:+.0%}..{hi:+.0%}, p={c.p_value:.2g})"
    )


def comparison_evidence(c: Comparison) -> dict[str, object]:
    """The JSON-able numbers of a comparison."""
    return {
        "metric": c.metric,
        "unit": UNITS.get(c.metric, ""),
        "arm": c.arm,
        "vs": c.vs,
        "level_arm": c.level_arm,
        "level_vs": c.level_vs,
        "difference": c.difference,
        "relative": c.relative,
        "boot_ci": list(c.boot_ci),
        "relative_ci": list(c.relative_ci),
        "hl_shift": c.hl_shift,
        "hl_ci": list(c.hl_ci),
        "p_value": c.p_value,
        "tolerance": c.tolerance,
        "n_seconds": list(c.n_seconds),
        "n_runs": list(c.n_runs),
        "statistic": _statistic(c.metric),
        "reason": c.reason,
    }
