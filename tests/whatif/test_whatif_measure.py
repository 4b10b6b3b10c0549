"""The measurement rules of `whatif.measure` on small synthetic runs with planted answers.

The runs copy the shape of the app-cpu story's one-node arm on a quiet host (stored
2026-11-30): 48/s offered, the node's CPU pinned at ~93 %, 44 ok/s before the first
client timeout. A pinned node that serves 92 % of what arrives has fallen behind: its
backlog grows 4 requests a second and reaches the 5 s timeout within the window. The same
shortfall from a CPU that is not pinned is the host's doing, not the station's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loadtrial.analysis import hist
from loadtrial.analysis.runview import build_run_view
from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.store.model import RunData, RunInfo, Series, TrialData, TrialInfo
from loadtrial.whatif.measure import run_figures
from loadtrial.whatif.runstart import connect_s_of, starts_cold

RATE = 48
WARMUP_S = 5.0
SECONDS = 17  # the window: seconds 5..16


def _second(k: int, ok: int, errors: int, latency_ms: float = 40.0) -> IntervalStats:
    lat_us = np.full(max(1, ok), latency_ms * 1000.0)
    hist = histogram.encode(histogram.from_values_us(lat_us))
    return IntervalStats(
        second=k, offered=RATE, sent=RATE, completed=ok + errors, ok=ok,
        errors={"timeout": errors} if errors else {}, latency_hist=hist, uncorrected_hist=hist,
    )  # fmt: skip


def _run(
    ok_before: int,
    first_error_s: int | None,
    cpu_percent: float,
    *,
    host_percent: float | None = None,
    latency_ms: tuple[float, ...] = (),
) -> RunData:
    """A one-node run: `ok_before` ok/s until `first_error_s`, then 40 ok and 6 timeouts a
    second; the node's CPU at `cpu_percent` of its core throughout; a 2-core host at
    `host_percent` (of one core) when given; each second's latency `latency_ms[k]` (40 ms
    past the tuple's end)."""
    secs = []
    for k in range(SECONDS):
        erring = first_error_s is not None and k >= first_error_s
        lat = latency_ms[k] if k < len(latency_ms) else 40.0
        secs.append(_second(k, 40 if erring else ok_before, 6 if erring else 0, lat))
    t = np.arange(SECONDS, dtype=np.float64) + 0.5
    series = [Series("app.cpu.percent", "percent", None, t, np.full(SECONDS, cpu_percent))]
    if host_percent is not None:
        series.append(Series("host.cpu.percent", "percent", 200.0, t,
                             np.full(SECONDS, host_percent)))  # fmt: skip
    info = RunInfo(1, 1, "one-node", 1, 0, "complete", {"app_nodes": 1}, 0.0, float(SECONDS),
                   WARMUP_S)  # fmt: skip
    return RunData(info, tuple(secs), tuple(series), {"before": {"app.nodes": "1"}})


def test_a_node_serving_92_percent_of_arrivals_has_fallen_behind() -> None:
    # U / X would read 0.93 / 44.3 = 21 ms, and count the timeouts as served: X_max above 48/s
    run = _run(ok_before=44, first_error_s=8, cpu_percent=93.0)
    figs = run_figures(run, build_run_view(run))
    assert figs.app_capped
    # X_max = c / D is what the node served before the first error, below the offered rate
    assert abs(1.0 / figs.app_cpu_s - 44.0) < 0.5
    assert 1.0 / figs.app_cpu_s < RATE


@pytest.mark.parametrize(
    ("ok_before", "cpu_percent"),
    [
        (47, 93.0),  # 98 % of arrivals: counting noise, not a backlog
        (44, 70.0),  # 92 % with the CPU not pinned: the host held it back (db-cpu, 2 CPUs)
    ],
)
def test_a_station_short_of_its_backlog_is_not_taken_as_capped(
    ok_before: int, cpu_percent: float
) -> None:
    run = _run(ok_before=ok_before, first_error_s=None, cpu_percent=cpu_percent)
    figs = run_figures(run, build_run_view(run))
    assert not figs.app_capped
    assert abs(figs.app_cpu_s - cpu_percent / 100.0 / ok_before) < 1e-3  # D = U / X


def test_a_node_starved_far_below_arrivals_is_capped_without_a_pinned_cpu() -> None:
    # the busy host: 70 % of a core, 36 of 48 a second (75 %): X_max is what it served
    run = _run(ok_before=36, first_error_s=8, cpu_percent=70.0)
    figs = run_figures(run, build_run_view(run))
    assert figs.app_capped
    assert abs(1.0 / figs.app_cpu_s - 36.0) < 0.5


