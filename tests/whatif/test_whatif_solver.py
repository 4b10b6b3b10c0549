"""The simulator against closed forms: M/M/c (Erlang C), M/G/c/c (Erlang B), M/M/c/K, and
the pool's own rules (pools that keep their connections, timeouts) with known answers.

Simulations are small (a few thousand requests each): the tolerances are a few standard
errors of those sample sizes, not tuned to a seed.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from whatif_models import station

from loadtrial.load.model import Stage
from loadtrial.whatif import formulas
from loadtrial.whatif.model import Estimate
from loadtrial.whatif.predict import ceilings, find_knee, predict, sweep
from loadtrial.whatif.simulate import simulate


def test_erlang_formulas_match_textbook_values() -> None:
    assert formulas.erlang_b(1, 1.0) == pytest.approx(0.5)
    assert formulas.erlang_b(2, 1.0) == pytest.approx(0.2)
    assert formulas.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert formulas.mmc_wait_s(1.0, 1.5, 1) == pytest.approx(1.0 / (1.5 * 0.5))  # M/M/1
    assert formulas.mmc_wait_s(3.0, 1.0, 2) == math.inf
    p = formulas.mmck_probabilities(2.0, 1.0, 2, 5)
    assert sum(p) == pytest.approx(1.0)
    # K = c: M/M/c/K's blocking is Erlang B
    assert formulas.mmck_blocking(3.0, 1.0, 4, 4) == pytest.approx(formulas.erlang_b(4, 3.0))


def test_mmc_wait_matches_erlang_c() -> None:
    lam, mu, c = 30.0, 10.0, 4  # ρ = 0.75
    m = station(rate=lam, app_cpu_s=1 / mu, cores=c, run_s=210.0, warmup_s=10.0)
    r = simulate(m, seed=3)
    mean_response = float(r.latency_s.mean())
    expected = formulas.mmc_wait_s(lam, mu, c) + 1 / mu
    assert r.error_rate == 0.0
    assert mean_response == pytest.approx(expected, rel=0.12)


def test_pool_without_wait_blocks_as_erlang_b_with_any_hold_distribution() -> None:
    # M/G/c/c: blocking depends on the mean hold only (insensitivity); the hold here is fixed
    lam, hold, c = 12.0, 0.25, 4  # 3 erlangs on 4 connections: B = 0.206 (5 would give 0.110)
    m = station(rate=lam, db_share=1.0, hold_s=hold, pool_max=c, pool_wait_s=0.0,
                run_s=405.0, warmup_s=5.0)  # fmt: skip
    r = simulate(m, seed=5)
    blocked = r.errors.get("pool_timeout", 0) / r.completed
    assert blocked == pytest.approx(formulas.erlang_b(c, lam * hold), abs=0.03)
    assert set(r.errors) <= {"pool_timeout"}


def test_balancer_limit_blocks_as_mmck() -> None:
    lam, mu, c, k = 20.0, 8.0, 2, 4  # c app servers behind K slots; no queue at the balancer
    m = station(rate=lam, app_cpu_s=1 / mu, cores=c, lb_maxconn=k, lb_queue_s=0.0,
                run_s=205.0, warmup_s=5.0)  # fmt: skip
    r = simulate(m, seed=7)
    blocked = r.errors.get("lb_queue", 0) / r.completed
    assert blocked == pytest.approx(formulas.mmck_blocking(lam, mu, c, k), abs=0.02)


def test_warm_pools_keep_their_connections_from_new_nodes() -> None:
    # 8 db slots all held by the two old nodes: the two new ones never get a connection, so
    # the half of the requests routed to them wait out the pool timeout
    m = station(rate=20.0, db_share=1.0, hold_s=0.01, nodes=4, pool_max=10, db_max=8,
                pool_wait_s=0.5, warm_nodes=2, warm_per_node=4)  # fmt: skip
    r = simulate(m, seed=1)
    assert r.error_rate == pytest.approx(0.5, abs=0.02)
    cold = station(rate=20.0, db_share=1.0, hold_s=0.01, nodes=4, pool_max=10, db_max=8,
                   pool_wait_s=0.5)  # fmt: skip
    assert simulate(cold, seed=1).error_rate == 0.0


def test_client_timeout_is_an_error_recorded_at_the_timeout() -> None:
    m = station(rate=10.0, db_share=1.0, hold_s=3.0, pool_max=100, request_s=1.0, run_s=11.0,
                warmup_s=1.0)  # fmt: skip
    r = simulate(m, seed=2)
    assert r.errors == {"timeout": r.completed}
    assert float(r.latency_s.max()) == pytest.approx(1.0)


def test_prediction_names_the_bottleneck_and_the_next_limit() -> None:
    # 16 connections held 0.5 s: X ≤ 32/s; app CPU 2 nodes × 1 core / 10 ms: X ≤ 200/s
    m = station(rate=60.0, db_share=1.0, hold_s=0.5, app_cpu_s=0.01, nodes=2, pool_max=8,
                db_max=16)  # fmt: skip
    assert ceilings(m)["db.connections"] == pytest.approx(32.0)
    p = predict(replace(m, stages=(Stage(18.0, 60.0),), warmup_s=3.0), replications=2)
    assert p.bottleneck == "db.connections"
    assert p.next_limit == "app.cpu"
    assert p.throughput_per_s.value == pytest.approx(32.0, rel=0.1)
    assert p.error_rate.low <= p.error_rate.value <= p.error_rate.high


def test_sweep_finds_the_knee_below_the_connection_bound() -> None:
    m = station(rate=1.0, db_share=1.0, hold_s=0.5, nodes=2, pool_max=8, db_max=16)
    knee = find_knee(sweep(m, [10.0, 20.0, 30.0, 40.0, 50.0], replications=1))
    assert knee.last_good_per_s is not None and knee.first_bad_per_s is not None
    assert 20.0 <= knee.last_good_per_s < knee.first_bad_per_s <= 40.0
    assert "db connections" in knee.why


def test_profile_keeps_its_values_and_reweights_its_mix_to_the_measured_hold() -> None:
    # a ramp's profile: half fast (1 ms), half slow (~1 s), but Little's law says 0.75 s:
    # the slow share is under-counted, not the slow time too short
    from loadtrial.whatif.model import PROFILE_PERCENTS
    from loadtrial.whatif.simulate import hold_shape

    slow = [0.001 if p <= 50 else 0.95 + 0.001 * p for p in PROFILE_PERCENTS]
    m = station(rate=5.0, db_share=1.0, hold_s=0.75, pool_max=100, run_s=201.0)
    m = replace(m, profile_s=tuple(slow))
    tilt, scale, offset = hold_shape(m, 0.0, 0.001)
    assert tilt > 1.0 and scale == 1.0 and offset == 0.0
    r = simulate(m, seed=4)
    assert float(r.latency_s.mean()) == pytest.approx(0.75, rel=0.08)
    assert r.latency_quantile_s(99) <= max(slow) + 0.01  # no request slower than measured


def test_saturated_station_serves_c_over_d_and_its_backlog_grows() -> None:
    # M/M/1 offered twice what it can serve, for a 40 s run: the window's goodput is the
    # station's ceiling 1 / D (not the offered rate), and the run ends with a backlog
    d = 0.05  # X ≤ 1 / D = 20/s
    m = station(rate=40.0, app_cpu_s=d, run_s=40.0, warmup_s=5.0)
    r = simulate(m, seed=11)
    assert r.throughput_per_s == pytest.approx(1 / d, rel=0.08)
    assert r.arrived / r.window_s == pytest.approx(40.0, rel=0.08)
    assert r.utilisation["app.cpu"] > 0.97


def test_client_timeouts_begin_once_the_backlog_is_a_timeout_deep() -> None:
    # even arrivals at 30/s for one pooled connection held 50 ms (20/s, FIFO) from t = 0: the
    # backlog grows 10/s and a request sent at t waits ~t/2 s; with a 2 s client timeout
    # (from the intended send) the first timeouts are sent ~4 s in and recorded ~6 s in:
    # a run of 5 s sees none, a 20 s one does, and the served still count as goodput
    from dataclasses import replace as with_

    def run(run_s: float) -> dict[str, int]:
        m = station(rate=30.0, db_share=1.0, hold_s=0.05, pool_max=1, pool_wait_s=100.0,
                    run_s=run_s, warmup_s=1.0, request_s=2.0)  # fmt: skip
        return simulate(with_(m, poisson=False), seed=1).errors

    assert run(5.0) == {}
    assert run(20.0).get("timeout", 0) > 50


def test_overloaded_node_serves_the_newest_first_so_a_tail_times_out() -> None:
    # an overloaded app node (an event loop) does not serve in arrival order: the requests
    # it serves waited little, and a tail waits out the client's timeout (in arrival order
    # every request would wait about the same, growing, time)
    # every request but the tail: newest first, p90 ~0.3 s (random order ~1 s; FIFO ~5 s)
    m = station(rate=30.0, app_cpu_s=0.05, run_s=30.0, warmup_s=3.0, request_s=5.0)
    r = simulate(m, seed=5)
    assert r.errors.get("timeout", 0) > 100
    ok = r.latency_s[r.latency_s < 5.0]
    assert float(np.percentile(ok, 90)) < 0.6


def test_health_checks_take_an_overloaded_node_out() -> None:
    # a check is answered only when no request waits: a node that stays behind leaves two
    # checks unanswered for 1 s each and the balancer takes it out (503 at once); a node
    # that keeps up answers every check
    over = station(rate=25.0, app_cpu_s=0.05, run_s=20.0, warmup_s=3.0, health_answer_s=1.0)
    assert simulate(over, seed=5).errors.get("no_backend", 0) > 20
    under = station(rate=10.0, app_cpu_s=0.05, run_s=20.0, warmup_s=3.0, health_answer_s=1.0)
    assert simulate(under, seed=5).errors == {}


def test_balancer_queue_against_a_hand_calculation() -> None:
    # 2 nodes × maxconn 3 = 6 slots; a db request holds its slot for its whole time, 0.2 s
    # (its hold fills its profile time: counted once, not hold + profile): at most 30/s.
    # Even arrivals at 40/s: past the first second, 30/s are served and the queue's 1 s
    # timeout turns away the other 10/s, and a served request waited ~1 s (the queue is full
    # up to its timeout): ok ≈ 30/s, errors ≈ 10 / 40 = 25 %, p50 ≈ 1.2 s
    from dataclasses import replace as with_

    m = station(rate=40.0, db_share=1.0, hold_s=0.2, profile_s=0.2, nodes=2, lb_maxconn=3,
                pool_max=25, lb_queue_s=1.0, run_s=40.0, warmup_s=5.0)  # fmt: skip
    r = simulate(with_(m, poisson=False), seed=3)
    assert r.throughput_per_s == pytest.approx(30.0, rel=0.05)
    assert r.error_rate == pytest.approx(0.25, abs=0.03)
    assert set(r.errors) == {"lb_queue"}
    assert r.latency_quantile_s(50) == pytest.approx(1.2, abs=0.1)


def test_a_capped_run_sends_about_max_requests_and_keeps_its_ramp() -> None:
    from loadtrial.whatif.selfcheck import capped_run
    from loadtrial.whatif.simulate import arrival_times

    # 750 in the ramp, 30 000 in the plateau: the plateau shortened to ~8.5 s
    big = replace(station(rate=500.0), stages=(Stage(3.0, None, 500.0), Stage(60.0, 500.0)),
                  warmup_s=3.0)  # fmt: skip
    capped = capped_run(big, 5000)
    assert capped.stages[0] == big.stages[0]
    assert len(arrival_times(capped, 0)) == pytest.approx(5000, rel=0.02)
    small = station(rate=10.0)  # 300 requests: left as it is
    assert capped_run(small, 5000) == small


def test_tiers_on_one_host_share_its_cores() -> None:
    # two nodes of one core each serve the 100/s offered; on one shared core, where the
    # rest (balancer, generator) takes 5 ms per arrival, half the core is left for the
    # apps: (1 - 100 × 0.005) / 0.010 = 50/s; the host keeps up only to 1 / 15 ms = 66.7/s
    apart = station(rate=100.0, app_cpu_s=0.010, nodes=2, run_s=120.0, warmup_s=10.0)
    shared = replace(apart, topology=replace(apart.topology, host_cores=1.0),
                     demands=replace(apart.demands, other_cpu_s=Estimate(0.005)))  # fmt: skip
    assert simulate(apart, seed=1).throughput_per_s == pytest.approx(100.0, rel=0.05)
    assert simulate(shared, seed=1).throughput_per_s == pytest.approx(50.0, rel=0.06)
    assert ceilings(shared)["host.cpu"] == pytest.approx(1 / 0.015)
    assert "host.cpu" not in ceilings(apart)
    p = predict(replace(shared, stages=(Stage(30.0, 100.0),)), replications=2)
    assert p.bottleneck == "host.cpu"
    assert p.utilisation["host.cpu"] > 0.95


def test_new_connections_cost_the_db_cpu_and_a_cold_start_falls_behind() -> None:
    # the db CPU 87.5 % busy (25/s × 35 ms); 20 new backends × 100 ms of its CPU is 2 s of
    # its work lost at the start: a backlog of ~57 requests that drains at 3.6/s
    warm = station(rate=25.0, db_share=1.0, hold_s=0.035, db_cpu_s=0.035, nodes=2,
                   pool_max=10, warm_nodes=2, warm_per_node=10, connect_s=0.1,
                   run_s=20.0, warmup_s=0.5)  # fmt: skip
    cold = replace(warm, topology=replace(warm.topology, warm_connections_per_node=0))
    free = replace(cold, demands=replace(cold.demands, connect_s=Estimate(0.0)))
    mean = {name: float(np.mean([simulate(m, seed=s).latency_s.mean() for s in range(3)]))
            for name, m in (("warm", warm), ("cold", cold), ("free", free))}  # fmt: skip
    # warm pools open nothing: the connection cost never applies (M/M/1: 0.28 s)
    assert mean["warm"] < 0.6, mean
    # cold pools without the cost are as warm ones; with it, the backlog shows
    assert mean["free"] < 0.6, mean
    assert mean["cold"] > 2 * mean["warm"], mean
