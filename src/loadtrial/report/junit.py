"""JUnit XML for CI: one test case per claim and per SLO objective of each arm.

In: the trial's name and the analysis findings. Out: a JUnit document whose cases mirror
the verdict: a refuted or inconclusive claim and a missed objective are failures, a check
with no data to judge (an arm without a valid run) is skipped with the reason, and each
case's `time` is the seconds of load its figures rest on.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from loadtrial.findings import Finding, SloEvidence, VerdictEvidence


def _case(suite: ET.Element, classname: str, name: str, seconds: float) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=classname, name=name, time=f"{seconds:g}")


def _claim_cases(suite: ET.Element, trial: str, findings: Sequence[Finding]) -> None:
    seconds = _arm_seconds(findings)
    for f in (f for f in findings if f.kind == "verdict"):
        vs = f.evidence.vs if isinstance(f.evidence, VerdictEvidence) else ""
        arms = {f.arm, vs} - {""}
        case = _case(suite, f"{trial}.claims", f.summary.split(":")[0], sum(
            seconds.get(a, 0.0) for a in arms))  # fmt: skip
        if f.status == "supported":
            ET.SubElement(case, "system-out").text = f.summary
        elif not any(seconds.get(a) for a in arms):
            ET.SubElement(case, "skipped", message=f"no data: {f.summary}")
        else:
            ET.SubElement(case, "failure", message=f.summary).text = f.summary


def _slo_cases(suite: ET.Element, trial: str, findings: Sequence[Finding]) -> None:
    for f, e in _arm_slos(findings):
        for o in e.objectives:
            case = _case(suite, f"{trial}.slo.{f.arm}", o.name, e.seconds)
            text = f"{f.arm}: {o.name} {o.value} (limit {o.limit})"
            if f.status == "no_data":
                ET.SubElement(case, "skipped", message=f.summary)
            elif o.met:
                ET.SubElement(case, "system-out").text = text
            else:
                ET.SubElement(case, "failure", message=f.summary).text = text


def _arm_seconds(findings: Sequence[Finding]) -> dict[str, float]:
    """Seconds of steady load behind each arm's pooled figures."""
    return {f.arm: e.seconds for f, e in _arm_slos(findings) if f.status != "no_data"}


def _arm_slos(findings: Sequence[Finding]) -> list[tuple[Finding, SloEvidence]]:
    """The arms' pooled slo findings with their evidence."""
    return [
        (f, f.evidence)
        for f in findings
        if isinstance(f.evidence, SloEvidence) and f.run_id is None
    ]


def junit_xml(trial: str, findings: Sequence[Finding]) -> str:
    """The JUnit document of a trial's findings (see the module docstring)."""
    suite = ET.Element("testsuite", name=f"loadtrial.{trial}")
    _claim_cases(suite, trial, findings)
    _slo_cases(suite, trial, findings)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    suite.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
    suite.set("errors", "0")
    suite.set("time", f"{sum(float(c.get('time', 0)) for c in cases):g}")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
