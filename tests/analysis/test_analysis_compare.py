"""Arm comparisons: planted effects found, A/A honest (false-positive rate measured)."""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

from loadtrial.analysis.compare import compare_runs


def _arm(rng: np.random.Generator, level: float, reps: int = 3, n: int = 60, sd: float = 0.10,
         rho: float = 0.5, run_sd: float = 0.02) -> list[np.ndarray]:  # fmt: skip
    """Per-second p99s of `reps` runs: AR(1) noise in log space and a run-level offset."""
    runs = []
    for _ in range(reps):
        e = np.zeros(n)
        x = 0.0
        for i in range(n):
            x = rho * x + rng.normal(0, sd)
            e[i] = x
        runs.append(level * np.exp(rng.normal(0, run_sd) + e))
    return runs


def test_aa_yields_no_difference_in_at_least_95_percent() -> None:
    results = Counter()
    for seed in range(120):
        rng = np.random.default_rng(seed)
        c = compare_runs("p99", "a", _arm(rng, 20_000), "b", _arm(rng, 20_000), seed=seed)
        results[c.result] += 1
    assert results["no_difference"] >= 0.95 * 120, results


def test_aa_with_strong_autocorrelation_rarely_claims_a_difference() -> None:
    wrong = 0
    for seed in range(120):
        rng = np.random.default_rng(10_000 + seed)
        kw = {"sd": 0.12, "rho": 0.8, "run_sd": 0.05}
        c = compare_runs(
            "p99", "a", _arm(rng, 20_000, **kw), "b", _arm(rng, 20_000, **kw), seed=seed
        )
        wrong += c.result in ("higher", "lower")
    assert wrong <= 6  # ≤ 5 %: the repetition bootstrap keeps the test honest


def test_planted_effect_is_found_with_its_numbers() -> None:
    rng = np.random.default_rng(5)
    c = compare_runs("p99", "big", _arm(rng, 10_000), "small", _arm(rng, 20_000))
    assert c.result == "lower"
    assert -0.6 < c.relative < -0.4
    assert c.relative_ci[0] < c.relative < c.relative_ci[1]
    assert c.hl_ci[0] <= c.hl_shift <= c.hl_ci[1] < 0
    assert c.p_value < 0.01 and c.n_runs == (3, 3)


def test_error_rates_all_zero_are_no_difference() -> None:
    zeros = [np.zeros(30)] * 3
    assert compare_runs("error_rate", "a", zeros, "b", zeros).result == "no_difference"


def test_no_data_is_inconclusive() -> None:
    c = compare_runs("p99", "a", [], "b", [np.ones(10)])
    assert c.result == "inconclusive" and "no measured seconds" in c.reason


def test_the_reason_states_the_tolerance_in_the_metric_unit() -> None:
    rng = np.random.default_rng(5)
    high = [np.clip(rng.normal(0.40, 0.03, 20), 0, 1) for _ in range(2)]
    low = [np.clip(rng.normal(0.25, 0.03, 20), 0, 1) for _ in range(2)]
    c = compare_runs("error_rate", "more", high, "base", low)
    assert c.result == "higher"
    pp = f"{c.tolerance * 100:.2f} pp"
    assert c.reason == f"significantly higher, by more than the tolerance of {pp}", c.reason
    slow = compare_runs("p99", "big", _arm(rng, 30_000), "small", _arm(rng, 20_000))
    assert slow.result == "higher", slow.reason
    assert re.fullmatch(
        r"significantly higher, by more than the tolerance of \d\.\d\dms", slow.reason
    )
