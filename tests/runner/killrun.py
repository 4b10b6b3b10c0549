"""Start `loadtrial run` as a subprocess and SIGKILL it once the store's undo journal shows
a given step (a condition in the store, never a sleep)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path


def journal_has(db: Path, where: str) -> bool:
    """True when a journal row matches the SQL condition `where` (read-only; the table may
    not exist yet)."""
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return (
                conn.execute(f"SELECT 1 FROM journal WHERE {where} LIMIT 1").fetchone() is not None
            )
    except sqlite3.OperationalError:
        return False


def run_and_kill(
    trial: Path,
    db: Path,
    where: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 90,
) -> None:
    """Run the trial; SIGKILL the process as soon as `where` matches a journal row."""
    args = [sys.executable, "-m", "loadtrial.cli", "run", str(trial), "--store", str(db),
            "--no-live"]  # fmt: skip
    with subprocess.Popen(
        args, cwd=trial.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        try:
            deadline = time.monotonic() + timeout_s
            while not journal_has(db, where):
                if proc.poll() is not None:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise AssertionError(
                        f"loadtrial ended before the step ({proc.returncode}): {err}"
                    )
                assert time.monotonic() < deadline, f"no journal row where {where}"
                time.sleep(0.005)
            proc.kill()
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
