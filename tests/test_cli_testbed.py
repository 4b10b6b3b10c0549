"""`loadtrial testbed up|status --json`: stdout is one JSON document and nothing else, even
from a real process whose children (PostgreSQL, app nodes, balancer) share its terminal;
progress goes to stderr, and `-q` silences it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtrial.testbed import down

CLI = [sys.executable, "-m", "loadtrial.cli"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI in its own process (generous deadline: the machine is shared)."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """A state file path; whatever testbed it names is taken down afterwards."""
    path = tmp_path / "state.json"
    try:
        yield path
    finally:
        down(path)


def test_up_and_status_json_print_only_json_on_stdout(state: Path) -> None:
    started = _cli("testbed", "up", "--json", "--state", str(state), "--port", "0",
                   "--stats-port", "0", "--app-nodes", "1")  # fmt: skip
    assert started.returncode == 0, started.stderr
    doc = json.loads(started.stdout)  # the whole of stdout is one document
    assert doc["base_url"].startswith("http://127.0.0.1:") and doc["state"] == str(state)
    assert doc["facts"]["app.nodes"] == "1"
    assert "starting the testbed" in started.stderr and "next:" in started.stderr

    status = _cli("-q", "testbed", "status", "--json", "--state", str(state))
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["facts"]["db.writer"] == "db-1"
    assert status.stderr == ""  # -q: no progress at all
    entries = json.loads(_cli("testbed", "status", "--json", "--observe", "--state",
                              str(state)).stdout)["observe"]  # fmt: skip
    assert {e["as"] for e in entries} >= {"db", "app", "host"}

    text = _cli("testbed", "status", "--state", str(state))
    assert text.stdout.startswith("testbed: http://127.0.0.1:")  # without --json: for people


def test_status_json_of_a_testbed_that_is_down_prints_nothing_on_stdout(tmp_path: Path) -> None:
    gone = _cli("testbed", "status", "--json", "--state", str(tmp_path / "none.json"))
    assert gone.returncode == 1 and gone.stdout == ""
    assert "testbed is down" in gone.stderr
