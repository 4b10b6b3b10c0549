"""The runner's own SLO judge, JUnit output and trial status, on synthetic stored data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.runner.finish import trial_status
from loadtrial.runner.slo import junit_xml, run_values, slo_checks
from loadtrial.spec.model import SloSpec
from loadtrial.store.model import RunData, RunInfo, TrialData, TrialInfo


def _run(run_id: int, latency_ms: float, errors: int, warmup_s: float = 0.0) -> RunData:
    hist = histogram.encode(histogram.from_values_us([latency_ms * 1000] * 100))
    warm = histogram.encode(histogram.from_values_us([5_000_000] * 100))  # 5 s, in warmup only
    seconds = [IntervalStats(0, completed=100, latency_hist=warm, errors={"timeout": 100})]
    seconds += [
        IntervalStats(k, completed=100, ok=100 - errors, errors={"http_500": errors},
                      latency_hist=hist)
        for k in (1, 2)
    ]  # fmt: skip
    info = RunInfo(run_id, 1, f"arm{run_id}", 1, run_id - 1, "complete", {}, 0.0, 3.0, warmup_s)
    return RunData(info, tuple(seconds))


def _trial(*runs: RunData) -> TrialData:
    return TrialData(TrialInfo(1, "t", "", 0.0, "", "", "", "complete"), runs)


def test_warmup_seconds_are_left_out() -> None:
    values = run_values(_run(1, 10, 0, warmup_s=1))
    assert values["p99"] == pytest.approx(0.010, rel=0.01)
    assert values["error_rate"] == 0 and values["min_throughput"] == 100
    with_warmup = run_values(_run(1, 10, 0, warmup_s=0))
    assert with_warmup["p99"] == pytest.approx(5.0, rel=0.01)


def test_checks_and_junit() -> None:
    slo = SloSpec.model_validate({"p99": "50ms", "error_rate": "1%", "min_throughput": 90})
    checks = slo_checks(_trial(_run(1, 10, 0, 1), _run(2, 80, 5, 1)), slo)
    assert [(c.run_id, c.objective, c.passed) for c in checks] == [
        (1, "p99", True), (1, "error_rate", True), (1, "min_throughput", True),
        (2, "p99", False), (2, "error_rate", False), (2, "min_throughput", True),
    ]  # fmt: skip
    assert checks[3].describe() == "p99 80ms vs limit 50ms: fail"
    root = ET.fromstring(junit_xml("t", checks))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "6" and suite.get("failures") == "2"
    assert len(root.findall(".//failure")) == 2


def test_trial_status_precedence() -> None:
    assert trial_status([(1, "complete"), (2, "aborted")], False, False) == "aborted"
    assert trial_status([(1, "failed"), (2, "aborted")], False, False) == "failed"
    assert trial_status([(1, "complete")], False, True) == "failed"
    assert trial_status([(1, "interrupted")], True, False) == "interrupted"
    assert trial_status([(1, "complete")], False, False) == "complete"
