"""The testbed runs from anywhere: PostgreSQL's binaries under a directory its service
user cannot enter (a 0700 home, a `mktemp -d` folder) as root."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from loadtrial.testbed import down, load_state
from loadtrial.testbed.facts import http_get


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_up_works_with_pgserver_inside_a_0700_directory(tmp_path: Path) -> None:
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.origin is not None
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    site = Path(spec.origin).parent.parent
    for part in ("pgserver", "pgserver.libs"):  # the package and its wheel's libraries
        shutil.copytree(site / part, private / "site" / part, symlinks=True)
    state_path = tmp_path / "state.json"
    env = {**os.environ, "PYTHONPATH": str(private / "site")}
    where = [
        sys.executable,
        "-c",
        "import importlib.util as u; print(u.find_spec('pgserver').origin)",
    ]
    assert subprocess.run(
        where, env=env, capture_output=True, text=True, check=True
    ).stdout.startswith(
        str(private)
    )  # the PostgreSQL the testbed runs really is the private copy's
    cmd = [sys.executable, "-m", "loadtrial.cli", "testbed", "up", "--state", str(state_path),
           "--port", "0", "--stats-port", "0", "--app-nodes", "1"]  # fmt: skip
    try:
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr[-2000:]
        state = load_state(state_path)
        assert state is not None
        assert http_get(state.base_url + "/items/3")[0] == 200  # the db answers the app
    finally:
        down(state_path)
    assert oct(private.stat().st_mode & 0o777) == "0o700"  # nobody widened it
