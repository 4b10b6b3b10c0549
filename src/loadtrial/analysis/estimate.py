"""Figures of runs and arms with their uncertainty: the one source of every quoted number.

In: `WindowSample`s (one per valid run: the analysed window's per-second latency
histograms and counts). Out: a metric's value for a run or pooled over an arm, and the
standard error of an arm's value on the metric's analysis scale.

Metrics: p50, p90, p99, p99.9 (µs: quantiles of the *merged* HDR histogram of the
windows, so every request counts, stalls included), error_rate (errors / completed) and
throughput (ok responses per second). The arms table, the SLO, the comparisons and the
claims all quote `pooled_value`: one number everywhere.

Uncertainty (docs/analysis.md, "Comparison"): seconds of a run are autocorrelated and runs
differ from each other, so the unit of evidence is the run. An arm's standard error is the
spread of its runs' own values (on the analysis scale: log for latency, linear for rates)
divided by √runs (a run's own value already carries its sampling noise, so the spread of
runs measures both). When runs agree exactly (no errors in any run), the runs' own
sampling noise stands in, measured by a moving-block bootstrap of each run's per-second
*histograms* (blocks of contiguous seconds keep stalls and drift together; per-second
quantiles are never resampled). With one run there is no run-to-run spread: the
variance is NaN and nothing is decided from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loadtrial.analysis import hist

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LATENCY_PERCENTS = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}
METRICS = (*LATENCY_PERCENTS, "error_rate", "throughput")
N_BOOT = 200  # within-run replicates: only a floor for the standard error, not the test
MIN_BLOCK_S = 5


@dataclass(frozen=True, eq=False)  # arrays inside: identity, not element-wise equality
class WindowSample:
    """One run's analysed window, as estimation needs it (index = second in the window).

    `cols` are the HDR count indices that are non-zero somewhere in the window (sorted);
    `rows` the per-second counts at those indices (seconds × len(cols)).
    """

    run_id: int
    cols: IntArray
    rows: IntArray
    completed: FloatArray
    errors: FloatArray
    ok: FloatArray

    @property
    def n_seconds(self) -> int:
        """Seconds in the window."""
        return int(self.completed.size)


def window_sample(
    run_id: int, matrix: IntArray, completed: FloatArray, errors: FloatArray, ok: FloatArray
) -> WindowSample:
    """A WindowSample from dense per-second counts (seconds × HDR counts) of a window."""
    m = np.asarray(matrix, dtype=np.int64)
    cols = np.flatnonzero(m.sum(axis=0)) if m.size else np.zeros(0, dtype=np.int64)
    return WindowSample(
        run_id,
        cols.astype(np.int64),
        m[:, cols] if m.size else np.zeros((len(completed), 0), dtype=np.int64),
        np.asarray(completed, dtype=np.float64),
        np.asarray(errors, dtype=np.float64),
        np.asarray(ok, dtype=np.float64),
    )


def is_latency(metric: str) -> bool:
    """Whether the metric is a latency quantile (analysed on the log scale)."""
    return metric in LATENCY_PERCENTS


def to_scale(metric: str, value: float) -> float:
    """The analysis scale: log for latency (changes are multiplicative), else linear."""
    if is_latency(metric):
        return math.log(value) if value > 0 else float("nan")
    return value


def from_scale(metric: str, value: float) -> float:
    """Inverse of `to_scale`."""
    return math.exp(value) if is_latency(metric) else value


def _quantile(cols: IntArray, counts: npt.NDArray[np.int64], percent: float) -> FloatArray:
    """Quantiles (µs) of count vectors at `cols` (shape: replicates × len(cols)); the same
    rule as `hist.quantiles` on the full histogram (so pooled figures agree exactly)."""
    c = np.atleast_2d(counts)
    cum = np.cumsum(c, axis=1)
    total = cum[:, -1] if c.shape[1] else np.zeros(c.shape[0], dtype=np.int64)
    target = np.maximum(np.floor(percent * total / 100.0 + 0.5), 1).astype(np.int64)
    idx = (cum < target[:, None]).sum(axis=1) if c.shape[1] else np.zeros(0, dtype=np.int64)
    highest = hist.highest_values()
    out = np.full(c.shape[0], np.nan)
    if cols.size:
        ok = total > 0
        out[ok] = highest[cols[np.minimum(idx[ok], cols.size - 1)]]
    return out


def _statistic(metric: str, s: WindowSample, row_sums: npt.NDArray[np.float64]) -> FloatArray:
    """The metric of replicate sums. row_sums: replicates × (len(cols) + 3) where the last
    three columns are completed, errors and ok; each replicate spans `s.n_seconds`."""
    k = s.cols.size
    if is_latency(metric):
        return _quantile(s.cols, row_sums[:, :k].astype(np.int64), LATENCY_PERCENTS[metric])
    completed, errors, ok = row_sums[:, k], row_sums[:, k + 1], row_sums[:, k + 2]
    if metric == "error_rate":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(completed > 0, errors / completed, np.nan)
    return ok / max(s.n_seconds, 1)


def _rows(s: WindowSample) -> npt.NDArray[np.float64]:
    """Per-second rows: latency counts, then completed, errors, ok."""
    extra = np.column_stack([s.completed, s.errors, s.ok])
    return np.hstack([s.rows.astype(np.float64), extra])


def run_value(metric: str, s: WindowSample) -> float:
    """The metric over one run's whole window (NaN when nothing to measure)."""
    if not s.n_seconds:
        return float("nan")
    return float(_statistic(metric, s, _rows(s).sum(axis=0)[None, :])[0])


