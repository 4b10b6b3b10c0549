"""kill -9 in the middle of a shell arm, then `loadtrial recover`: the environment comes
back to its snapshot before the trial (read afresh), `run` refuses until it has, and a
second `recover` finds nothing to do."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from fileserver import FileServer, trial_text
from killrun import run_and_kill

from loadtrial.cli import main
from loadtrial.env import make_provider
from loadtrial.env.journal import MemoryLog
from loadtrial.store import Store


def _settings(d: Path) -> dict[str, Any]:
    """An arm that writes the server's behaviour and starts a process of its own (as an arm
    that starts a server would); the revert undoes both and is safe to run twice."""
    return {
        "apply": [f"echo {{status}} 0 > {d}/behaviour",
                  f"sleep 120 > /dev/null 2>&1 & echo $! > {d}/arm.pid", "sleep {hold}"],
        "revert": [f"kill $(cat {d}/arm.pid 2>/dev/null) 2>/dev/null; rm -f {d}/arm.pid",
                   f"rm -f {d}/behaviour"],
        "facts": {
            "server.behaviour": f"cat {d}/behaviour 2>/dev/null || echo default",
            "arm.process": f"kill -0 $(cat {d}/arm.pid 2>/dev/null) 2>/dev/null && echo up "
                           "|| echo down",
        },
    }  # fmt: skip


def _trial(server: FileServer, tmp_path: Path, hold: int) -> Path:
    import yaml

    text = trial_text(server, arms=f"  broken: {{status: 503, hold: {hold}}}\n", seconds=30)
    doc = yaml.safe_load(text)
    doc["env"] = {"provider": "shell", **_settings(server.behaviour.parent)}
    path = tmp_path / "trial.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _snapshot(d: Path) -> dict[str, str]:
    return dict(make_provider("shell", _settings(d), lambda a: None, MemoryLog()).snapshot())


def _cleanup(d: Path) -> None:
    """Kill what the arm started and a command the kill left running (its own session,
    working in the trial's folder)."""
    with contextlib.suppress(OSError, ValueError):
        os.kill(int((d / "arm.pid").read_text()), signal.SIGKILL)
    for proc in psutil.process_iter(["cwd", "cmdline"]):
        if proc.pid != os.getpid() and proc.info["cmdline"] == ["sleep", "20"]:
            with contextlib.suppress(psutil.Error):
                if Path(proc.info["cwd"] or "/") == Path.cwd():
                    proc.kill()


@pytest.mark.parametrize(
    ("hold", "killed_at"),
    [
        (0, "name LIKE 'shell arm%' AND state='done'"),  # the arm applied, load running
        (20, "name='apply: sleep 20' AND state='intended'"),  # half-way through apply
    ],
)
def test_kill_9_then_recover_restores_the_snapshot_before(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    hold: int, killed_at: str, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # a shell environment is named by its folder
    d, db = file_server.behaviour.parent, tmp_path / "r.db"
    before = _snapshot(d)
    assert before == {"server.behaviour": "default", "arm.process": "down"}
    trial = _trial(file_server, tmp_path, hold)
    try:
        run_and_kill(trial, db, killed_at)
        assert _snapshot(d)["arm.process"] == "up"  # the kill left the arm applied
        assert main(["ls", "--store", str(db)]) == 0
        assert "undo step(s) pending" in capsys.readouterr().out
        assert main(["run", str(trial), "--store", str(db), "--no-live"]) == 4
        err = capsys.readouterr().err
        assert "left changed by trial 1" in err and "loadtrial recover 1" in err
        assert main(["recover", "--store", str(db)]) == 0
        assert "trial 1: 1 undo step(s) replayed, 0 failed" in capsys.readouterr().out
        assert _snapshot(d) == before
        assert main(["recover", "1", "--store", str(db)]) == 0  # safe to run twice
        assert "nothing to recover" in capsys.readouterr().out
    finally:
        _cleanup(d)
    with Store(db) as store:
        states = [(e.name, e.state) for e in store.journal_entries(trial_id=1) if e.undo]
        runs = store.list_runs(1)
    assert states == [(f"shell arm hold={hold}, status=503", "reverted")]
    assert runs[0].status == "incomplete"


def test_recover_reports_a_failed_undo_and_keeps_it_pending(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    d, db = file_server.behaviour.parent, tmp_path / "r.db"
    trial = _trial(file_server, tmp_path, 0)
    try:
        run_and_kill(trial, db, "name LIKE 'shell arm%' AND state='done'")
        started = (d / "arm.pid").read_text()
        (d / "arm.pid").write_text("not-a-pid")  # the revert's kill now fails ...
        blocker = d / "behaviour"
        blocker.unlink()
        blocker.mkdir()  # ... and so does `rm -f` of a directory
        assert main(["recover", "--store", str(db)]) == 4
        assert "1 failed" in capsys.readouterr().out
        blocker.rmdir()
        (d / "arm.pid").write_text(started)
        assert main(["recover", "--store", str(db)]) == 0  # the cause fixed: it goes through
        assert _snapshot(d) == {"server.behaviour": "default", "arm.process": "down"}
    finally:
        _cleanup(d)


def test_apply_and_its_undo_both_failing_ends_the_trial_with_exit_4(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    d, db = file_server.behaviour.parent, tmp_path / "r.db"
    text = trial_text(file_server, arms="  first: {status: 503}\n  second: {status: 200}\n")
    text = text.replace(f"  revert: 'rm -f {d}/behaviour'\n", "  revert: 'exit 9'\n")
    text = text.replace(f"> {d}/behaviour'", f"> {d}/behaviour; exit 3'") + "order: sequential\n"
    trial = tmp_path / "trial.yaml"
    trial.write_text(text)
    assert main(["run", str(trial), "--store", str(db), "--no-live"]) == 4
    assert file_server.hits == []  # the second arm never ran on the broken environment
    with Store(db) as store:
        statuses = [r.status for r in store.list_runs(1)]
        pending = store.journal_entries(trial_id=1, pending_only=True)
    assert statuses == ["failed", "planned"]
    assert [e.state for e in pending] == ["revert_failed"]
    capsys.readouterr()
    assert main(["run", str(trial), "--store", str(db), "--no-live", "--force"]) == 4
    assert "running anyway (--force)" in capsys.readouterr().err


def test_a_killed_process_not_yet_reaped_is_not_running(
    file_server: FileServer, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import subprocess
    import sys
    import time

    from killrun import journal_has

    monkeypatch.chdir(tmp_path)
    d, db = file_server.behaviour.parent, tmp_path / "r.db"
    args = [sys.executable, "-m", "loadtrial.cli", "run", str(_trial(file_server, tmp_path, 0)),
            "--store", str(db), "--no-live"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not journal_has(db, "name LIKE 'shell arm%' AND state='done'"):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        proc.kill()  # SIGKILL, and not reaped yet: a zombie whose pid still answers kill(0)
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.005)
        assert main(["ls", "--store", str(db)]) == 0
        out = capsys.readouterr().out
        assert "[incomplete]" in out and "[running]" not in out
        assert main(["recover", "--store", str(db)]) == 0
    finally:
        proc.wait()
        _cleanup(d)
