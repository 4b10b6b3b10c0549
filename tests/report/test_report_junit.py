"""JUnit from the analysis: a case per claim and per SLO objective, skipped without data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from loadtrial.analysis import analyze_trial
from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.report.junit import junit_xml
from loadtrial.spec.model import Trial
from loadtrial.store.model import RunData, RunInfo, TrialData, TrialInfo

TRIAL = Trial.model_validate({
    "name": "t",
    "target": {"base_url": "http://127.0.0.1:8080"},
    "load": {"model": "open", "stages": [{"rate": 100, "duration": "20s"}]},
    "arms": {"fast": {}, "slow": {}, "gone": {}},
    "slo": {"p99": "50ms", "error_rate": "1%"},
    "expect": [
        {"arm": "fast", "meets_slo": True},
        {"arm": "slow", "meets_slo": True},
        {"arm": "gone", "meets_slo": True},
    ],
})  # fmt: skip


def _run(run_id: int, arm: str, latency_ms: float, seconds: int) -> RunData:
    hist = histogram.encode(histogram.from_values_us([latency_ms * 1000] * 100))
    secs = tuple(
        IntervalStats(k, offered=100, sent=100, completed=100, ok=100, latency_hist=hist)
        for k in range(seconds)
    )
    status = "complete" if seconds else "failed"
    info = RunInfo(run_id, 1, arm, 1, run_id - 1, status, {}, 0.0, float(seconds), 0.0)
    return RunData(info, secs)


def _cases() -> dict[str, ET.Element]:
    runs = (_run(1, "fast", 10, 20), _run(2, "slow", 80, 20), _run(3, "gone", 10, 0))
    data = TrialData(TrialInfo(1, "t", "", 0.0, "", "", "", "complete"), runs)
    root = ET.fromstring(junit_xml("t", analyze_trial(data, TRIAL)))
    return {f"{c.get('classname')}/{c.get('name')}": c for c in root.iter("testcase")}


def test_one_case_per_claim_and_objective_with_time() -> None:
    cases = _cases()
    assert set(cases) == {
        "t.claims/claim 1 (fast meets the SLO)",
        "t.claims/claim 2 (slow meets the SLO)",
        "t.claims/claim 3 (gone meets the SLO)",
        "t.slo.fast/p99", "t.slo.fast/error_rate",
        "t.slo.slow/p99", "t.slo.slow/error_rate",
        "t.slo.gone/p99", "t.slo.gone/error_rate",
    }  # fmt: skip
    assert cases["t.slo.fast/p99"].get("time") == "20"
    assert cases["t.claims/claim 1 (fast meets the SLO)"].get("time") == "20"


def test_failures_and_skips_follow_the_verdict() -> None:
    cases = _cases()

    def outcome(key: str) -> str:
        kids = [k.tag for k in cases[key]]
        return next((t for t in ("failure", "skipped") if t in kids), "pass")

    assert outcome("t.claims/claim 1 (fast meets the SLO)") == "pass"
    assert outcome("t.claims/claim 2 (slow meets the SLO)") == "failure"
    assert outcome("t.slo.slow/p99") == "failure" and outcome("t.slo.slow/error_rate") == "pass"
    # an arm without a valid run: nothing to judge, said as a skip with the reason
    assert outcome("t.claims/claim 3 (gone meets the SLO)") == "skipped"
    assert outcome("t.slo.gone/p99") == "skipped"
    assert "no valid run" in (cases["t.slo.gone/p99"].find("skipped").get("message") or "")