def pooled_value(metric: str, samples: Sequence[WindowSample]) -> float:
    """The metric over the merged windows of several runs (sums, never averages)."""
    samples = [s for s in samples if s.n_seconds]
    if not samples:
        return float("nan")
    if is_latency(metric):
        cols = np.unique(np.concatenate([s.cols for s in samples]))
        counts = np.zeros(cols.size, dtype=np.int64)
        for s in samples:
            counts[np.searchsorted(cols, s.cols)] += s.rows.sum(axis=0)
        return float(_quantile(cols, counts[None, :], LATENCY_PERCENTS[metric])[0])
    completed = sum(float(s.completed.sum()) for s in samples)
    errors = sum(float(s.errors.sum()) for s in samples)
    ok = sum(float(s.ok.sum()) for s in samples)
    if metric == "error_rate":
        return errors / completed if completed else float("nan")
    return ok / sum(s.n_seconds for s in samples)


def block_length(n_seconds: int) -> int:
    """Moving-block length: at least 5 s, growing as √n so longer runs keep longer
    stretches (a 2 s stall every 10 s stays inside most blocks of a 60 s run)."""
    return int(min(n_seconds, max(MIN_BLOCK_S, math.ceil(math.sqrt(n_seconds)))))


def within_run_variance(
    metric: str, s: WindowSample, rng: np.random.Generator, n_boot: int = N_BOOT
) -> float:
    """Variance, on the analysis scale, of a run's value under a moving-block bootstrap of
    its per-second histograms and counts (NaN when the run has too little to resample)."""
    n = s.n_seconds
    if n < 2:
        return float("nan")
    b = block_length(n)
    rows = _rows(s)
    csum = np.vstack([np.zeros((1, rows.shape[1])), np.cumsum(rows, axis=0)])
    blocks = csum[b:] - csum[:-b]  # sum of every block of b contiguous seconds
    per_rep = math.ceil(n / b)
    picks = rng.integers(0, blocks.shape[0], size=(n_boot, per_rep))
    sums = blocks[picks].sum(axis=1) * (n / (per_rep * b))  # rescale to n seconds
    if is_latency(metric):  # counts stay integers for the quantile walk
        sums[:, : s.cols.size] = np.round(sums[:, : s.cols.size])
    values = _statistic(metric, s, sums)
    scaled = np.log(values) if is_latency(metric) else values
    scaled = scaled[np.isfinite(scaled)]
    return float(np.var(scaled, ddof=1)) if scaled.size > 1 else float("nan")


@dataclass(frozen=True)
class ArmSpread:
    """An arm's value and its uncertainty on the analysis scale."""

    metric: str
    value: float  # pooled, in the metric's unit
    runs: int  # runs with a finite value
    between_var: float  # sample variance of the runs' values (analysis scale); NaN if < 2
    within_var: float  # mean within-run bootstrap variance (analysis scale); the fallback

    @property
    def variance_of_mean(self) -> float:
        """Variance of the arm's value: the runs' spread / runs (NaN with fewer than two
        runs: no run-to-run evidence). Runs that agree exactly (a spread of 0, as with no
        errors at all) fall back to their own sampling noise, so a difference is never
        tested against zero variance."""
        if self.runs < 2 or not math.isfinite(self.between_var):
            return float("nan")
        if self.between_var > 0 or not math.isfinite(self.within_var):
            return self.between_var / self.runs
        return self.within_var / self.runs


def arm_spread(metric: str, samples: Sequence[WindowSample], rng: np.random.Generator) -> ArmSpread:
    """Pooled value, run-to-run variance and within-run variance of one arm's runs."""
    samples = [s for s in samples if s.n_seconds]
    scaled = [to_scale(metric, run_value(metric, s)) for s in samples]
    finite = [v for v in scaled if math.isfinite(v)]
    between = float(np.var(finite, ddof=1)) if len(finite) > 1 else float("nan")
    within = float("nan")
    if between == 0:  # only then is the runs' own noise needed (see variance_of_mean)
        found = [within_run_variance(metric, s, rng) for s in samples]
        found = [w for w in found if math.isfinite(w)]
        within = float(np.mean(found)) if found else float("nan")
    return ArmSpread(metric, pooled_value(metric, samples), len(finite), between, within)


@dataclass(frozen=True)
class Interval:
    """A pooled figure with its 95 % interval (NaN bounds: not estimable)."""

    value: float
    low: float
    high: float
    method: str


def arm_interval(
    metric: str, samples: Sequence[WindowSample], seed: int = 0, alpha: float = 0.05
) -> Interval:
    """An arm's pooled figure with its 95 % interval, on the metric's analysis scale:
    t over runs with two or more runs; with one run, the run's own block-bootstrap noise
    only (the method says so: run-to-run spread is not in it)."""
    # imported here, not at the top: scipy's ~0.6 s of import CPU would otherwise land on
    # every `loadtrial load`, which never calls this
    from scipy import stats

    rng = np.random.default_rng(seed)
    spread = arm_spread(metric, samples, rng)
    centre = to_scale(metric, spread.value)
    if spread.runs >= 2:
        var = spread.variance_of_mean
        crit = float(stats.t.ppf(1 - alpha / 2, spread.runs - 1))
        method = f"t over {spread.runs} runs"
    else:
        live = [s for s in samples if s.n_seconds]
        var = within_run_variance(metric, live[0], rng) if live else float("nan")
        crit = float(stats.norm.ppf(1 - alpha / 2))
        method = "within one run (block bootstrap; run-to-run spread not measured)"
    if not (math.isfinite(var) and math.isfinite(centre)):
        return Interval(spread.value, float("nan"), float("nan"), method)
    half = crit * math.sqrt(var)
    low, high = from_scale(metric, centre - half), from_scale(metric, centre + half)
    if not is_latency(metric):
        low = max(low, 0.0)  # rates are never negative
    return Interval(spread.value, low, high, method)