def test_a_node_the_shared_host_starved_keeps_its_own_demand() -> None:
    # the same 36 of 48 a second at 70 % of a core, with the 2-core host at 190 %: the host
    # held the node back, and the simulated host (shared cores) makes the shortfall itself
    run = _run(ok_before=36, first_error_s=8, cpu_percent=70.0, host_percent=190.0)
    figs = run_figures(run, build_run_view(run), shared_host=True)
    assert figs.host_held and not figs.app_capped
    assert figs.host_cores == 2.0
    view = build_run_view(run)
    completed = float(np.mean(view.in_window(view.completed)))
    assert abs(figs.app_cpu_s - 0.70 / completed) < 1e-3  # D = U / X
    # the rest of the host's work per arrival: (1.9 - 0.7) cores / 48 per second
    assert abs(figs.other_cpu_s - 1.2 / RATE) < 1e-3
    # a host the tiers do not share says nothing about them
    apart = run_figures(run, build_run_view(run), shared_host=False)
    assert apart.app_capped and apart.host_cores == 0.0 and apart.other_cpu_s == 0.0


def test_a_queue_that_began_in_the_ramp_is_not_the_unloaded_profile() -> None:
    # 26 ms in second 1, 30 in 2, then a queue (300 ms) from second 3: the analysis' onset
    # baseline (its first seconds) already queues; the profile keeps seconds 1-2 only
    slow = (26.0, 26.0, 30.0, *(300.0,) * 14)
    run = _run(ok_before=46, first_error_s=None, cpu_percent=93.0, latency_ms=slow)
    figs = run_figures(run, build_run_view(run))
    p99_ms = hist.quantiles(figs.profile_counts, [99.0])[99.0] / 1000.0
    assert int(figs.profile_counts.sum()) == 2 * 46
    assert p99_ms < 35.0


def _ramp_run(run_id: int, used_at_start: float) -> RunData:
    """db-cpu's baseline ramp (stored 2026-11-30): offered 8, 23, 38 then 46/s, served 8,
    22, 15, then 28/s; the pools' open connections `used_at_start`, 2, 2, then 20."""
    offered = [8, 23, 38] + [46] * 8
    served = [8, 22, 15] + [28] * 8
    secs = tuple(
        IntervalStats(second=k, offered=o, sent=o, completed=c, ok=c)
        for k, (o, c) in enumerate(zip(offered, served, strict=True))
    )
    t = np.arange(len(secs), dtype=np.float64) + 0.5
    used = np.asarray([used_at_start, 2, 2] + [20] * 8, dtype=np.float64)
    series = (Series("db.connections.used", "count", 97.0, t, used),)
    info = RunInfo(run_id, 1, "baseline", 1, 0, "complete", {}, 0.0, float(len(secs)), 3.0)
    return RunData(info, secs, series, {})


def test_a_cold_ramp_gives_each_new_connection_its_lost_db_time() -> None:
    run = _ramp_run(1, used_at_start=0)
    view = build_run_view(run)
    assert view.window.start_s == 3
    # behind by 69 - 45 = 24 before the window; the CPU (1 / 34.5 ms = 29/s) explains 9 of
    # them (second 2): 15 requests × 34.5 ms of db CPU lost over the 20 connections opened
    lost = 24 - (38 - 1 / 0.0345)
    assert connect_s_of(view, run.series[0], 0.0345, 1.0) == pytest.approx(lost * 0.0345 / 20)
    # warm pools opened nothing: nothing is charged to connections
    warm = _ramp_run(2, used_at_start=20)
    assert connect_s_of(build_run_view(warm), warm.series[0], 0.0345, 1.0) == 0.0


def test_a_trial_starts_cold_when_a_run_after_the_same_db_began_with_empty_pools() -> None:
    def trial(*runs: RunData) -> TrialData:
        return TrialData(TrialInfo(1, "t", "", 0.0, "", "", "", "complete"), runs)

    # db-cpu: the second run, on the same db as the first, began with no connection open
    assert starts_cold(trial(_ramp_run(1, 0), _ramp_run(2, 0)))
    # db-bottleneck: the first run on a fresh testbed began empty, the next one warm
    assert not starts_cold(trial(_ramp_run(1, 0), _ramp_run(2, 16)))
    assert not starts_cold(trial(_ramp_run(1, 0)))  # the first run says nothing
    # a run after a db resize began empty because of the resize: no evidence either way
    resized = dataclasses.replace(_ramp_run(2, 0), snapshots={"before": {"db.cpus": "2"}})
    assert not starts_cold(trial(_ramp_run(1, 0), resized))
