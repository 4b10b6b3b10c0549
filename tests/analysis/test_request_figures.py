"""Request-scoped SLOs and claims: the named request's own figures, by the same estimates."""

from __future__ import annotations

from dataclasses import replace

from analysis_synth import RunPlan, make_run, trial_from

from loadtrial.analysis import analyze_trial
from loadtrial.analysis.estimate import pooled_value
from loadtrial.analysis.runview import build_run_view
from loadtrial.findings import Finding, JsonDoc, evidence_json
from loadtrial.load.model import IntervalStats
from loadtrial.load.recorder import merge_intervals
from loadtrial.store.model import RunData, TrialData, TrialInfo

REQUESTS = [{"name": "browse", "path": "/items"}, {"name": "checkout", "path": "/pay"}]


def fields(f: Finding) -> JsonDoc:
    """A finding's evidence as `analyze --json` and the store write it (the same keys)."""
    return evidence_json(f.evidence)


def _as_check_errors(s: IntervalStats) -> IntervalStats:
    """The synthetic http_502s of a second as failed body checks (a 200 with a wrong body)."""
    n = sum(s.errors.values())
    return replace(s, errors={"check:body_contains": n} if n else {})


def _run(run_id: int, rep: int, arm: str, checkout_ms: float, checkout_errors: float) -> RunData:
    """A run of two requests: browse (300/s, 10 ms) and checkout (50/s, slow, failing)."""
    browse = make_run(run_id, rep, RunPlan(arm, rate=300, latency_ms=10), {}, seed=run_id)
    pay = RunPlan(arm, rate=50, latency_ms=checkout_ms, step_at_s=0,
                  step_latency_ms=checkout_ms, step_error_rate=checkout_errors)  # fmt: skip
    checkout = make_run(run_id, rep, pay, {}, seed=100 + run_id)
    seconds = []
    for b, c in zip(browse.seconds, checkout.seconds, strict=True):
        c = _as_check_errors(c)
        whole = merge_intervals(b.second, [b, c])
        seconds.append(replace(whole, requests={"browse": b, "checkout": c}))
    return replace(browse, seconds=tuple(seconds))


def _data(*runs: RunData) -> TrialData:
    return TrialData(TrialInfo(1, "t", "", 0.0, "t.yaml", "", "", "complete"), runs)


def _one(findings: tuple[Finding, ...], kind: str, subject: str) -> Finding:
    return next(f for f in findings if f.kind == kind and f.subject == subject)


def _trial(**kw: object):  # type: ignore[no-untyped-def]
    load = {"model": "open", "warmup": "5s", "stages": [{"rate": 350, "duration": "40s"}],
            "requests": REQUESTS}  # fmt: skip
    return trial_from(load=load, **kw)


def test_an_slo_naming_a_request_judges_that_request_alone() -> None:
    data = _data(_run(1, 1, "a", checkout_ms=300, checkout_errors=0.0))
    whole = analyze_trial(data, _trial(slo={"p99": "100ms"}))
    browse = analyze_trial(data, _trial(slo={"p99": "100ms", "request": "browse"}))
    assert _one(whole, "slo", "arm a").status == "fail"  # checkout's slowness is in the whole
    arm = _one(browse, "slo", "arm a")
    assert arm.status == "pass" and "request browse" in arm.summary
    assert fields(arm)["request"] == "browse"
    view = build_run_view(data.runs[0], request="browse")
    assert fields(arm)["p99_us"] == pooled_value("p99", [view.sample])  # one figure everywhere
    assert fields(arm)["requests"] == int(view.sample.completed.sum())


def test_failed_checks_fail_an_error_rate_slo_on_their_request() -> None:
    data = _data(_run(1, 1, "a", checkout_ms=20, checkout_errors=0.10))
    found = analyze_trial(data, _trial(slo={"error_rate": "1%", "request": "checkout"}))
    arm = _one(found, "slo", "arm a")
    assert arm.status == "fail" and "error rate" in arm.summary
    view = build_run_view(data.runs[0], request="checkout")
    assert fields(arm)["error_rate"] == pooled_value("error_rate", [view.sample])
    assert 0.07 < fields(arm)["error_rate"] < 0.13
    # the whole run dilutes them with browse's successes, but they are errors there too
    whole = _one(analyze_trial(data, _trial(slo={"error_rate": "1%"})), "slo", "arm a")
    assert 0.01 < fields(whole)["error_rate"] < fields(arm)["error_rate"]


def test_a_claim_naming_a_request_compares_its_figures() -> None:
    runs = [_run(i, i, "a", checkout_ms=300, checkout_errors=0.0) for i in (1, 2, 3)]
    runs += [_run(i, i - 3, "b", checkout_ms=100, checkout_errors=0.0) for i in (4, 5, 6)]
    claim = {"arm": "b", "vs": "a", "metric": "p50", "expect": "lower", "request": "checkout"}
    found = analyze_trial(_data(*runs), _trial(expect=[claim], repeat=3))
    verdict = _one(found, "verdict", "claim 1")
    assert verdict.status == "supported" and "checkout p50" in verdict.summary
    comp = _one(found, "comparison", "b vs a: checkout p50")
    samples = [build_run_view(r, request="checkout").sample for r in runs[3:]]
    assert fields(comp)["level_arm"] == pooled_value("p50", samples)
    assert fields(comp)["request"] == "checkout"
    # the whole run's p50 is browse's (6 of 7 requests): the same claim without a request
    # finds no such difference
    plain = _one(analyze_trial(_data(*runs), _trial(expect=[{**claim, "request": None}],
                 repeat=3)), "verdict", "claim 1")  # fmt: skip
    assert plain.status != "supported"


def test_with_one_request_name_the_request_is_the_whole_run() -> None:
    """A run of one name stores no parts: its request-scoped figures are the run's."""
    run = make_run(1, 1, RunPlan("a", rate=100, latency_ms=30), {}, seed=1)
    assert all(s.requests == {} for s in run.seconds)
    trial = trial_from(slo={"p99": "1s", "request": "GET /"})
    arm = _one(analyze_trial(_data(run), trial), "slo", "arm a")
    whole = _one(analyze_trial(_data(run), trial_from(slo={"p99": "1s"})), "slo", "arm a")
    assert arm.status == whole.status == "pass"
    assert fields(arm)["p99_us"] == fields(whole)["p99_us"]
    assert fields(arm)["requests"] == fields(whole)["requests"] > 0


def test_a_run_stored_without_parts_has_no_figures_for_one_of_several_requests() -> None:
    """Runs stored before per-request rows existed: never the whole passed off as a part."""
    run = _run(1, 1, "a", checkout_ms=300, checkout_errors=0.0)
    old = replace(run, seconds=tuple(replace(s, requests={}) for s in run.seconds))
    arm = _one(analyze_trial(_data(old), _trial(slo={"p99": "1s", "request": "browse"})),
               "slo", "arm a")  # fmt: skip
    assert arm.status == "no_data" and fields(arm)["requests"] == 0
