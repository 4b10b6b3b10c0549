"""analyze_trial end to end on synthetic trials with planted answers."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import numpy as np
import pytest
from analysis_synth import RunPlan, const, make_trial_data, step, trial_from

from loadtrial.analysis import analyze_trial, bottlenecks, verdict_exit_code
from loadtrial.findings import Finding, JsonDoc, evidence_json
from loadtrial.load.watch import LAG_REASON
from loadtrial.store.model import Event

ARMS = {
    "baseline": {"app_nodes": 4, "db_max_connections": 20},
    "more-app-nodes": {"app_nodes": 8, "db_max_connections": 20},
    "bigger-db": {"app_nodes": 4, "db_max_connections": 60, "db_cpus": 2},
}
OBSERVE = [{"kind": "postgres", "as": "db", "dsn": "x"}, {"kind": "process", "as": "app"}]
# ARMS are testbed parameters: the testbed provider declares which facts each one governs
TESTBED = {"provider": "testbed"}


def fields(f: Finding) -> JsonDoc:
    """A finding's evidence as `analyze --json` and the store write it (the same keys)."""
    return evidence_json(f.evidence)


def _db_limited(arm: str, facts: dict[str, str]) -> RunPlan:
    """Connections fill at t=20 s; latency and 502s follow at t=21 s; app CPU stays low."""
    return RunPlan(
        arm, seconds=45, step_at_s=21, step_latency_ms=600, step_error_rate=0.08,
        series={
            "db.connections.used": ("count", 20.0, step(8, 20, 20)),
            "db.cpu.util": ("ratio", 1.0, const(0.4, 0.03)),
            "db.connect.refused": ("count", None, step(0, 1, 21)),
            "app.cpu.util": ("ratio", 1.0, step(0.30, 0.35, 21, 0.01)),
        },
        before={"db.writer": "db-1", "db.max_connections": "20", "volatile.read_at": arm},
    )  # fmt: skip


def _healthy(arm: str, facts: dict[str, str]) -> RunPlan:
    return RunPlan(
        arm, seconds=45,
        series={
            "db.connections.used": ("count", 60.0, const(12, 1)),
            "db.cpu.util": ("ratio", 1.0, const(0.3, 0.03)),
            "app.cpu.util": ("ratio", 1.0, const(0.3, 0.02)),
        },
        before=facts,
    )  # fmt: skip


