"""`loadtrial whatif` input errors: each names the flag and what to do, exit 2; a model
file round-trips; a sweep prints its knee (on a hand-made model file, no store needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from whatif_models import station

from loadtrial.cli import main
from loadtrial.commands.whatif import parse_settings, parse_sweep
from loadtrial.errors import UserError
from loadtrial.whatif import from_doc, to_doc, with_settings
from loadtrial.whatif.model import profile_quantile


def test_sweep_and_settings_parse_or_say_why() -> None:
    assert parse_sweep("rate=100..1000:300") == [100.0, 400.0, 700.0, 1000.0]
    assert len(parse_sweep("rate=100..2000")) == 10
    for bad in (
        "rate=100",
        "users=1..5",
        "rate=5..1",
        "rate=5..1:1",
        "rate=0..9:1",
        "rate=1..1000:1",
    ):
        with pytest.raises(UserError):
            parse_sweep(bad)
    assert parse_settings(["app_nodes=8", "db_cpus = 4"]) == {"app_nodes": "8", "db_cpus": "4"}
    with pytest.raises(UserError, match="name=value"):
        parse_settings(["app_nodes"])


def test_settings_name_every_unknown_knob_and_bad_value() -> None:
    m = station(rate=10.0)
    with pytest.raises(UserError, match="app_nodez, dbcpus") as err:
        with_settings(m, {"app_nodez": "2", "dbcpus": "1"})
    assert "app_nodes" in err.value.hint
    with pytest.raises(UserError, match="app_nodes must be >= 1"):
        with_settings(m, {"app_nodes": "0"})
    changed = with_settings(m, {"app_nodes": "8", "db_cpus": "4", "rate": "1500"})
    assert (changed.topology.app_nodes, changed.topology.db_cpus, changed.rate_per_s) == (
        8, 4.0, 1500.0)  # fmt: skip


def test_a_db_resize_starts_every_pool_cold() -> None:
    m = station(rate=10.0, nodes=2, warm_nodes=2, warm_per_node=8)
    assert with_settings(m, {"app_nodes": "4"}).topology.warm_connections_per_node == 8
    assert with_settings(m, {"db_cpus": "2"}).topology.warm_connections_per_node == 0


def test_model_document_round_trips_and_bad_files_say_where() -> None:
    m = station(rate=10.0, db_share=0.5, hold_s=0.2)
    assert from_doc(json.loads(json.dumps(to_doc(m)))) == m
    doc = to_doc(m)
    del doc["timeouts"]
    with pytest.raises(UserError, match="missing field 'timeouts'"):
        from_doc(doc)


def _model_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.json"
    m = station(rate=20.0, db_share=1.0, hold_s=0.5, nodes=2, pool_max=8, db_max=16)
    path.write_text(json.dumps(to_doc(m)), encoding="utf-8")
    return path


def test_cli_sweep_prints_the_knee(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _model_file(tmp_path)
    assert main(["whatif", "--model", str(path), "--sweep", "rate=10..50:10"]) == 0
    printed = capsys.readouterr()
    out = printed.out
    assert "knee: keeps up to" in out and "db connections" in out
    assert len([line for line in out.splitlines() if line.strip().endswith("connections")]) >= 1
    assert "[1/5] 10/s ..." in printed.err  # progress, on stderr
    assert main(["-q", "whatif", "--model", str(path), "--sweep", "rate=10..50:10"]) == 0
    quiet = capsys.readouterr()
    assert quiet.err == "" and quiet.out == out  # -q: the result, without the progress


def test_cli_errors_exit_2_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _model_file(tmp_path)
    assert main(["whatif", "--model", str(path), "--set", "nodes=3"]) == 2
    assert "unknown name(s) nodes" in capsys.readouterr().err
    assert main(["whatif", "--model", str(tmp_path / "none.json")]) == 2
    assert "no model file" in capsys.readouterr().err
    assert main(["whatif", "--store", str(tmp_path / "none.db"), "--arm", "a"]) == 2
    assert "no results store" in capsys.readouterr().err


def test_a_model_file_with_coarser_profile_percents_is_read_at_ours() -> None:
    # a file written when the profile had 14 points (0, 5, 10 .. 90, 95, 99, 100 %)
    doc = to_doc(station(rate=10.0, profile_s=0.1))
    old = (0.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 95.0, 99.0, 100.0)
    doc["profile_percents"] = list(old)
    doc["profile_s"] = [0.001 if p <= 10 else 0.2 for p in old]
    model = from_doc(doc)
    assert profile_quantile(model.profile_s, 0.05) == pytest.approx(0.001)
    assert profile_quantile(model.profile_s, 0.50) == pytest.approx(0.2)
    # between the old points the step is drawn as the old file drew it: linearly
    assert profile_quantile(model.profile_s, 0.15) == pytest.approx((0.001 + 0.2) / 2)
