"""Findings through a real SQLite store: every kind of typed evidence comes back equal,
and findings saved before the evidence was typed (a flat JSON mapping) still load."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from loadtrial.findings import (
    BottleneckEvidence,
    ComparisonEvidence,
    ConfounderEvidence,
    Demand,
    Effect,
    Finding,
    Limit,
    NoBottleneck,
    Objective,
    QuietTier,
    ResourceErrors,
    ResourceSaturated,
    RunWindow,
    SloClaimFigures,
    SloEvidence,
    UslFit,
    UslNotFitted,
    ValidityEvidence,
    VerdictEvidence,
    finding_json,
)
from loadtrial.store import Store

WINDOW = RunWindow(5, 40, "ramp end + 5 s", 21, None)
SLO = SloEvidence(
    requests=4000, errors=12, error_rate=0.003, throughput_per_s=114.2, seconds=35,
    latency_us=((50.0, 2100.0), (99.0, 48000.0), (99.9, None)), request=None,
    objectives=(Objective("p99", 0.2, 0.048, True),), breaches=(), window=WINDOW,
)  # fmt: skip
NO_DATA = SloEvidence(
    0, 0, 0.0, 0.0, 0, ((99.0, None),), "browse", (Objective("p99", 0.2, None, False),)
)
EFFECT = Effect(
    metric="p99", unit="s", arm="bigger-db", vs="baseline", request="", level_arm=0.05,
    level_vs=0.2, difference=-0.15, relative=-0.75, ci=(-0.2, -0.1),
    relative_ci=(-1.0, -0.5), p_value=0.001, df=3.2, tolerance=0.05, n_runs=(3, 3),
    test="t over runs",
)  # fmt: skip
CLAIM = {"arm": "bigger-db", "metric": "p99", "expect": "lower", "vs": "baseline"}
LIMIT = Limit("db.connections.used", 18.0, 1.0, 20.0, "count", 0.8, 2.5, 150.0, ("app.cpu.util",))
BOTTLENECK = BottleneckEvidence(
    tier="db", per_run={"1": "db.connections.used"}, runs_saturated=1, runs=1,
    not_helping=("app",), not_limits={"app": QuietTier("app.cpu.util", 0.4)},
    missing_tiers=(), onset_s=20, latency_onset_s=20, error_onset_s=None,
    throughput_per_s=120.0, steady_offered_per_s=150.0, peaks={"db.connections.used": 1.0},
    demand={"db.connections.used": Demand(8.0, 125.0, 0.95)}, d_max="db.connections.used",
    error_series={}, at_capacity=None, limit=LIMIT,
)  # fmt: skip
EVERY_KIND = [
    Finding("slo", "run 1", "run 1 meets the SLO", "pass", SLO, "a", 1),
    Finding("slo", "arm a", "no data", "no_data", NO_DATA, "a"),
    Finding(
        "comparison", "a vs b: p99", "lower", "lower", ComparisonEvidence(EFFECT, "CI < 0"), "a"
    ),
    Finding(
        "verdict",
        "claim 1",
        "SUPPORTED",
        "supported",
        VerdictEvidence(CLAIM, "CI < 0", (), effect=EFFECT),
        "bigger-db",
    ),
    Finding(
        "verdict",
        "claim 2",
        "SUPPORTED",
        "supported",
        VerdictEvidence(
            {"arm": "a", "meets_slo": True}, "met", ("db.writer",), slo=SloClaimFigures(SLO, 0, 3)
        ),
        "a",
    ),
    Finding(
        "validity",
        "run 2",
        "invalid",
        "invalid",
        ValidityEvidence(("fell behind",), ("note",), ("db",), 12, "complete", ""),
        "a",
        2,
    ),
    Finding(
        "saturation",
        "db.cpu.util",
        "saturated",
        "saturated",
        ResourceSaturated(18.0, 0.99, 0.9, 2.0, 22.0, "db.cpu.util", "db"),
        "a",
        1,
    ),
    Finding(
        "saturation",
        "db.errors",
        "errors",
        "errors",
        ResourceErrors(30.0, 12.0, "db.errors", "db"),
        "a",
        1,
    ),
    Finding("bottleneck", "arm a", "db limited", "db.connections.used", BOTTLENECK, "a"),
    Finding(
        "bottleneck",
        "arm b",
        "nothing",
        "none",
        NoBottleneck({"2": "none"}, ("lb",), {"app.cpu.util": 0.3}, {}),
        "b",
    ),
    Finding(
        "confounder",
        "db.writer",
        "confounder",
        "confounded",
        ConfounderEvidence("db.writer", ("a", "b"), {"a": ("db-1",), "b": ("db-2", 3)}),
        "",
    ),
    Finding(
        "scalability",
        "usl app_nodes",
        "fit",
        "fit",
        UslFit(
            0.1,
            0.01,
            100.0,
            0.02,
            0.001,
            5.0,
            None,
            None,
            0.98,
            4,
            ((1.0, 100.0), (2.0, 180.0)),
            "app_nodes",
        ),
    ),
    Finding(
        "scalability",
        "usl app_nodes",
        "not fitted",
        "not_fitted",
        UslNotFitted(((1.0, 100.0),), "app_nodes", (1.0,)),
    ),
]


def test_every_finding_kind_comes_back_from_the_store_equal(tmp_path: Path) -> None:
    kinds = {f.kind for f in EVERY_KIND}
    assert kinds == {"slo", "comparison", "verdict", "validity", "saturation", "bottleneck",
                     "confounder", "scalability"}  # fmt: skip
    with Store(tmp_path / "r.db") as store:
        tid = store.create_trial(name="t", file_path="t.yaml", file_text="")
        store.save_findings(tid, EVERY_KIND)
        back = store.load_findings(tid)
    assert list(back) == EVERY_KIND
    assert [type(f.evidence) for f in back] == [type(f.evidence) for f in EVERY_KIND]


def test_findings_saved_as_a_mapping_before_typing_still_load(tmp_path: Path) -> None:
    """A row as the store wrote it before typed evidence (dataclasses.asdict of a Finding
    whose evidence was a dict: the keys the analysis wrote, some absent in older versions)."""
    path = tmp_path / "old.db"
    with Store(path) as store:
        tid = store.create_trial(name="t", file_path="t.yaml", file_text="")
    old = [
        {"kind": "slo", "subject": "arm a", "summary": "arm a meets the SLO", "status": "pass",
         "evidence": {"requests": 4000, "errors": 12, "error_rate": 0.003,
                      "throughput_per_s": 114.2, "seconds": 35, "p50_us": 2100.0,
                      "p99_us": 48000.0, "p99.9_us": None},
         "arm": "a", "run_id": None},
        {"kind": "bottleneck", "subject": "arm a", "summary": "db limited",
         "status": "db.connections.used",
         "evidence": {"tier": "db", "resource": "db.connections.used", "saturated_at_s": 18,
                      "peak_util": 1.0, "capacity": 20, "unit": "count", "onset_s": 20.0,
                      "not_limits": {"app": {"series": "app.cpu.util", "peak_util": 0.4}}},
         "arm": "a", "run_id": None},
        {"kind": "verdict", "subject": "claim 1", "summary": "claim 1: SUPPORTED",
         "status": "supported",
         "evidence": {**{k: v for k, v in finding_json(EVERY_KIND[2])["evidence"].items()
                         if k != "reason"},
                      "claim": CLAIM, "reason": "CI < 0", "confounded_by": []},
         "arm": "bigger-db", "run_id": None},
    ]  # fmt: skip
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO findings VALUES (?,?,?)",
            [(tid, i, json.dumps(doc)) for i, doc in enumerate(old)],
        )
    with Store(path) as store:
        slo, neck, verdict = store.load_findings(tid)
    assert isinstance(slo.evidence, SloEvidence) and slo.evidence.latency_at(99.0) == 48000.0
    assert slo.evidence.latency_at(99.9) is None and slo.evidence.window is None
    assert slo.evidence.breaches is None and slo.evidence.objectives == ()
    assert isinstance(neck.evidence, BottleneckEvidence) and neck.evidence.limit is not None
    assert neck.evidence.limit.capacity == 20.0 and neck.evidence.onset_s == 20.0
    assert neck.evidence.not_limits == {"app": QuietTier("app.cpu.util", 0.4)}
    assert neck.evidence.demand == {} and neck.evidence.runs == 0  # absent: the defaults
    assert verdict.evidence == VerdictEvidence(CLAIM, "CI < 0", (), effect=EFFECT)


def test_a_finding_refuses_another_kinds_evidence() -> None:
    try:
        Finding("slo", "run 1", "?", "pass", NoBottleneck({}, (), {}, {}))
    except TypeError as exc:
        assert "slo finding with NoBottleneck" in str(exc)
    else:
        raise AssertionError("a slo finding took bottleneck evidence")
