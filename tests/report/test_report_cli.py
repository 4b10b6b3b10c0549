"""`loadtrial report` against a real results store (SQLite) filled through its own API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import report_synth as synthetic
import yaml

from loadtrial.cli import main
from loadtrial.errors import ExitCode
from loadtrial.observe.model import Sample
from loadtrial.store import Store
from loadtrial.store.model import TrialData


def _trial_text(sc: synthetic.Scenario) -> str:
    """The trial file the synthetic trial came from, as YAML text."""
    return yaml.safe_dump(
        {
            "name": sc.name,
            "hypothesis": sc.hypothesis,
            "target": {"base_url": "http://127.0.0.1:8080"},
            "load": {"warmup": "5s", "stages": [{"ramp_to": 600, "duration": f"{sc.seconds}s"}]},
            "arms": {a: synthetic._params(i, len(sc.arms)) for i, a in enumerate(sc.arms)},
            "repeat": sc.repeat,
            "slo": {"p99": "500ms", "error_rate": "0.1%"},
            "expect": [{"arm": sc.arms[-1], "meets_slo": True}],
        },
        sort_keys=False,
    )


def _fill(store: Store, data: TrialData, text: str) -> int:
    """Write a synthetic trial through the store's writing API; return the trial id."""
    tid = store.create_trial(
        name=data.info.name, hypothesis=data.info.hypothesis, file_path="t.yaml", file_text=text
    )
    for run in data.runs:
        i = run.info
        rid = store.create_run(
            tid,
            arm=i.arm,
            repetition=i.repetition,
            order_index=i.order_index,
            params={},
            warmup_s=i.warmup_s,
        )
        store.start_run(rid, started_at=i.started_at or 0.0)
        for s in run.seconds:
            store.add_interval(rid, s)
        for series in run.series:
            samples = [
                Sample(float(t), series.name, float(v), series.unit, series.capacity)
                for t, v in zip(series.t_s, series.values, strict=True)
            ]
            store.add_samples(rid, samples)
        for phase, facts in run.snapshots.items():
            store.add_snapshot(rid, phase, facts)
        for e in run.events:
            store.add_event(rid, e)
        for a in run.actions:
            store.add_action(tid, rid, a)
        store.finish_run(rid, "complete")
    store.finish_trial(tid, "complete")
    return tid


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sc = synthetic.Scenario(repeat=1, seconds=15, values_per_second=30)
    data = synthetic.make_data(sc)
    path = tmp_path_factory.mktemp("store") / "results.db"
    with Store(path) as store:
        _fill(store, data, _trial_text(sc))
    return path


def test_report_of_the_latest_trial(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "--store", str(store_path), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "verdict:" in printed and f"Report: {out}" in printed  # the terminal summary too
    page = out.read_text(encoding="utf-8")
    assert 'id="verdict"' in page and "db-vs-app-scale" in page
    assert page.count('data-chart="run"') == 3
    assert str(store_path) in page  # provenance names the store


def test_json_to_stdout(store_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "1", "--store", str(store_path), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "loadtrial.report/1"
    assert [a["arm"] for a in doc["arms"]] == ["baseline", "more-app-nodes", "bigger-db"]
    assert len(doc["claims"]) == 1  # the stored file's one claim, analysed on the fly
    assert doc["claims"][0]["status"] != "not analysed"


def test_report_of_one_run(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["report", "run:2", "--store", str(store_path), "--format", "json", "-o", str(out)]
    assert main(args) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [r["run_id"] for r in doc["runs"]] == [2]
    assert doc["title"] == "db-vs-app-scale"
    assert doc["provenance"]["trial_name"].endswith("run 2")


def test_user_mistakes_exit_2(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.db"
    assert main(["report", "--store", str(missing)]) == ExitCode.INVALID_INPUT
    assert "no results store" in capsys.readouterr().err
    assert main(["report", "--store", str(store_path), "--format", "pdf"]) == 2
    assert main(["report", "no-such-trial", "--store", str(store_path)]) == 2


def test_plain_js_flag_reaches_the_page(store_path: Path, tmp_path: Path) -> None:
    packed, plain = tmp_path / "packed.html", tmp_path / "plain.html"
    assert main(["report", "--store", str(store_path), "-o", str(packed)]) == 0
    assert main(["report", "--store", str(store_path), "-o", str(plain), "--plain-js"]) == 0
    assert 'id="plotly-gz"' in packed.read_text(encoding="utf-8")
    assert 'id="plotly-gz"' not in plain.read_text(encoding="utf-8")
    assert plain.stat().st_size > packed.stat().st_size + 1_000_000


def test_a_run_report_shows_only_its_arm_and_its_claims(store_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = ["report", "run:1", "--store", str(store_path), "--format", "json", "-o", str(out)]
    assert main(args) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    (arm,) = {r["arm"] for r in doc["runs"]}
    assert [a["arm"] for a in doc["arms"]] == [arm]  # no "no data" rows for the other arms
    assert doc["claims"] == []  # the trial's claim is about another arm
    assert doc["repeat"] == 1
    page = tmp_path / "run.html"
    assert main(["report", "run:1", "--store", str(store_path), "-o", str(page)]) == 0
    assert "1 arm × 1 repetition = 1 run" in page.read_text(encoding="utf-8")
    assert Path(doc["provenance"]["store_path"]) == store_path.resolve()


def test_only_arm_narrows_arms_claims_and_repetitions() -> None:
    from loadtrial.commands.report import only_arm

    sc = synthetic.Scenario(repeat=3)
    trial = synthetic.scenario(synthetic.Scenario(repeat=3, seconds=5, values_per_second=5))[1]
    one = only_arm(trial, sc.arms[-1])
    assert list(one.arms) == [sc.arms[-1]] and one.repeat == 1
    assert all(c.arm == sc.arms[-1] and not c.vs for c in one.expect)


def test_report_quiet_writes_the_page_and_prints_nothing(
    store_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "q.html"
    assert main(["-q", "report", "--store", str(store_path), "-o", str(out)]) == 0
    printed = capsys.readouterr()
    assert out.exists() and printed.out == "" and printed.err == ""
