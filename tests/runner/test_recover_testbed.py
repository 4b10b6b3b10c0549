"""kill -9 while a testbed arm is applied (db restarted with another max_connections, a
third app node), then `loadtrial recover`: a fresh snapshot of the testbed equals the one
taken before the trial."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from killrun import run_and_kill

from loadtrial.cli import main
from loadtrial.env.journal import MemoryLog
from loadtrial.env.settings import TestbedEnv
from loadtrial.env.testbed import create
from loadtrial.testbed import TestbedConfig, down, load_state, up


@pytest.fixture
def testbed(tmp_path: Path) -> Iterator[Path]:
    state_path = tmp_path / "tb" / "state.json"
    up(TestbedConfig(), state_path)
    try:
        yield state_path
    finally:
        down(state_path)


def _snapshot(state_path: Path) -> dict[str, str]:
    return dict(
        create(
            TestbedEnv(provider="testbed", state=str(state_path)), lambda a: None, MemoryLog()
        ).snapshot()
    )


def test_kill_9_mid_testbed_arm_then_recover(
    testbed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    state = load_state(testbed)
    assert state is not None
    before = _snapshot(testbed)
    trial = tmp_path / "trial.yaml"
    trial.write_text(yaml.safe_dump({
        "name": "tb-kill",
        "target": {"base_url": state.base_url},
        "load": {"stages": [{"rate": 5, "duration": "60s"}], "workers": 1},
        "env": {"provider": "testbed", "state": str(testbed)},
        "arms": {"bigger": {"db_max_connections": 33, "app_nodes": 3}},
    }))  # fmt: skip
    db = tmp_path / "r.db"
    run_and_kill(trial, db, "name LIKE 'testbed arm%' AND state='done'")
    applied = _snapshot(testbed)
    assert (applied["db.max_connections"], applied["app.nodes"]) == ("33", "3")
    assert main(["recover", "--store", str(db)]) == 0
    assert "trial 1: 1 undo step(s) replayed, 0 failed" in capsys.readouterr().out
    assert _snapshot(testbed) == before
    assert main(["recover", "--store", str(db)]) == 0
    assert "nothing to recover" in capsys.readouterr().out
