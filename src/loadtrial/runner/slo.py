"""SLO checks per run, from the stored seconds (warmup excluded), and their JUnit XML.

In: TrialData and the trial's `slo:`. Out: one `SloCheck` per run × objective (limit,
measured value, pass/fail), and a JUnit XML document (one testcase per check) for CI.
This is the runner's own small judge, used for `--junit` and for the exit code when the
analysis package is not available; the analysis gives the full verdicts.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from loadtrial.load.pooled import after_warmup, pool
from loadtrial.spec.model import SloSpec
from loadtrial.store.model import RunData, TrialData
from loadtrial.units import format_ms

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


@dataclass(frozen=True)
class SloCheck:
    """One objective judged on one run."""

    run_id: int
    arm: str
    repetition: int
    objective: str  # p50 | p90 | p99 | p999 | error_rate | min_throughput
    limit: float  # seconds, fraction or req/s
    value: float | None  # None: no data to judge
    passed: bool

    def describe(self) -> str:
        """e.g. 'p99 212ms vs limit 500ms: pass'."""
        value, limit = _fmt(self.objective, self.value), _fmt(self.objective, self.limit)
        return f"{self.objective} {value} vs limit {limit}: {'pass' if self.passed else 'fail'}"


def _fmt(objective: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if objective in PERCENTILES:
        return format_ms(value * 1e6)
    if objective == "error_rate":
        return f"{value:.2%}"
    return f"{value:.1f}/s"


def run_values(run: RunData) -> dict[str, float | None]:
    """Measured p50..p999 (s), error_rate and throughput (req/s) after the warmup."""
    seconds = after_warmup(run.seconds, run.info.warmup_s)
    window = pool(seconds)
    out: dict[str, float | None] = {
        name: window.quantile_s(pct) for name, pct in PERCENTILES.items()
    }
    out["error_rate"] = window.error_rate
    out["min_throughput"] = window.throughput_per_s if seconds else None
    return out


def slo_checks(data: TrialData, slo: SloSpec) -> list[SloCheck]:
    """Every objective of `slo` on every run that has seconds."""
    limits = {k: v for k, v in slo.model_dump().items() if v is not None}
    out: list[SloCheck] = []
    for run in data.runs:
        if not run.seconds:
            continue
        values = run_values(run)
        for name, limit in limits.items():
            value = values.get(name)
            if name == "min_throughput":
                passed = value is not None and value >= limit
            else:
                passed = value is not None and value <= limit
            info = run.info
            out.append(SloCheck(info.run_id, info.arm, info.repetition, name, limit, value, passed))
    return out


def junit_xml(trial_name: str, checks: Sequence[SloCheck]) -> str:
    """A JUnit XML document: one testsuite for the trial, one testcase per check."""
    failures = sum(not c.passed for c in checks)
    suite = ET.Element(
        "testsuite", name=f"loadtrial.{trial_name}", tests=str(len(checks)),
        failures=str(failures), errors="0",
    )  # fmt: skip
    for c in checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"{trial_name}.{c.arm}",
            name=f"run {c.run_id} rep {c.repetition}: {c.objective}",
        )  # fmt: skip
        if not c.passed:
            ET.SubElement(case, "failure", message=c.describe()).text = c.describe()
        else:
            ET.SubElement(case, "system-out").text = c.describe()
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
