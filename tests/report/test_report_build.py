"""The report document: numbers with known answers, claims matched, any finding shape."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import report_synth as synthetic

from loadtrial.analysis import analyze_trial
from loadtrial.findings import Finding, evidence_from_json, evidence_json, finding_from_json
from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats
from loadtrial.report import build_report, to_json
from loadtrial.report import stats as st
from loadtrial.report.evidence import effect, time_range
from loadtrial.report.model import ClaimView


def found(
    kind: str,
    subject: str,
    summary: str,
    status: str,
    evidence: object,
    arm: str = "",
    run_id: int | None = None,
) -> Finding:
    """A finding read as the store reads one, whatever its evidence (any shape)."""
    doc = {
        "kind": kind,
        "subject": subject,
        "summary": summary,
        "status": status,
        "evidence": evidence,
        "arm": arm,
        "run_id": run_id,
    }
    return finding_from_json(doc)


@pytest.fixture(scope="module")
def small() -> synthetic.Scenario:
    return synthetic.Scenario(repeat=2, seconds=20, values_per_second=60)


def _second(k: int, values: list[float], errors: dict[str, int] | None = None) -> IntervalStats:
    enc = hdr.encode(hdr.from_values_us(values))
    n = len(values)
    return IntervalStats(k, n, n, n, n, errors=errors or {}, latency_hist=enc, uncorrected_hist=enc)


def test_values_at_equals_hdrh_walk() -> None:
    for seed in range(3):
        hist = hdr.from_values_us(np.random.default_rng(seed).lognormal(8, 2, 3000))
        ps = [0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0]
        assert st.values_at(hist, ps) == [hist.get_value_at_percentile(p) for p in ps]


def test_document_from_the_synthetic_trial(small: synthetic.Scenario) -> None:
    data, trial, findings = synthetic.scenario(small)
    r = build_report(data, trial, findings, generated_at=0.0)
    # the real analysis of the synthetic data: bigger-db's writer flips mid-run, so its
    # claim cannot be supported whatever its numbers; the comparison has no confounder
    assert [c.status for c in r.claims] == ["inconclusive", "supported"]
    assert r.claims[0].rests_on_confounder and not r.claims[1].rests_on_confounder
    assert r.claims[0].effect is None and r.claims[1].effect is not None  # meets_slo: none
    assert r.bottleneck is not None and evidence_json(r.bottleneck.evidence)["tier"] == "db"
    by_arm = {a.arm: a for a in r.arms}
    assert by_arm["bigger-db"].slo == "pass" and by_arm["baseline"].slo == "fail"
    assert by_arm["baseline"].errors_by_kind["http_502"] > 0
    assert by_arm["bigger-db"].error_rate == 0.0
    writer = next(row for row in r.env_rows if row.key == "db.writer")
    assert writer.confounder and writer.changed_during_run
    assert writer.values["bigger-db"] == "db-1 → db-2"
    cap = next(row for row in r.env_rows if row.key == "db.max_connections")
    assert cap.differs and cap.declared and not cap.confounder
    run0 = r.runs[0]
    assert len(run0.t_s) == small.seconds and run0.onsets and run0.bands
    assert r.duration_s == small.seconds


def test_unknown_and_odd_findings_never_break_the_report(small: synthetic.Scenario) -> None:
    data, trial, _ = synthetic.scenario(small)
    odd = (
        found("verdict", "claim 9", "no such claim", "weird-status", {"x": np.arange(3)}),
        found("bottleneck", "?", "shape unknown", "", {"onset": {"t_s": 3}, "nan": math.nan}),
        found("saturation", "s", "no range", "", {"what": object()}, run_id=1),
        found("scalability", "usl", "no points", "", {"sigma": "n/a"}),
        found("confounder", "c", "no key", "", {}),
    )
    r = build_report(data, trial, odd)
    assert r.claims[-1].text == "claim 9" and r.claims[-1].status == "weird-status"
    assert r.claims[0].status == "not analysed"
    json.dumps(to_json(data, trial, odd), allow_nan=False)


def test_effect_and_range_read_the_analysis_shapes() -> None:
    comparison = {"relative": -0.4, "relative_ci": [-0.5, -0.3], "difference": -2.0}
    assert effect(evidence_from_json("comparison", "lower", comparison)) == (-0.4, -0.5, -0.3)
    # one spelling each: a key the analysis does not write is not guessed at
    odd = evidence_from_json("comparison", "", {"difference": 3.0, "boot_ci": [1.0, 5.0]})
    assert effect(odd) == (None, None, None)
    saturated = {"saturated_at_s": 30.0, "saturated_s": 12.0}
    assert time_range(evidence_from_json("saturation", "saturated", saturated)) == (30.0, 42.0)
    errors = evidence_from_json("saturation", "errors", {"errors_at_s": 7.0})
    assert time_range(errors) == (7.0, 7.0)
    # only a saturation covers a time range
    assert time_range(evidence_from_json("validity", "invalid", {"start_s": 1, "end_s": 4})) is None
    assert time_range(evidence_from_json("slo", "pass", {})) is None


def test_every_key_the_report_reads_is_one_the_analysis_writes(
    small: synthetic.Scenario,
) -> None:
    from loadtrial.report.evidence import onset, series_names, usl_points

    _, _, findings = synthetic.scenario(small)
    by_kind: dict[str, list[Finding]] = {}
    for f in findings:
        by_kind.setdefault(f.kind, []).append(f)
    assert all(time_range(f.evidence) for f in by_kind["saturation"])
    assert all(series_names(f.evidence) for f in by_kind["saturation"])
    limits = [f for f in by_kind["bottleneck"] if f.status != "none"]
    assert limits and all(onset(f.evidence) is not None for f in limits)
    assert all(series_names(f.evidence) == (f.status,) for f in limits)
    compared = [f for f in by_kind["comparison"] if evidence_json(f.evidence)["n_runs"] == [2, 2]]
    assert compared and all(effect(f.evidence)[1] is not None for f in compared)
    # usl_points.py writes `points` as [[N, X], ...]
    fitted = {"over": "app_nodes", "points": [[1, 100.0], [2, 190.0], [4, 340.0]]}
    fit = evidence_from_json("scalability", "fit", fitted)
    assert usl_points(fit) == [(1, 100.0), (2, 190.0), (4, 340.0)]


def test_real_analysis_findings_render(small: synthetic.Scenario) -> None:
    import loadtrial.analysis as analysis

    data, trial, _ = synthetic.scenario(small)
    findings = analysis.analyze_trial(data, trial)
    r = build_report(data, trial, findings)
    assert len(r.claims) == len(trial.expect)
    assert all(c.status != "not analysed" for c in r.claims)
    json.dumps(to_json(data, trial, findings), allow_nan=False)


def test_without_findings_unexplained_differences_are_suspects(
    small: synthetic.Scenario,
) -> None:
    data, declared, _ = synthetic.scenario(small)
    trial = declared.model_copy(update={"expected_to_vary": ()})  # the bigger instance, undeclared
    rows = {row.key: row for row in build_report(data, trial, ()).env_rows}
    assert rows["db.instance_type"].confounder  # differs, and no parameter explains it
    assert rows["db.max_connections"].differs and not rows["db.max_connections"].confounder
    assert not rows["app.version"].differs and not rows["app.version"].confounder
    # with findings, the facts the analysis named are the confounders: it agrees here
    named = {row.key: row for row in build_report(data, trial, analyze_trial(data, trial)).env_rows}
    assert named["db.writer"].confounder and named["db.instance_type"].confounder
    # and a fact the trial declares as expected to vary is no confounder for either
    found = analyze_trial(data, declared)
    kept = {row.key: row for row in build_report(data, declared, found).env_rows}
    assert kept["db.writer"].confounder and not kept["db.instance_type"].confounder


def test_runs_without_measurements_render_as_no_data(small: synthetic.Scenario) -> None:
    from dataclasses import replace

    from loadtrial.report.page import render
    from loadtrial.store.model import RunData, TrialData

    data, trial, _ = synthetic.scenario(small)
    failed = tuple(
        RunData(info=replace(r.info, status="failed", abort_reason="apply failed"), seconds=())
        for r in data.runs
    )
    failed_data = TrialData(info=data.info, runs=failed)
    assert {a.slo for a in build_report(failed_data, trial, ()).arms} == {"not analysed"}
    r = build_report(failed_data, trial, analyze_trial(failed_data, trial))
    assert {a.slo for a in r.arms} == {"no data"} and r.overall != "supported"
    assert all(a.valid_runs == 0 and a.validity for a in r.arms)
    page = render(r)
    assert 'data-chart="run"' not in page and 'data-chart="arms"' not in page
    assert "No per-second measurements" in page


def test_a_run_judged_invalid_is_left_out_of_the_arm(small: synthetic.Scenario) -> None:
    data, trial, findings = synthetic.scenario(small)
    first = data.runs[0].info
    bad = found("validity", "run", "dropped load", "invalid", {}, first.arm, first.run_id)
    before = {a.arm: a for a in build_report(data, trial, findings).arms}[first.arm]
    after = {a.arm: a for a in build_report(data, trial, (*findings, bad)).arms}[first.arm]
    assert (before.valid_runs, after.valid_runs) == (2, 1)
    assert after.requests * 2 == before.requests  # the two synthetic repetitions are alike
    assert any("dropped load" in v for v in after.validity)


def test_claims_and_load_in_words() -> None:
    from loadtrial.report.verdict import claim_text, load_text, overall_status
    from loadtrial.spec.model import Claim

    assert claim_text(Claim(arm="a", meets_slo=False)) == "a does not meet the SLO"
    by = Claim(arm="a", vs="b", metric="p99", expect="lower", by_at_least="20%")
    assert claim_text(by) == "a: p99 lower than b by at least 20%"
    trial = synthetic.make_trial(synthetic.Scenario(seconds=30))
    assert load_text(trial) == "open: ramp to 600/s over 30s; warm-up 5s"

    def views(*statuses: str) -> list[ClaimView]:
        return [
            ClaimView(i, "", st, "", None, None, None, "", False, None)
            for i, st in enumerate(statuses)
        ]

    assert overall_status(views("supported", "supported")) == "supported"
    assert overall_status(views("supported", "refuted")) == "mixed"
    assert overall_status(views("refuted", "inconclusive")) == "refuted"
    assert overall_status(views("supported", "inconclusive")) == "inconclusive"
    assert overall_status([]) == "no claims"


def test_the_story_says_what_broke_and_what_met_the_slo(small: synthetic.Scenario) -> None:
    from loadtrial.report.verdict import resource_label, story

    data, trial, findings = synthetic.scenario(small)
    r = build_report(data, trial, findings)
    broke = "db connections (db.connections.used at 100% of 20) in baseline, more-app-nodes"
    assert dict(story(r)) == {
        "What broke": broke,
        # what the passing arm changed against the first arm, and that it is confounded
        "Met the SLO": "bigger-db (db_max_connections 20 → 60) — but it rests on a confounder",
    }
    assert to_json(data, trial, findings)["story"]["What broke"] == broke
    assert (resource_label("app.cpu.util"), resource_label("db (errors)")) == (
        "app CPU",
        "db errors",
    )


def test_the_story_quotes_the_analysis_bottleneck_with_its_peak(small: synthetic.Scenario) -> None:
    from loadtrial.report.verdict import story

    data, trial, findings = synthetic.scenario(small)
    ev = {"tier": "db", "resource": "db.connections.active", "peak_util": 1.0, "capacity": 17.0}
    real = [f for f in findings if f.kind != "bottleneck"] + [
        found("bottleneck", f"arm {a}", "…", "db.connections.active", ev, a)
        for a in ("baseline", "more-app-nodes")
    ]
    told = dict(story(build_report(data, trial, real)))
    assert told["What broke"] == (
        "db connections (db.connections.active at 100% of 17) in baseline, more-app-nodes"
    )
    assert "Missed the SLO" not in told
    cpu = {"tier": "app", "resource": "app.cpu.util", "peak_util": 0.97, "capacity": 1.0,
           "unit": "ratio"}  # fmt: skip
    busy = [f for f in findings if f.kind != "bottleneck"] + [
        found("bottleneck", "arm baseline", "…", "app.cpu.util", cpu, "baseline")
    ]
    told = dict(story(build_report(data, trial, busy)))
    assert told["What broke"] == "app CPU (app.cpu.util at 97%) in baseline"


def test_a_parameter_not_in_force_shows_what_was_declared(small: synthetic.Scenario) -> None:
    data, trial, findings = synthetic.scenario(small)
    not_in_force = found(
        "confounder", "db.max_connections",
        "confounder: bigger-db declares db_max_connections=60 but db.max_connections read 20",
        "confounded",
        {"fact": "db.max_connections", "arms": ["bigger-db"],
         "values": {"bigger-db": ["20"], "declared": ["60"]}},
        "bigger-db",
    )  # fmt: skip
    r = build_report(data, trial, (*findings, not_in_force))
    row = next(x for x in r.env_rows if x.key == "db.max_connections")
    assert row.confounder
    assert row.values["bigger-db"].endswith(" (declared 60)")
    assert "declared" not in row.values["baseline"]
