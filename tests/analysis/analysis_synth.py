"""Synthetic trials with planted answers, for the analysis tests.

Builds store records (RunData with IntervalStats whose histograms come from
`loadtrial.load.histogram.from_values_us`, Series, snapshots) from a few knobs, so every
test knows the answer it expects: when latency rose, which resource saturated, which fact
differs between arms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.spec.model import Trial
from loadtrial.store.model import Event, RunData, RunInfo, Series, TrialData, TrialInfo

SeriesFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class RunPlan:
    """Knobs of one synthetic run."""

    arm: str
    seconds: int = 40
    rate: float = 200.0
    warmup_s: float = 5.0
    latency_ms: float = 20.0  # median before the step
    step_at_s: int | None = None  # latency and errors change from this second on
    step_latency_ms: float = 400.0
    step_error_rate: float = 0.0
    level_sd: float = 0.0  # run-to-run spread of the latency level (log units)
    series: Mapping[str, tuple[str, float | None, SeriesFn]] = field(default_factory=dict)
    before: Mapping[str, str] = field(default_factory=dict)
    after: Mapping[str, str] | None = None
    status: str = "complete"
    send_lag_us: int = 0  # the generator's worst lateness in every second
    events: tuple[Event, ...] = ()


def _second(k: int, plan: RunPlan, rng: np.random.Generator, level: float) -> IntervalStats:
    stepped = plan.step_at_s is not None and k >= plan.step_at_s
    median_ms = plan.step_latency_ms if stepped else plan.latency_ms
    n = int(rng.poisson(plan.rate))
    lat_us = median_ms * 1000.0 * level * rng.lognormal(0.0, 0.35, n)
    err_p = plan.step_error_rate if stepped else 0.0
    n_err = int(rng.binomial(n, err_p)) if n else 0
    hist = histogram.encode(histogram.from_values_us(lat_us))
    return IntervalStats(
        second=k, offered=n, sent=n, completed=n, ok=n - n_err,
        errors={"http_502": n_err} if n_err else {}, latency_hist=hist, uncorrected_hist=hist,
        max_send_lag_us=plan.send_lag_us,
    )  # fmt: skip


def make_run(run_id: int, rep: int, plan: RunPlan, params: Mapping[str, Any], seed: int) -> RunData:
    """One synthetic run."""
    rng = np.random.default_rng(seed)
    level = float(np.exp(rng.normal(0.0, plan.level_sd))) if plan.level_sd else 1.0
    secs = tuple(_second(k, plan, rng, level) for k in range(plan.seconds))
    t = np.arange(plan.seconds, dtype=np.float64) + 0.5
    series = tuple(
        Series(name, unit, cap, t, np.asarray(fn(t, rng), dtype=np.float64))
        for name, (unit, cap, fn) in plan.series.items()
    )
    snaps = {
        "before": dict(plan.before),
        "after": dict(plan.after if plan.after is not None else plan.before),
    }
    info = RunInfo(run_id, 1, plan.arm, rep, run_id - 1, plan.status, dict(params), 0.0,
                   float(plan.seconds), plan.warmup_s)  # fmt: skip
    return RunData(info, secs, series, snaps, plan.events)


def make_trial_data(trial: Trial, plans: list[RunPlan], seed: int = 0) -> TrialData:
    """A TrialData whose runs follow `plans` in order (repetitions counted per arm)."""
    reps: dict[str, int] = {}
    runs = []
    for i, plan in enumerate(plans):
        reps[plan.arm] = reps.get(plan.arm, 0) + 1
        runs.append(make_run(i + 1, reps[plan.arm], plan, trial.arms.get(plan.arm, {}), seed + i))
    info = TrialInfo(1, trial.name, trial.hypothesis, 0.0, "trial.yaml", "", "", "complete")
    return TrialData(info, tuple(runs))


def trial_from(**overrides: Any) -> Trial:
    """A Trial with sensible defaults for tests, overridden by keyword."""
    doc: dict[str, Any] = {
        "name": "t",
        "target": {"base_url": "http://127.0.0.1:8080"},
        "load": {"model": "open", "warmup": "5s", "stages": [{"rate": 200, "duration": "40s"}]},
        "arms": {"a": {}, "b": {}},
        "slo": {"p99": "200ms", "error_rate": "1%"},
    }
    doc.update(overrides)
    return Trial.model_validate(doc)


def const(value: float, noise: float = 0.0) -> SeriesFn:
    """A series fixed at value (plus gaussian noise)."""
    return lambda t, rng: (
        value + rng.normal(0.0, noise, t.size) if noise else np.full(t.size, value)
    )


def step(before: float, after: float, at_s: float, noise: float = 0.0) -> SeriesFn:
    """A series that steps from `before` to `after` at `at_s`."""

    def fn(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        base = np.where(t >= at_s, after, before)
        return base + (rng.normal(0.0, noise, t.size) if noise else 0.0)

    return fn