def _by(findings: tuple[Finding, ...], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def test_planted_db_connection_bottleneck_is_named_with_evidence() -> None:
    trial = trial_from(arms=ARMS, env=TESTBED, observe=OBSERVE)
    data = make_trial_data(trial, [_db_limited("baseline", {})] * 2)
    found = analyze_trial(data, trial)
    b = next(f for f in _by(found, "bottleneck") if f.arm == "baseline")
    assert b.status == "db.connections.used"
    assert fields(b)["tier"] == "db" and fields(b)["saturated_at_s"] < 21
    assert 19 <= fields(b)["onset_s"] <= 23
    assert "app capacity will not raise throughput: app.cpu.util peaked at 3" in " ".join(
        fields(b)["not_helping"]
    )
    assert fields(b)["not_limits"]["app"]["series"] == "app.cpu.util"
    assert fields(b)["demand"]["db.connections.used"]["bound_per_s"] > 0
    sats = {f.subject for f in _by(found, "saturation")}
    assert {"db.connections.used", "db.connect.refused"} <= sats and "app.cpu.util" not in sats
    arm_slo = next(f for f in _by(found, "slo") if f.subject == "arm baseline")
    assert arm_slo.status == "fail"


def test_the_bottleneck_sentence_is_short_and_says_it_once() -> None:
    trial = trial_from(arms=ARMS, env=TESTBED, observe=OBSERVE)
    data = make_trial_data(trial, [_db_limited("baseline", {})] * 2)
    b = next(f for f in _by(analyze_trial(data, trial), "bottleneck") if f.arm == "baseline")
    ev = fields(b)
    bound = ev["demand"]["db.connections.used"]["bound_per_s"]
    assert b.summary.startswith(
        "db connections limited throughput in arm baseline: db.connections.used at 100% of 20 "
        f"from t={ev['saturated_at_s']:.0f}s, when latency and errors rose; "
        f"X ≤ 1/D = {bound:.0f}/s (measured {ev['throughput_per_s']:.0f}/s)."
    ), b.summary
    assert re.search(r"\. Not the limit: app CPU \(peak 3\d%\)\.$", b.summary), b.summary
    assert b.summary.count("db.connections.used") == 1 and "bottleneck:" not in b.summary
    assert (ev["runs_saturated"], ev["runs"]) == (2, 2)


def test_nothing_saturated_says_so_and_names_missing_observers() -> None:
    observe = [*OBSERVE, {"kind": "prometheus", "as": "lb", "url": "http://127.0.0.1:1/m"}]
    trial = trial_from(arms={"a": {}}, observe=observe)
    found = analyze_trial(make_trial_data(trial, [_healthy("a", {})]), trial)
    b = _by(found, "bottleneck")[0]
    assert b.status == "none" and "no observed resource saturated" in b.summary
    assert "lb" in b.summary
    assert any(f.kind == "validity" and f.status == "degraded" for f in found)


def test_failover_trap_is_a_confounder_and_makes_the_claim_inconclusive() -> None:
    expect = [
        {"arm": "bigger-db", "vs": "baseline", "metric": "error_rate", "expect": "lower"},
        {"arm": "more-app-nodes", "vs": "baseline", "metric": "error_rate", "expect": "not_lower"},
        {"arm": "bigger-db", "meets_slo": True},
    ]
    trial = trial_from(arms=ARMS, env=TESTBED, observe=OBSERVE, expect=expect)
    base = {"db.writer": "db-1", "db.max_connections": "20", "app.nodes": "4",
            "lb.backends_healthy": "4", "volatile.read_at": "12:00:01"}  # fmt: skip
    plans = [
        _healthy("baseline", base),
        _healthy("more-app-nodes", {**base, "app.nodes": "8", "lb.backends_healthy": "8"}),
        _healthy("bigger-db", {**base, "db.writer": "db-2", "db.max_connections": "60"}),
    ] * 2
    found = analyze_trial(make_trial_data(trial, plans), trial)
    conf = _by(found, "confounder")
    assert {f.subject for f in conf} == {"db.writer"}  # max_connections and nodes are governed
    verdicts = _by(found, "verdict")
    assert verdicts[0].status == "inconclusive" and "confounded by db.writer" in verdicts[0].summary
    assert verdicts[1].status == "supported"  # baseline vs more-app-nodes: no confounder
    # bigger-db on its own ran as declared (60 read back): the writer differing from
    # baseline's says nothing about whether it meets the SLO
    assert verdicts[2].status == "supported", verdicts[2].summary
    assert verdict_exit_code(found) == 1


def test_a_single_arm_claim_is_confounded_by_its_own_parameter_not_in_force() -> None:
    trial = trial_from(
        arms=ARMS, env=TESTBED, observe=OBSERVE, expect=[{"arm": "bigger-db", "meets_slo": True}]
    )
    base = {"db.writer": "db-1", "db.max_connections": "20", "app.nodes": "4"}
    plans = [
        _healthy("baseline", base),
        _healthy("more-app-nodes", {**base, "app.nodes": "8"}),
        _healthy("bigger-db", {**base, "db.writer": "db-2"}),  # the resize went elsewhere
    ] * 2
    verdict = _by(analyze_trial(make_trial_data(trial, plans), trial), "verdict")[0]
    assert verdict.status == "inconclusive"
    assert "confounded by db.max_connections" in verdict.summary


def test_expected_to_vary_whitelists_the_fact() -> None:
    trial = trial_from(arms=ARMS, env=TESTBED, observe=OBSERVE, expected_to_vary=["db.writer"],
                       expect=[{"arm": "bigger-db", "meets_slo": True}])  # fmt: skip
    base = {"db.writer": "db-1"}
    plans = [_healthy("baseline", base), _healthy("bigger-db", {"db.writer": "db-2"})] * 2
    found = analyze_trial(make_trial_data(trial, plans), trial)
    assert not _by(found, "confounder")
    assert _by(found, "verdict")[0].status == "supported"
    assert verdict_exit_code(found) == 0


def test_fact_changing_during_a_run_is_flagged() -> None:
    trial = trial_from(arms={"a": {}}, observe=OBSERVE)
    plan = RunPlan("a", before={"db.writer": "db-1"}, after={"db.writer": "db-2"})
    found = analyze_trial(make_trial_data(trial, [plan]), trial)
    assert any("changed during run 1" in f.summary for f in _by(found, "confounder"))


def test_planted_no_effect_and_planted_effect_verdicts() -> None:
    expect = [
        {"arm": "b", "vs": "a", "metric": "p99", "expect": "no_difference"},
        {"arm": "b", "vs": "a", "metric": "p99", "expect": "lower"},
        {"arm": "c", "vs": "a", "metric": "p99", "expect": "lower", "by_at_least": "40%"},
        {"arm": "c", "vs": "a", "metric": "p99", "expect": "not_higher"},
    ]
    trial = trial_from(arms={"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}}, expect=expect)
    plans = [
        RunPlan("a", latency_ms=20),
        RunPlan("b", latency_ms=20),
        RunPlan("c", latency_ms=8),
    ] * 3
    found = analyze_trial(make_trial_data(trial, plans), trial)
    status = [f.status for f in _by(found, "verdict")]
    assert status == ["supported", "refuted", "supported", "supported"]
    comp = next(f for f in _by(found, "comparison") if f.subject == "c vs a: p99")
    assert comp.status == "lower" and fields(comp)["relative"] < -0.4


def test_invalid_and_aborted_runs() -> None:
    from loadtrial.store.model import Event

    trial = trial_from(arms={"a": {}})
    plans = [
        RunPlan("a", send_lag_us=50_000, events=(Event(0.0, "load_invalid", "fell behind"),)),
        RunPlan("a", seconds=8, rate=5),
        RunPlan("a", status="aborted"),
    ]
    found = analyze_trial(make_trial_data(trial, plans), trial)
    by_run = {f.run_id: f.status for f in _by(found, "validity")}
    assert by_run == {1: "invalid", 2: "invalid", 3: "aborted"}
    assert verdict_exit_code(found) == 3


def test_runs_that_never_started_are_not_analysed() -> None:
    trial = trial_from(arms={"a": {}})
    plans = [RunPlan("a"), RunPlan("a", seconds=0, status="planned")]
    found = analyze_trial(make_trial_data(trial, plans), trial)
    assert {f.run_id for f in found if f.run_id is not None} == {1}
    assert not [f for f in found if "no requests" in f.summary or "0 requests" in f.summary]


LAG = f"{LAG_REASON}: p99 send lag 12 ms > 5 ms"


def test_generator_lag_small_against_p99_keeps_the_run() -> None:
    trial = trial_from(arms={"a": {}})
    plans = [RunPlan("a", latency_ms=800, send_lag_us=20_000, events=(_invalid(LAG),))]
    v = _by(analyze_trial(make_trial_data(trial, plans), trial), "validity")[0]
    assert v.status == "degraded"
    # the two lag figures are named apart (the engine's p99 vs the seconds' worst lag)
    assert "(kept: the worst send lag of most seconds, 20ms, is small against the p99 " in (
        v.summary
    ), v.summary


@pytest.mark.parametrize(
    ("model", "reasons"),
    [
        ("closed", (LAG,)),  # a closed model records no send lag: nothing shows it minor
        ("open", (LAG, "the generator's CPU was ≥ 90% of its cores in 9 of 10 seconds")),
        ("open", ("load worker 1 ended before the run did",)),
    ],
)
def test_a_generator_limit_other_than_a_minor_lag_invalidates(
    model: str, reasons: tuple[str, ...]
) -> None:
    load = {"model": "closed", "users": 10, "duration": "20s"} if model == "closed" else None
    trial = trial_from(arms={"a": {}}, **({"load": load} if load else {}))
    events = tuple(_invalid(r) for r in reasons)
    plans = [RunPlan("a", latency_ms=800, send_lag_us=20_000, events=events)]
    found = analyze_trial(make_trial_data(trial, plans), trial)
    v = _by(found, "validity")[0]
    assert v.status == "invalid" and all(r in v.summary for r in reasons)
    assert _by(found, "slo")[-1].status == "no_data" and verdict_exit_code(found) == 1


def _invalid(message: str) -> Event:
    return Event(0.0, "load_invalid", message)


def _scaled(n: int, ok_per_s: float, offered: float = 600.0) -> RunPlan:
    """An arm of n nodes offered 600/s that answers `ok_per_s` of them (the rest 502s)."""
    return RunPlan(
        f"n{n}", rate=offered, seconds=20, step_at_s=0, step_latency_ms=20,
        step_error_rate=1 - ok_per_s / offered,
    )  # fmt: skip


def test_usl_over_the_declared_scale_from_limited_arms() -> None:
    arms = {f"n{n}": {"app_nodes": n} for n in (1, 2, 4, 8)}
    trial = trial_from(arms=arms, scale="app_nodes")
    rates = {1: 100.0, 2: 190.0, 4: 340.0, 8: 520.0}
    plans = [_scaled(n, rates[n]) for n in rates] * 2
    fit = _by(analyze_trial(make_trial_data(trial, plans), trial), "scalability")
    assert len(fit) == 1 and fields(fit[0])["over"] == "app_nodes"
    assert fields(fit[0])["r2"] > 0.95 and fields(fit[0])["sigma"] > 0


def test_usl_leaves_out_arms_that_served_their_whole_offered_rate() -> None:
    arms = {f"n{n}": {"app_nodes": n} for n in (1, 2, 4, 8)}
    trial = trial_from(arms=arms, scale="app_nodes")
    # 4 and 8 nodes served all 300/s offered: their throughput is the load, not a capacity
    plans = [_scaled(1, 100.0, 300.0), _scaled(2, 190.0, 300.0)]
    plans += [RunPlan("n4", rate=300.0, seconds=20), RunPlan("n8", rate=300.0, seconds=20)]
    fit = _by(analyze_trial(make_trial_data(trial, plans * 2), trial), "scalability")
    assert [f.status for f in fit] == ["not_fitted"]
    assert fields(fit[0])["levels"] == [1.0, 2.0] and "raise the rate" in fit[0].summary


def test_no_usl_over_a_count_that_is_not_a_declared_scale() -> None:
    arms = {f"r{r}": {"rate": r} for r in (100, 200, 400)}  # a rate is not a scale
    trial = trial_from(arms=arms)
    plans = [RunPlan(f"r{r}", rate=float(r), seconds=20) for r in (100, 200, 400)] * 2
    assert not _by(analyze_trial(make_trial_data(trial, plans), trial), "scalability")


def test_nine_runs_of_sixty_seconds_with_thirty_series_complete() -> None:
    """A smoke test of size (the speed figure itself is printed by bench/, not asserted)."""
    series = {f"t{i}.r.util": ("ratio", 1.0, const(0.5, 0.05)) for i in range(30)}
    trial = trial_from(arms={"a": {}, "b": {}, "c": {}})
    plans = [RunPlan(arm, seconds=60, rate=100, series=series) for arm in "abc"] * 3
    data = make_trial_data(trial, plans)
    t = time.perf_counter()
    found = analyze_trial(data, trial)
    assert len(_by(found, "slo")) == 12 and time.perf_counter() - t < 60


def test_closed_model_user_steps_get_a_usl_fit() -> None:
    from loadtrial.analysis.scalability import usl

    users = [1, 2, 4, 8, 16]
    stages = [{"users": u, "duration": "10s"} for u in users]
    trial = trial_from(arms={"a": {}}, load={"model": "closed", "stages": stages})
    x = usl(np.array(users, dtype=float), 0.05, 0.01, 40.0)
    plan = RunPlan("a", seconds=50, warmup_s=0, rate=0.0)
    data = make_trial_data(trial, [plan])
    # the synthetic run's ok/s follows the USL step by step
    secs = tuple(
        replace(s, completed=int(x[s.second // 10] + 0.5), ok=int(x[s.second // 10] + 0.5))
        for s in data.runs[0].seconds
    )
    data = replace(data, runs=(replace(data.runs[0], seconds=secs),))
    fits = _by(analyze_trial(data, trial), "scalability")
    assert len(fits) == 1 and fields(fits[0])["over"] == "users (load stages)"
    assert fields(fits[0])["kappa"] > 0 and fields(fits[0])["r2"] > 0.95


def test_a_trial_without_runs_and_a_run_without_seconds() -> None:
    trial = trial_from(expect=[{"arm": "a", "meets_slo": True}])
    empty = make_trial_data(trial, [])
    found = analyze_trial(empty, trial)
    assert [f.status for f in _by(found, "verdict")] == ["inconclusive"]
    nothing = make_trial_data(trial, [RunPlan("a", seconds=0, status="failed")])
    found = analyze_trial(nothing, trial)
    assert _by(found, "validity")[0].status == "invalid"
    assert verdict_exit_code(found) == 1


def test_bottlenecks_helper_for_the_testbed() -> None:
    trial = trial_from(arms=ARMS, env=TESTBED, observe=OBSERVE)
    data = make_trial_data(trial, [_db_limited("baseline", {})])
    assert bottlenecks(data, trial)["baseline"].status == "db.connections.used"


def test_a_resource_saturating_long_after_the_onset_is_a_consequence() -> None:
    plan = RunPlan(
        "a", seconds=45, step_at_s=21, step_latency_ms=600,
        series={
            "app.cpu.util": ("ratio", 1.0, step(0.3, 0.97, 25)),  # consequence, 4 s late
            "db.connections.used": ("count", 20.0, step(8, 20, 20)),  # cause
        },
    )  # fmt: skip
    trial = trial_from(arms={"a": {}}, observe=OBSERVE)
    b = _by(analyze_trial(make_trial_data(trial, [plan] * 2), trial), "bottleneck")[0]
    assert b.status == "db.connections.used"
    assert fields(b)["also_saturated"] == ["app.cpu.util"]


def test_idle_connections_kept_by_a_pool_are_not_a_saturated_resource() -> None:
    plan = RunPlan(
        "a", seconds=40,
        series={"db.connections.idle": ("count", 17.0, const(17)),
                "db.connections.active": ("count", 17.0, const(2)),
                "app.cpu.util": ("ratio", 1.0, const(0.2))},
    )  # fmt: skip
    trial = trial_from(arms={"a": {}}, observe=OBSERVE)
    found = analyze_trial(make_trial_data(trial, [plan]), trial)
    assert _by(found, "bottleneck")[0].status == "none"
    assert not [f for f in _by(found, "saturation") if f.subject == "db.connections.idle"]


def test_errors_without_a_saturated_resource_point_at_their_tier() -> None:
    plan = RunPlan(
        "a", seconds=40, step_at_s=20, step_error_rate=0.2,
        series={"db.connect.refused": ("count", None, step(0, 1, 20)),
                "app.cpu.util": ("ratio", 1.0, const(0.2))},
    )  # fmt: skip
    trial = trial_from(arms={"a": {}}, observe=OBSERVE)
    b = _by(analyze_trial(make_trial_data(trial, [plan]), trial), "bottleneck")[0]
    assert b.status == "db (errors)" and "db.connect.refused" in b.summary


def test_without_claims_the_exit_code_follows_the_arm_slos() -> None:
    trial = trial_from(arms={"a": {}})
    ok = analyze_trial(make_trial_data(trial, [RunPlan("a", latency_ms=20)]), trial)
    slow = analyze_trial(make_trial_data(trial, [RunPlan("a", latency_ms=400)]), trial)
    assert (verdict_exit_code(ok), verdict_exit_code(slow)) == (0, 1)


def test_an_arm_without_valid_runs_is_said_in_words_not_nan() -> None:
    from loadtrial.store.model import Event

    trial = trial_from(
        arms={"a": {}, "b": {}},
        expect=[{"arm": "b", "vs": "a", "metric": "p99", "expect": "lower"}],
    )
    bad = (Event(0.0, "load_invalid", "fell behind"),)
    plans = [RunPlan("a"), RunPlan("b", send_lag_us=50_000, events=bad)]
    found = analyze_trial(make_trial_data(trial, plans), trial)
    texts = [f.summary for f in found if f.kind in ("comparison", "verdict")]
    assert texts and not [t for t in texts if "nan" in t]
    assert any("no valid runs to compare in arm b" in t for t in texts)


def test_without_a_declared_slo_no_pass_is_claimed() -> None:
    trial = trial_from(arms={"a": {}}, slo={})
    found = analyze_trial(make_trial_data(trial, [RunPlan("a")]), trial)
    arm_slo = [f for f in found if f.kind == "slo" and f.run_id is None]
    assert arm_slo and all("declares no slo" in f.summary for f in arm_slo)
    assert not [f for f in found if "meets the SLO" in f.summary]


def _one_arm(plan: RunPlan) -> list[Finding]:
    trial = trial_from(arms={"a": {}}, observe=OBSERVE)
    return list(analyze_trial(make_trial_data(trial, [plan] * 2), trial))


def test_saturation_in_the_warm_up_only_is_not_counted() -> None:
    # a cold start pins app CPU for the 5 s of warm-up; the run itself is healthy
    found = _one_arm(RunPlan("a", series={"app.cpu.util": ("ratio", 1.0, step(0.99, 0.3, 5))}))
    assert not _by(found, "saturation")
    assert _by(found, "bottleneck")[0].status == "none"


def test_a_full_resource_that_held_nothing_back_is_not_called_the_limit() -> None:
    # connections at 20 of 20 all run long, but latency flat, no errors, every arrival served
    found = _one_arm(RunPlan("a", series={"db.connections.active": ("count", 20.0, const(20.0))}))
    b = _by(found, "bottleneck")[0]
    assert b.status == "none", b.summary
    assert b.summary.startswith("nothing limited throughput in arm a: db.connections.active")
    assert "limited throughput" not in b.summary.replace("nothing limited throughput", "")


def test_one_busy_core_of_an_app_node_is_the_limit_though_the_host_is_half_idle() -> None:
    # a single-threaded node at 100 % of one core reads 50 % of two cores: the per-process
    # figure (busiest_util, capacity one core) is the one that saturates
    plan = RunPlan(
        "a", step_at_s=21, step_latency_ms=600,
        series={
            "app.cpu.util": ("ratio", 1.0, step(0.25, 0.5, 20)),
            "app.cpu.busiest_util": ("ratio", 1.0, step(0.5, 1.0, 20)),
            "db.cpu.util": ("ratio", 1.0, const(0.2)),
        },
    )  # fmt: skip
    b = _by(_one_arm(plan), "bottleneck")[0]
    assert b.status == "app.cpu.busiest_util"
    assert b.summary.startswith("app CPU limited throughput in arm a: app.cpu.busiest_util at 100%")
    assert "Not the limit: db CPU (peak 20%)" in b.summary


def test_healthy_backend_counts_are_never_ranked_as_use() -> None:
    plan = RunPlan(
        "a", step_at_s=21, step_latency_ms=600,
        series={
            "lb.backends.healthy": ("count", 2.0, const(2.0)),
            "db.connections.active": ("count", 20.0, step(8, 20, 20)),
        },
    )  # fmt: skip
    found = _one_arm(plan)
    assert {f.subject for f in _by(found, "saturation")} == {"db.connections.active"}
    b = _by(found, "bottleneck")[0]
    assert "lb.backends.healthy" not in fields(b)["peaks"] and "lb" not in fields(b)["not_limits"]
