"""The analyze and fit usl commands, invoked as a user would, against a real SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from analysis_synth import RunPlan, make_trial_data, trial_from

from loadtrial.analysis.scalability import usl
from loadtrial.cli import main
from loadtrial.commands.analyze import analyze_command
from loadtrial.store import Store
from loadtrial.store.model import Event

DOC = {
    "name": "cli-trial",
    "target": {"base_url": "http://127.0.0.1:8080"},
    "load": {"model": "open", "warmup": "5s", "stages": [{"rate": 200, "duration": "40s"}]},
    "arms": {"a": {}},
    "slo": {"p99": "200ms"},
    "expect": [{"arm": "a", "meets_slo": True}],
}


def _store_trial(path: Path, plan: RunPlan) -> int:
    trial = trial_from(**DOC)
    data = make_trial_data(trial, [plan])
    with Store(path) as store:
        tid = store.create_trial(
            name="cli-trial", file_path="t.yaml", file_text=yaml.safe_dump(DOC)
        )
        for run in data.runs:
            rid = store.create_run(tid, arm=run.info.arm, repetition=1, order_index=0,
                                   params={}, warmup_s=run.info.warmup_s)  # fmt: skip
            for second in run.seconds:
                store.add_interval(rid, second)
            for event in run.events:
                store.add_event(rid, event)
            store.finish_run(rid, run.info.status)
    return tid


def test_analyze_latest_trial_as_json_stores_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    tid = _store_trial(db, RunPlan("a", latency_ms=20))
    assert main(["analyze", "--store", str(db), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["trial_id"] == tid and doc["exit_code"] == 0
    verdict = next(f for f in doc["findings"] if f["kind"] == "verdict")
    assert verdict["status"] == "supported"
    with Store(db) as store:
        assert any(f.kind == "verdict" for f in store.load_findings(tid))


def test_analyze_refuted_claim_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    _store_trial(db, RunPlan("a", latency_ms=400))
    assert main(["analyze", "cli-trial", "--store", str(db)]) == 1
    out = capsys.readouterr()
    assert "REFUTED" in out.out and "not supported: claim 1" in out.err
    assert "verdict: REFUTED  cli-trial" in out.out  # the report's verdict panel closes it
    assert analyze_command("cli-trial", str(db), as_json=False) == 1


def test_analyze_invalid_only_run_is_inconclusive(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _store_trial(
        db, RunPlan("a", send_lag_us=90_000, events=(Event(0.0, "load_invalid", "fell behind"),))
    )
    assert analyze_command(None, str(db), as_json=False) == 1


def test_analyze_empty_store_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", "--store", str(tmp_path / "none.db")]) == 2
    assert f"no results store at {tmp_path / 'none.db'}" in capsys.readouterr().err
    assert not (tmp_path / "none.db").exists()  # looking did not create an empty store
    from loadtrial.store import Store

    Store(tmp_path / "empty.db").close()
    assert main(["analyze", "--store", str(tmp_path / "empty.db")]) == 2
    assert "no trial" in capsys.readouterr().err


def test_fit_usl_prints_the_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = np.array([1, 2, 4, 8, 16, 32], dtype=float)
    csv = tmp_path / "u.csv"
    csv.write_text(
        "n,throughput\n"
        + "".join(f"{a:g},{b:.4f}\n" for a, b in zip(n, usl(n, 0.05, 0.002, 100), strict=True))
    )
    assert main(["fit", "usl", str(csv), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["sigma"] == pytest.approx(0.05, rel=0.01) and doc["kappa"] == pytest.approx(
        0.002, rel=0.01
    )
    assert {"lambda", "peak_n", "peak_throughput", "r2"} <= set(doc)
    assert main(["fit", "usl", str(csv)]) == 0
    assert "peak_throughput" in capsys.readouterr().out


def test_fit_usl_bad_csv_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("x,y\n1,2\n")
    assert main(["fit", "usl", str(csv)]) == 2
    assert "n,throughput" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("n,throughput\n1,100\n2,abc\n", ":3: throughput 'abc' is not a number"),
        ("n;throughput\n1;100\n", ":1: expected the columns n,throughput, found 'n;throughput'"),
        ("n,throughput\n1,100\n4,\n", ":3: throughput '' is not a number"),
        ("", ":1: expected the columns n,throughput, found 'an empty file'"),
    ],
)
def test_fit_usl_bad_cell_names_the_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, where: str
) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text(text)
    assert main(["fit", "usl", str(csv)]) == 2
    err = capsys.readouterr().err
    assert f"{csv}{where}" in err and "Traceback" not in err


def test_fit_usl_header_case_spaces_and_blank_lines_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = np.array([1.0, 2, 4, 8, 16])
    rows = "".join(f"{a:g}, {b:.4f}\n\n" for a, b in zip(n, usl(n, 0.05, 0.002, 100), strict=True))
    csv = tmp_path / "points.csv"
    csv.write_text("\ufeffN, Throughput\n" + rows)
    assert main(["fit", "usl", str(csv), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["n_points"] == 5 and fit["sigma"] == pytest.approx(0.05, abs=1e-3)


def test_analyze_honours_root_quiet_and_verbose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    _store_trial(db, RunPlan("a", latency_ms=20))
    assert main(["-v", "analyze", "--store", str(db)]) == 0
    loud = capsys.readouterr()
    assert "findings saved in" in loud.err and "verdict:" in loud.out
    assert main(["-q", "analyze", "--store", str(db)]) == 0
    quiet = capsys.readouterr()
    assert "SUPPORTED" in quiet.out  # the findings are the result: -q keeps them
    assert "verdict:" not in quiet.out and "findings saved" not in quiet.err
