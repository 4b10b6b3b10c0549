"""The report's arms × requests table: each request's figures by the analysis' estimates."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from loadtrial.analysis import analyze_trial
from loadtrial.analysis.estimate import pooled_value
from loadtrial.analysis.runview import build_run_view
from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats
from loadtrial.load.recorder import merge_intervals
from loadtrial.report import build_report
from loadtrial.report.page import render
from loadtrial.spec.model import Trial
from loadtrial.store.model import RunData, RunInfo, TrialData, TrialInfo


def _part(k: int, values_us: np.ndarray, errors: dict[str, int]) -> IntervalStats:
    enc = hdr.encode(hdr.from_values_us(values_us))
    n, bad = len(values_us), sum(errors.values())
    return IntervalStats(k, n, n, n, n - bad, errors=errors, latency_hist=enc, uncorrected_hist=enc)


def _run(run_id: int, arm: str, pay_ms: float) -> RunData:
    rng = np.random.default_rng(run_id)
    seconds = []
    for k in range(30):
        browse = _part(k, rng.lognormal(np.log(5000), 0.2, 200), {})
        pay = _part(k, rng.lognormal(np.log(pay_ms * 1000), 0.2, 40), {"check:json:$.ok": 4})
        whole = merge_intervals(k, [browse, pay])
        seconds.append(replace(whole, requests={"browse": browse, "pay": pay}))
    info = RunInfo(run_id, 1, arm, 1, run_id - 1, "complete", {}, 0.0, 30.0, 2.0)
    return RunData(info, tuple(seconds))


def test_arms_by_requests_table() -> None:
    trial = Trial.model_validate({
        "name": "shop", "target": {"base_url": "http://127.0.0.1:8080"},
        "load": {"warmup": "2s", "stages": [{"rate": 240, "duration": "30s"}],
                 "requests": [{"name": "browse"}, {"name": "pay", "path": "/pay"}]},
        "arms": ["slow", "fast"],
    })  # fmt: skip
    runs = (_run(1, "slow", 200.0), _run(2, "fast", 50.0))
    data = TrialData(TrialInfo(1, "shop", "", 0.0, "t.yaml", "", "", "complete"), runs)
    report = build_report(data, trial, analyze_trial(data, trial))
    cells = {(c.arm, c.request): c for c in report.requests}
    assert set(cells) == {(a, r) for a in ("slow", "fast") for r in ("browse", "pay")}
    for (arm, name), cell in cells.items():
        sample = build_run_view(runs[0 if arm == "slow" else 1], request=name).sample
        assert cell.latency_ms["p99"].value == pooled_value("p99", [sample]) * 1e-3
        assert cell.requests == int(sample.completed.sum())
    assert cells[("slow", "pay")].errors_by_kind == {"check:json:$.ok": 4 * 28}
    assert cells[("slow", "pay")].error_rate == 0.1 and cells[("fast", "browse")].error_rate == 0.0
    assert (cells[("slow", "pay")].latency_ms["p50"].value or 0) > 150  # ms: pay is slow
    page = render(report, compress_js=False)
    assert '<section id="requests"' in page and "check:json:$.ok" in page


def test_one_request_name_has_no_requests_table() -> None:
    trial = Trial.model_validate({
        "name": "one", "target": {"base_url": "http://127.0.0.1:8080"},
        "load": {"stages": [{"rate": 10, "duration": "30s"}]},
    })  # fmt: skip
    rng = np.random.default_rng(0)
    secs = tuple(_part(k, rng.lognormal(8, 0.2, 10), {}) for k in range(30))
    run = RunData(RunInfo(1, 1, "default", 1, 0, "complete", {}, 0.0, 30.0, 0.0), secs)
    data = TrialData(TrialInfo(1, "one", "", 0.0, "t.yaml", "", "", "complete"), (run,))
    report = build_report(data, trial, analyze_trial(data, trial))
    assert report.requests == ()
    assert '<section id="requests"' not in render(report, compress_js=False)
