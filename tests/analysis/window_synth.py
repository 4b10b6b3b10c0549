"""Synthetic runs with known truth, for calibrating the comparison (test helper).

A run: `n_seconds` seconds of `rate` requests each; latency lognormal around `median_ms`
× `scale`, with a per-run random effect (run-to-run spread, as between repetitions of a
real trial) and an AR(1) per-second level (autocorrelated seconds: slow drifts, bursts).
Errors are Bernoulli with a per-run rate. Out: `WindowSample`s, built sparse directly.
"""

from __future__ import annotations

import numpy as np

from loadtrial.analysis import hist
from loadtrial.analysis.estimate import WindowSample


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    out = np.zeros(n)
    noise = rng.normal(0.0, sd * np.sqrt(1 - phi * phi), n)
    out[0] = rng.normal(0.0, sd)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + noise[i]
    return out


def run_sample(
    rng: np.random.Generator,
    *,
    run_id: int = 0,
    n_seconds: int = 30,
    rate: int = 200,
    median_ms: float = 20.0,
    scale: float = 1.0,
    run_sd: float = 0.05,
    second_sd: float = 0.15,
    phi: float = 0.7,
    sigma: float = 0.5,
    error_p: float = 0.01,
) -> WindowSample:
    """One synthetic run (see the module docstring)."""
    level = np.log(median_ms * 1000.0 * scale) + rng.normal(0.0, run_sd)
    per_second = level + _ar1(rng, n_seconds, phi, second_sd)
    values = np.exp(per_second[:, None] + rng.normal(0.0, sigma, (n_seconds, rate)))
    idx = np.searchsorted(hist.highest_values(), values.ravel()).reshape(values.shape)
    cols, inverse = np.unique(idx, return_inverse=True)
    inverse = inverse.reshape(idx.shape)
    rows = np.zeros((n_seconds, cols.size), dtype=np.int64)
    for s in range(n_seconds):
        rows[s] = np.bincount(inverse[s], minlength=cols.size)
    p_run = float(np.clip(error_p * np.exp(rng.normal(0.0, run_sd * 4)), 0.0, 1.0))
    errors = rng.binomial(rate, p_run, n_seconds).astype(np.float64)
    completed = np.full(n_seconds, float(rate))
    return WindowSample(run_id, cols.astype(np.int64), rows, completed, errors, completed - errors)


def arm(rng: np.random.Generator, runs: int, **kw: float) -> list[WindowSample]:
    """`runs` synthetic runs of one arm, each from its own child generator (runs drawn in
    sequence from one generator came out correlated in their error counts)."""
    seeds = rng.integers(0, 2**63, size=runs)
    return [
        run_sample(np.random.default_rng(int(s)), run_id=i, **kw)  # type: ignore[arg-type]
        for i, s in enumerate(seeds)
    ]
