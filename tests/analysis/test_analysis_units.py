"""Windows, onsets, HDR counts and USL: pure functions against known answers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from loadtrial.analysis import hist
from loadtrial.analysis.scalability import fit_usl, usl
from loadtrial.analysis.windows import onset, stage_windows, steady_window
from loadtrial.errors import UserError
from loadtrial.load import histogram


def test_steady_window_leaves_out_warmup_and_ramp() -> None:
    rng = np.random.default_rng(1)
    offered = np.concatenate([np.linspace(10, 600, 20), np.full(60, 600.0), [120.0]])
    offered = rng.poisson(offered).astype(float)
    w = steady_window(offered, warmup_s=5)
    assert 17 <= w.start_s <= 20  # the ramp ends at second 19
    assert w.end_s == 80  # the partly recorded last second is dropped


def test_closed_model_window_is_everything_after_warmup() -> None:
    offered = np.concatenate([np.full(20, 300.0), np.full(20, 50.0)])  # a slowdown, not a ramp
    assert (
        steady_window(offered, 4, closed=True).start_s,
        steady_window(offered, 4, closed=True).end_s,
    ) == (4, 40)


def test_stage_windows_skip_settling() -> None:
    wins = stage_windows([10, 10, 10], [1, 2, 4], warmup_s=0, n_seconds=30)
    assert [(lvl, w.start_s, w.end_s) for lvl, w in wins] == [(1, 2, 10), (2, 12, 20), (4, 22, 30)]


@pytest.mark.parametrize("step_at", [18, 30, 45])
def test_onset_finds_a_planted_step(step_at: int) -> None:
    rng = np.random.default_rng(step_at)
    p99 = 20_000 * rng.lognormal(0, 0.1, 60)
    p99[step_at:] *= 3
    found = onset(p99, 5, log_scale=True, sd_floor=0.05, min_shift=0.25)
    assert found is not None and step_at - 1 <= found <= step_at + 1


def test_onset_is_none_without_a_change() -> None:
    for seed in range(20):
        p99 = 20_000 * np.random.default_rng(seed).lognormal(0, 0.15, 60)
        assert onset(p99, 5, log_scale=True, sd_floor=0.05, min_shift=0.25) is None


def test_onset_of_errors_from_zero() -> None:
    rate = np.zeros(60)
    rate[33:] = 0.04
    assert onset(rate, 5, log_scale=False, sd_floor=0.005) == 33


def test_hist_quantiles_equal_hdrh_on_merged_histograms() -> None:
    rng = np.random.default_rng(7)
    parts = [histogram.encode(histogram.from_values_us(rng.lognormal(9, 1, 500))) for _ in range(5)]
    merged = histogram.quantiles_us(histogram.merge(parts), [50, 99, 99.9, 100])
    counts = hist.merge_counts(hist.counts_matrix(parts))
    assert hist.quantiles(counts, [50, 99, 99.9, 100]) == {p: float(v) for p, v in merged.items()}
    assert math.isnan(hist.quantiles(hist.counts_of(b""), [99])[99])


N = np.repeat([1, 2, 4, 8, 16, 32, 48, 64], 3).astype(float)


@pytest.mark.parametrize(("sigma", "kappa", "lam"), [(0.05, 0.0005, 100.0), (0.02, 0.002, 900.0)])
def test_usl_recovers_known_parameters(sigma: float, kappa: float, lam: float) -> None:
    y = usl(N, sigma, kappa, lam) * (1 + np.random.default_rng(3).normal(0, 0.01, N.size))
    fit = fit_usl(N, y)
    assert fit.sigma == pytest.approx(sigma, rel=0.15)
    assert fit.kappa == pytest.approx(kappa, rel=0.15)
    assert fit.lam == pytest.approx(lam, rel=0.05)
    assert fit.r2 > 0.99 and fit.sigma_se > 0
    assert fit.peak_n == pytest.approx(math.sqrt((1 - sigma) / kappa), rel=0.15)


def test_usl_kappa_zero_on_its_bound() -> None:
    exact = fit_usl(N, usl(N, 0.1, 0.0, 50.0))
    assert exact.kappa == 0.0 and math.isinf(exact.peak_n) and exact.as_dict()["peak_n"] is None
    assert exact.peak_throughput == pytest.approx(50.0 / 0.1, rel=1e-3)  # the asymptote λ/σ
    y = usl(N, 0.1, 0.0, 50.0) * (1 + np.random.default_rng(4).normal(0, 0.005, N.size))
    noisy = fit_usl(N, y)
    assert noisy.kappa <= 2 * noisy.kappa_se  # indistinguishable from its bound
    assert noisy.sigma == pytest.approx(0.1, rel=0.1)


def test_usl_needs_three_levels() -> None:
    with pytest.raises(UserError):
        fit_usl([1, 1, 2, 2], [10, 10, 19, 19])


def test_error_total_of_a_rate_gives_back_the_counter_and_reads_as_a_count() -> None:
    from loadtrial.analysis.saturation import count_text, error_total, resource_use
    from loadtrial.analysis.saturation import saturation_findings as sat_findings
    from loadtrial.analysis.windows import Window
    from loadtrial.store.model import Series

    rng = np.random.default_rng(3)
    t = np.arange(1, 23) + rng.uniform(0.0, 0.003, 22)  # sampling ticks jitter by ms
    counter = np.concatenate([[0], np.cumsum(rng.integers(0, 25, 21))]).astype(float)
    rate = np.diff(counter, prepend=0.0) / np.diff(t, prepend=t[0] - 1.0)  # as observers do
    assert error_total(t, rate, "per_s") == pytest.approx(counter[-1], abs=1e-6)
    assert float(np.sum(rate)) != pytest.approx(counter[-1], abs=1e-3)  # the old, off total
    assert error_total(t, counter, "count") == counter[-1]
    assert (count_text(241.995), count_text(1234.4), count_text(2.5)) == ("242", "1,234", "2.5")
    s = Series("lb.errors_5xx", "per_s", None, t, rate)
    use = resource_use(s, Window(0, 22, "steady"), 23)
    assert use is not None
    (f,) = sat_findings([use], "a", 1)
    assert f.summary.endswith(f"(total {counter[-1]:,.0f})"), f.summary


def _call_with(**ev: Any) -> str:
    """The sentence of a call with these figures (the rest as a ramp into saturation)."""
    from loadtrial.analysis.bottleneck import Call, RunFigures, _sentence
    from loadtrial.findings import Limit

    base = {"saturated_at_s": 20.0, "peak_util": 1.0, "capacity": 17.0, "demand": {},
            "onset_s": 20, "latency_onset_s": 20, "error_onset_s": 36,
            "offered_per_s": 32.4, "steady_offered_per_s": 90.0, **ev}  # fmt: skip
    runs, agree = base.pop("runs", 1), base.pop("agree", 1)
    unit = base.pop("unit", "")
    limit = Limit("db.connections.active", base["saturated_at_s"], base["peak_util"],
                  base["capacity"], unit, 0.9, 3.0, base["offered_per_s"])  # fmt: skip
    figures = RunFigures(base["onset_s"], base["latency_onset_s"], base["error_onset_s"], 30.0,
                         base["steady_offered_per_s"], {}, base["demand"], "", {})  # fmt: skip
    call = Call(1, "baseline", "db.connections.active", "db", figures, limit)
    return _sentence(call, limit, runs, agree)


def test_a_ramp_names_the_rate_where_the_resource_saturated() -> None:
    text = _call_with()
    assert text == (
        "db connections limited throughput in arm baseline: db.connections.active at 100% "
        "of 17 from t=20s at 32/s offered, when latency rose (errors from t=36s)."
    )
    full_from_the_start = _call_with(saturated_at_s=0.0, onset_s=None, runs=2, agree=1)
    assert (
        "offered" not in full_from_the_start and "(saturated in 1 of 2 runs)" in full_from_the_start
    )
    at_steady_level = _call_with(offered_per_s=88.0)
    assert "offered" not in at_steady_level
    late = _call_with(onset_s=4, latency_onset_s=4, error_onset_s=4)
    assert "offered" not in late and late.endswith("from t=20s; latency/errors rose at t=4s.")


def test_a_ratio_or_percentage_is_not_quoted_against_its_scale() -> None:
    from loadtrial.analysis.saturation import resource_use, saturation_findings
    from loadtrial.analysis.windows import Window
    from loadtrial.store.model import Series

    t = np.arange(20, dtype=float)
    cpu = Series("app.cpu.util", "ratio", 1.0, t, np.full(20, 0.97))
    conns = Series("db.connections.used", "count", 17.0, t, np.full(20, 17.0))
    texts = {}
    for s in (cpu, conns):
        use = resource_use(s, Window(0, 20, "steady"), 20)
        assert use is not None
        texts[s.name] = saturation_findings([use], "a", 1)[0].summary
    assert texts["app.cpu.util"].startswith("app.cpu.util saturated from t=0s: peak 97%, ")
    assert "peak 100% of 17, " in texts["db.connections.used"]
    ratio = _call_with(unit="ratio", capacity=1.0)
    assert "db.connections.active at 100% from t=20s" in ratio
