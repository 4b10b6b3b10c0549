"""The trial commands end to end: exit codes, output, Ctrl-C, the allow-list, the store."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fileserver import FileServer, trial_text

from loadtrial.cli import main
from loadtrial.observe.model import Sample
from loadtrial.store import Store


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "trial.yaml"
    path.write_text(text)
    return path


def test_validate_ok_and_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path, "name: v\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
                  "load: {stages: [{rate: 1, duration: 3s}]}\nrepeat: 2\n")  # fmt: skip
    assert main(["validate", str(good)]) == 0
    assert "ok — 1 arm(s) × 2 = 2 run(s), about 6s" in capsys.readouterr().out
    bad = _write(tmp_path, good.read_text() + "repeat: x\nordre: random\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5: repeat: duplicate key 'repeat'" in err
    assert f"{bad}:6: ordre: unknown field 'ordre' (did you mean 'order'?)" in err
    assert "Traceback" not in err


def test_schema_and_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "loadtrial trial file"
    path = _write(tmp_path, "name: p\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
                  "load: {stages: [{rate: 1, duration: 3s}]}\narms: {a: {}, b: {}}\n")  # fmt: skip
    assert main(["plan", str(path), "--arm", "b"]) == 0
    out = capsys.readouterr().out
    assert "1. b" in out and " a " not in out and "estimated duration: 3s" in out


def test_disallowed_target_is_refused_before_anything_is_sent(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a name that only starts like a loopback address (it resolves elsewhere, or nowhere)
    text = trial_text(file_server).replace("127.0.0.1", "127.evil.example", 1)
    db = tmp_path / "r.db"
    assert main(["run", str(_write(tmp_path, text)), "--store", str(db)]) == 2
    err = capsys.readouterr().err
    assert "target.base_url: 127.evil.example" in err and "nothing will be sent" in err
    assert file_server.hits == [] and not file_server.behaviour.exists()  # no apply, no load
    assert not db.exists()


def test_run_then_ls_show_export_junit(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, junit = tmp_path / "r.db", tmp_path / "junit.xml"
    # 4 s at 40/s: enough requests (≥ 100) for the analysis to judge each arm. Answers
    # take 500 ms, so a generator running late on a busy machine (send lag of tens of ms)
    # stays minor against the p99 and the analysis keeps the runs instead of voiding them;
    # 40/s needs only ~20 connections, so opening them adds little lag of its own.
    text = trial_text(file_server, rate=40, seconds=4, delay_ms=500)
    text += "slo: {error_rate: 1%}\n"
    args = ["run", str(_write(tmp_path, text)), "--store", str(db), "--junit", str(junit)]
    rc = main([*args, "--no-live"])
    said = capsys.readouterr()  # what the run printed: shown if an assertion below fails
    assert rc == 1, said  # the broken arm misses its SLO
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert [c.get("classname") for c in cases] == ["shell-arms.slo.good", "shell-arms.slo.broken"]
    assert [c.find("failure") is not None for c in cases] == [False, True], said
    assert main(["ls", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "trial 1  shell-arms  [complete]" in out and "broken" in out
    assert main(["ls", "--store", str(db), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["status"], len(t["runs"])) for t in listed] == [
        ("shell-arms", "complete", 2)
    ]
    assert main(["show", "last", "--store", str(db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["arm"] == "broken" and shown["load"]["errors"]["http_503"] >= 15
    assert main(["export", "1", "--store", str(db), "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("second,offered,sent,completed,ok,errors,dropped,p50_ms")
    assert len(rows) >= 2
    assert main(["export", "1", "--store", str(db), "--format", "xml"]) == 2


def test_show_gives_each_tiers_peak_utilisation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    with Store(db) as store:
        tid = store.create_trial(name="peaks")
        rid = store.create_run(tid, arm="a", repetition=1, order_index=0, params={})
        store.add_samples(rid, [Sample(t, "db.connections.used", v, "count", 100)
                                for t, v in ((0.0, 20), (1.0, 97), (2.0, 50))])  # fmt: skip
        store.add_samples(rid, [Sample(1.0, "db.cpu", 150.0, "percent", 400.0)])
        store.add_samples(rid, [Sample(1.0, "app.rss", 1e6, "bytes")])  # no capacity: no peak
    assert main(["show", str(rid), "--store", str(db), "--json"]) == 0
    peaks = json.loads(capsys.readouterr().out)["peak_utilisation"]
    assert peaks == {"db": {"series": "db.connections.used", "utilisation": 0.97, "value": 97.0,
                            "capacity": 100.0, "t_s": 1.0}}  # fmt: skip
    assert main(["show", str(rid), "--store", str(db)]) == 0
    assert (
        "peak db: 97% of capacity (db.connections.used 97/100 at t=1s)" in capsys.readouterr().out
    )
    assert main(["show", "99", "--store", str(db)]) == 2  # a bad run id is the user's mistake
    assert main(["ls", "--store", str(tmp_path / "none.db")]) == 2
    assert not (tmp_path / "none.db").exists()


def test_show_of_a_run_without_load_and_unwritable_outputs(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    with Store(db) as store:
        tid = store.create_trial(name="empty")
        rid = store.create_run(tid, arm="a", repetition=1, order_index=0, params={"x": 1})
    assert main(["show", str(rid), "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "load: none measured" in out and "p99 0.00ms" not in out
    missing = tmp_path / "no-such-folder"
    assert main(["export", str(rid), "--store", str(db), "-o", str(missing / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "--output: folder" in err and "Traceback" not in err
    # --junit is checked before the trial starts: nothing applied, nothing sent, no store.
    trial = _write(tmp_path, trial_text(file_server))
    db2 = tmp_path / "r2.db"
    assert main(["run", str(trial), "--store", str(db2), "--junit", str(missing / "j.xml")]) == 2
    assert "--junit: folder" in capsys.readouterr().err
    assert file_server.hits == [] and not db2.exists()


def test_dry_run_and_an_unknown_arm_create_no_store(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trial, db = _write(tmp_path, trial_text(file_server)), tmp_path / "r.db"
    assert main(["run", str(trial), "--store", str(db), "--dry-run"]) == 0
    assert "1. good" in capsys.readouterr().out  # the plan is the output, as `loadtrial plan`
    assert main(["run", str(trial), "--store", str(db), "--arm", "nope"]) == 2
    assert "no arm named 'nope'" in capsys.readouterr().err
    assert not db.exists() and file_server.hits == []


def _wait_for_a_second(db: Path, proc: subprocess.Popen[Any], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            conn = sqlite3.connect(db, timeout=1.0)
            try:
                n = conn.execute("SELECT count(*) FROM seconds").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            finally:
                conn.close()
            if n >= 1:
                return
        time.sleep(0.1)
    raise AssertionError("the run never recorded a second")


def test_ctrl_c_keeps_the_data_reverts_and_exits_3(file_server: FileServer, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    text = trial_text(file_server, arms="  good: {status: 200}\n", seconds=20) + "repeat: 2\n"
    args = [sys.executable, "-m", "loadtrial.cli", "run", str(_write(tmp_path, text)),
            "--store", str(db), "--no-live"]  # fmt: skip
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            _wait_for_a_second(db, proc)
            assert file_server.behaviour.exists()  # applied
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 3, err
    assert "interrupted" in err and "Traceback" not in err
    assert not file_server.behaviour.exists()  # reverted
    with Store(db) as store:
        data = store.load_trial(1)
    first, second = data.runs
    assert data.info.status == "interrupted"
    assert first.info.status == "interrupted" and len(first.seconds) >= 1
    assert len(first.seconds) < 15 and first.actions[-1].name.startswith("revert")
    assert first.actions[-1].status == "ok" and second.info.status == "planned"


def test_sigkill_mid_run_keeps_the_seconds_and_marks_the_run_incomplete(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "r.db"
    text = trial_text(file_server, arms="  good: {status: 200}\n", seconds=20)
    args = [sys.executable, "-m", "loadtrial.cli", "run", str(_write(tmp_path, text)),
            "--store", str(db), "--no-live"]  # fmt: skip
    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        try:
            _wait_for_a_second(db, proc)
            time.sleep(1.0)
            proc.kill()
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    with Store(db) as store:  # the next open notices the dead process
        data = store.load_trial(1)
    run = data.runs[0]
    assert data.info.status == "incomplete" and run.info.status == "incomplete"
    assert len(run.seconds) >= 1 and sum(s.completed for s in run.seconds) >= 15
    assert run.snapshots["before"]["server.behaviour"] == "200 0"
    assert main(["show", "1", "--store", str(db)]) == 0
    assert "revert may not have run" in capsys.readouterr().out
