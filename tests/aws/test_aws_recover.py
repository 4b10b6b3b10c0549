"""kill -9 in the middle of an instance swap (moto server), then `loadtrial recover`: type,
state and target-group registration of every instance, the drain delay and the Aurora
class come back; a fresh snapshot equals the one taken before the trial."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_world import World, aws_env, settings_for

from loadtrial.cli import main
from loadtrial.env.aws import create
from loadtrial.env.aws.clients import Clients
from loadtrial.env.journal import MemoryLog


def _facts(settings: dict[str, Any], clients: Clients) -> dict[str, str]:
    facts = create(aws_env(settings), lambda a: None, MemoryLog(), clients=clients).snapshot()
    return {k: v for k, v in facts.items() if not k.startswith("volatile.")}


def _journal_has(db: Path, where: str) -> bool:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(f"SELECT 1 FROM journal WHERE {where}").fetchone() is not None
    except sqlite3.OperationalError:  # not created yet
        return False


def _run_and_kill(trial: Path, db: Path, where: str, env: dict[str, str]) -> None:
    args = [sys.executable, "-m", "loadtrial.cli", "run", str(trial), "--store", str(db),
            "--no-live"]  # fmt: skip
    with subprocess.Popen(args, cwd=trial.parent, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as proc:  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while not _journal_has(db, where):
                assert proc.poll() is None, f"loadtrial ended first ({proc.returncode})"
                assert time.monotonic() < deadline, where
                time.sleep(0.002)
            proc.kill()
        finally:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.parametrize(
    ("killed_at", "replayed"),
    [
        ("name LIKE 'ec2 modify%' AND state='intended'", 2),  # the first instance mid-swap
        ("name LIKE 'aws db %' AND state='done'", 4),  # the arm applied, the load running
    ],
)
def test_kill_9_mid_swap_then_recover(
    clients: Clients, world: World, moto_url: str, client_kwargs: dict[str, Any],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    killed_at: str, replayed: int,
) -> None:  # fmt: skip
    settings = settings_for(world, app={"drain_delay": "5s"}, region="us-east-1",
                            endpoint_url=moto_url)  # fmt: skip
    before = _facts(settings, clients)
    trial = tmp_path / "trial.yaml"
    trial.write_text(yaml.safe_dump({
        "name": "aws-kill",
        "target": {"base_url": "http://127.0.0.1:9"},
        "load": {"stages": [{"rate": 1, "duration": "60s"}], "workers": 1},
        "env": {"provider": "aws", **settings},
        "arms": {"big": {"app_instance_type": "m4.xlarge", "db_instance_class": "db.r5.2xlarge"}},
    }))  # fmt: skip
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_CONFIG_FILE": str(tmp_path / "none"),
             "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | creds
    db = tmp_path / "r.db"
    _run_and_kill(trial, db, killed_at, env)
    assert _facts(settings, clients) != before  # the kill left a change behind
    for key, value in creds.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    assert main(["recover", "--store", str(db)]) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert f"trial 1: {replayed} undo step(s) replayed, 0 failed" in out
    assert replayed == 4 or "the process stopped during: ec2 modify" in err
    assert _facts(settings, clients) == before
    assert main(["recover", "--store", str(db)]) == 0
    assert "nothing to recover" in capsys.readouterr().out
