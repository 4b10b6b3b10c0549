"""The demo stories on the real testbed, shortened (one repetition, ~60 % durations):
each breaks where its example says, and the analysis names that place.

Where today's analysis already names the bottleneck (lb-limit) the sentence's tier and
resource are asserted; for app-cpu and db-cpu, whose naming arrives with the per-process
CPU rule, the raw facts that rule needs are asserted (busiest app process pinned at its
core with one node and not with two; db CPU pinned with one db CPU).

A host saturated by other work starves the testbed itself; the analysis then rightly names
host CPU. Those assertions accept host saturation as the reason a tier could not reach its
own ceiling, and say so when they fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from loadtrial.commands.demo import run_demo
from loadtrial.findings import Finding, evidence_json
from loadtrial.store import Store
from loadtrial.store.model import RunData

SATURATED = 0.9


def _tell(story: str, workdir: Path) -> tuple[dict[str, RunData], tuple[Finding, ...], str]:
    """Run `story` shortened; return its runs by arm, its findings and what it printed."""
    lines: list[str] = []
    run_demo(lines.append, story=story, quick=True, workdir=workdir, quick_factor=0.6, repeat=1)
    store = Store(workdir / "results.sqlite")
    trial_id = store.latest_trial_id()
    assert trial_id is not None, "\n".join(lines)
    runs = {r.info.arm: r for r in store.load_trial(trial_id).runs}
    return runs, store.load_findings(trial_id), "\n".join(lines)


def _steady(run: RunData, name: str) -> np.ndarray:
    """The series `name` of `run` after its warmup (empty when absent)."""
    for s in run.series:
        if s.name == name:
            return np.asarray(s.values)[np.asarray(s.t_s) >= run.info.warmup_s]
    return np.asarray([])


def _share_at_least(values: np.ndarray, level: float) -> float:
    return float(np.mean(values >= level)) if values.size else 0.0


def _error_rate(run: RunData) -> float:
    secs = [s for s in run.seconds if s.second >= run.info.warmup_s]
    done = sum(s.completed for s in secs)
    return sum(sum(s.errors.values()) for s in secs) / done if done else 1.0


def _verdicts(findings: tuple[Finding, ...]) -> dict[str, str]:
    return {f.subject: f.status for f in findings if f.kind == "verdict"}


def _expected(findings: tuple[Finding, ...], arm: str) -> str:
    """What a claim on `arm` must come out as: "supported", or "inconclusive" when the
    generator fell behind in the arm's one run (the run is rightly invalid on a busy
    machine, and an arm without a valid run decides nothing — never the opposite)."""
    invalid = {f.run_id for f in findings if f.kind == "validity" and f.status == "invalid"}
    runs = {f.run_id for f in findings if f.kind == "slo" and f.arm == arm and f.run_id}
    return "inconclusive" if runs and runs <= invalid else "supported"


def _bottleneck(findings: tuple[Finding, ...], arm: str) -> Mapping[str, object]:
    for f in findings:
        if f.kind == "bottleneck" and f.arm == arm:
            return evidence_json(f.evidence)  # the keys analyze --json prints
    return {}


def _host_named(findings: tuple[Finding, ...], arm: str) -> bool:
    """True when the analysis named the host's CPU as `arm`'s bottleneck."""
    return _bottleneck(findings, arm).get("resource") == "host.cpu.util"


def _host_busy(run: RunData) -> bool:
    """True when the host's CPU was saturated most of the steady window."""
    return _share_at_least(_steady(run, "host.cpu.util"), 0.97) >= 0.5


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_lb_limit_story_names_the_balancer(tmp_path: Path) -> None:
    runs, findings, printed = _tell("lb-limit", tmp_path)
    limited, raised = runs["limit-3"], runs["limit-32"]
    why = f"{printed}\n{[(f.kind, f.arm, f.summary) for f in findings]}"
    assert limited.snapshots["before"]["lb.maxconn"] == "3", why
    assert raised.snapshots["before"]["lb.maxconn"] == "32", why
    assert _error_rate(limited) > 0.05, why  # 503s from the balancer's queue
    assert _error_rate(raised) < 0.01, why
    conns = _steady(limited, "lb.backend.connections")
    assert conns.size and conns.max() == 6, why  # 3 per node x 2 nodes, and no more
    assert _steady(limited, "lb.queue.depth").max() > 0, why
    # the sentence: "lb backend limited throughput in arm limit-3: lb.backend.connections ..."
    assert _bottleneck(findings, "limit-3").get("tier") == "lb", why
    assert _bottleneck(findings, "limit-3").get("resource") == "lb.backend.connections", why
    assert _verdicts(findings)["claim 1"] == _expected(findings, "limit-3"), why  # misses
    assert _verdicts(findings)["claim 2"] == _expected(findings, "limit-32"), why  # meets


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_app_cpu_story_pins_one_node_and_not_two(tmp_path: Path) -> None:
    runs, findings, printed = _tell("app-cpu", tmp_path)
    one, two = runs["one-node"], runs["two-nodes"]
    why = f"{printed}\n{[(f.kind, f.arm, f.summary) for f in findings]}"
    one_busy = _steady(one, "app.cpu.busiest_util")
    two_busy = _steady(two, "app.cpu.busiest_util")
    assert one.snapshots["before"]["app.nodes"] == "1", why
    assert one_busy.size and two_busy.size, why
    # one node: its one process at its core's ceiling for most of the window
    assert _share_at_least(one_busy, SATURATED) >= 0.5 or _host_busy(one), (one_busy, why)
    # two nodes: each well below it
    assert np.median(two_busy) < SATURATED, (two_busy, why)
    assert np.median(one_busy) > np.median(two_busy), why
    # the breach is latency (a backlog inside the one node), not errors
    assert _verdicts(findings)["claim 1"] == _expected(findings, "one-node"), why  # misses
    # two nodes meet the SLO; they need ~1.5 of this host's 2 cores, so a neighbour's burst
    # can take the last ones: a miss is excused only when the analysis says so itself
    two_meets = _verdicts(findings)["claim 2"] == _expected(findings, "two-nodes")
    assert two_meets or _host_named(findings, "two-nodes") or _host_busy(two), why
    # the per-process CPU rule: the one node's own core is named, not the half-idle host
    # (unless other work on this machine saturated the host first)
    named = _bottleneck(findings, "one-node")
    assert named.get("resource") == "app.cpu.busiest_util" or _host_busy(one), (named, why)
    assert named.get("tier") == "app" or _host_busy(one), (named, why)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_db_cpu_story_pins_the_db_with_one_cpu(tmp_path: Path) -> None:
    runs, findings, printed = _tell("db-cpu", tmp_path)
    why = f"{printed}\n{[(f.kind, f.arm, f.summary) for f in findings]}"
    base, more, two = runs["baseline"], runs["more-app-nodes"], runs["two-db-cpus"]
    assert two.snapshots["before"]["db.cpus"] == "2", why
    for run in (base, more):  # one db CPU: pinned, whatever the app tier does
        busy = _steady(run, "db.cpu.util")
        assert _share_at_least(busy, SATURATED) >= 0.5 or _host_busy(run), (busy, why)
    # connections are never the limit in this story
    assert _steady(more, "db.connections.active").max() <= 4 * 10 + 3, why  # pools of 10
    # two db CPUs: below their ceiling, unless other work took the host first (then the
    # analysis names host CPU for the arm: once its db read 0.90 of 2 CPUs, host at 100 %)
    two_busy = np.median(_steady(two, "db.cpu.util"))
    assert two_busy < SATURATED or _host_named(findings, "two-db-cpus") or _host_busy(two), why
    # more app nodes do not help: that arm misses the SLO too (by latency: the db CPU
    # queue, not errors, on a quiet machine)
    slo = {f.arm: f.status for f in findings if f.kind == "slo" and f.run_id is None}
    assert slo["more-app-nodes"] == "fail" or _host_busy(more), (slo, why)
    # today's analysis already names db CPU (unless the host saturated first)
    named = _bottleneck(findings, "baseline")
    assert named.get("resource") == "db.cpu.util" or _host_busy(base), (named, why)
    assert _verdicts(findings)["claim 1"] == _expected(findings, "baseline"), why  # misses
