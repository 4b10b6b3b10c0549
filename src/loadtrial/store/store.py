"""The results store: SQLite in WAL mode, written as a run goes, read by analysis and reports.

In: trials, runs, per-second IntervalStats (HDR histograms kept encoded), metric Samples,
snapshots, Actions, Events and Findings. Out: the records of store/model.py. Every write
commits at once, so a run killed with SIGKILL keeps all its full seconds; opening the
store marks runs left `running` by a dead process as `incomplete`. One Store may be shared
by the runner's thread and the sampler's thread (a lock serialises the connection).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from loadtrial.env.model import Action
from loadtrial.errors import StoreError
from loadtrial.findings import Finding, finding_json
from loadtrial.load.model import IntervalStats
from loadtrial.observe.model import Sample
from loadtrial.store import journal, read
from loadtrial.store.model import Event, JournalEntry, RunData, RunInfo, TrialData, TrialInfo
from loadtrial.store.schema import connect

DEFAULT_PATH = Path(".loadtrial") / "results.db"


def _json(value: Any) -> str:
    """JSON text of a mapping; numpy scalars and other oddities become strings."""
    return json.dumps(value, default=_plain, sort_keys=True)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item):
        return item()
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def _pid_alive(pid: int | None, since: float | None = None) -> bool:
    """True when `pid` is a live process; a zombie (killed, not yet reaped by its parent) is
    dead, and so is a process started after `since` (the pid was reused)."""
    if pid is None or pid <= 0:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return since is None or proc.create_time() <= since + 1.0
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


class Store:
    """An open results store; use as a context manager or call `close()`."""

    def __init__(self, path: str | Path = DEFAULT_PATH) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._lock = threading.RLock()
        self._series_ids: dict[tuple[int, str], int] = {}
        self._host = socket.gethostname()
        self.mark_stale_incomplete()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; sqlite errors become StoreError."""
        with self._lock:
            try:
                with self._conn:
                    yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(f"results store {self.path}: {exc}", "check disk space") from None

    def mark_stale_incomplete(self) -> int:
        """Mark runs/trials left `running` by a process that is gone; return runs marked."""
        with self._tx() as c:
            rows = c.execute("SELECT id, pid, host FROM runs WHERE status='running'").fetchall()
            stale = [r[0] for r in rows if r[2] == self._host and not _pid_alive(r[1])]
            for rid in stale:
                c.execute(
                    "UPDATE runs SET status='incomplete', abort_reason=? WHERE id=?",
                    ("the loadtrial process ended without finishing this run", rid),
                )
            trials = c.execute(
                "SELECT id, pid, host, created_at FROM trials WHERE status='running'"
            )
            for tid, pid, host, created_at in trials.fetchall():
                if host == self._host and not _pid_alive(pid, created_at):
                    c.execute("UPDATE trials SET status='incomplete' WHERE id=?", (tid,))
                    # a run killed while its arm was being applied never reached `running`
                    c.execute(
                        "UPDATE runs SET status='incomplete', abort_reason=? WHERE trial_id=? "
                        "AND status='planned' AND id IN (SELECT run_id FROM journal)",
                        ("the loadtrial process ended while applying this run's arm", tid),
                    )
        return len(stale)

    def trial_alive(self, trial_id: int) -> bool:
        """True when the trial is `running` in a process that is still alive (on this host,
        or on another host, where we cannot tell and assume it is)."""
        with self._tx() as c:
            row = c.execute(
                "SELECT status, pid, host, created_at FROM trials WHERE id=?", (trial_id,)
            ).fetchone()
        if row is None or row[0] != "running":
            return False
        return row[2] != self._host or _pid_alive(row[1], row[3])

    # -- writing -------------------------------------------------------------------------

    def create_trial(
        self,
        *,
        name: str,
        hypothesis: str = "",
        file_path: str = "",
        file_text: str = "",
        file_hash: str = "",
        created_at: float | None = None,
    ) -> int:
        """Add a trial (status `running`, owned by this process); return its id."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO trials(name, hypothesis, created_at, file_path, file_text, "
                "file_hash, status, host, pid) VALUES (?,?,?,?,?,?, 'running', ?, ?)",
                (name, hypothesis, created_at or time.time(), file_path, file_text, file_hash,
                 self._host, os.getpid()),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def finish_trial(self, trial_id: int, status: str) -> None:
        """Set a trial's final status (complete, aborted, interrupted, failed)."""
        with self._tx() as c:
            c.execute("UPDATE trials SET status=? WHERE id=?", (status, trial_id))

    def create_run(
        self,
        trial_id: int,
        *,
        arm: str,
        repetition: int,
        order_index: int,
        params: Mapping[str, Any],
        warmup_s: float = 0.0,
        status: str = "planned",
    ) -> int:
        """Add a planned run of `trial_id`; return its id."""
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO runs(trial_id, arm, repetition, order_index, status, params, "
                "warmup_s, host) VALUES (?,?,?,?,?,?,?,?)",
                (trial_id, arm, repetition, order_index, status, _json(dict(params)), warmup_s,
                 self._host),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def start_run(self, run_id: int, *, started_at: float, t0: float | None = None) -> None:
        """Mark a run `running` in this process from Unix time `started_at` (its second 0)."""
        with self._tx() as c:
            c.execute(
                "UPDATE runs SET status='running', started_at=?, t0=?, pid=?, host=? WHERE id=?",
                (started_at, t0, os.getpid(), self._host, run_id),
            )

    def finish_run(self, run_id: int, status: str, reason: str = "") -> None:
        """Set a run's final status and reason, and its end time."""
        with self._tx() as c:
            c.execute(
                "UPDATE runs SET status=?, abort_reason=?, ended_at=? WHERE id=?",
                (status, reason, time.time(), run_id),
            )

    def add_interval(self, run_id: int, stats: IntervalStats) -> None:
        """Store one second of load data, and its per-request parts (replacing that second
        if written before)."""
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO seconds VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, stats.second, stats.offered, stats.sent, stats.completed, stats.ok,
                 stats.late, stats.dropped, _json(dict(stats.errors)), stats.latency_hist,
                 stats.uncorrected_hist, stats.max_send_lag_us, stats.cpu_percent,
                 stats.send_lag_hist),
            )  # fmt: skip
            c.executemany(
                "INSERT OR REPLACE INTO request_seconds VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(run_id, stats.second, name, part.sent, part.completed, part.ok, part.late,
                  _json(dict(part.errors)), part.latency_hist, part.uncorrected_hist)
                 for name, part in stats.requests.items()],
            )  # fmt: skip

    def add_samples(self, run_id: int, samples: Sequence[Sample]) -> None:
        """Store metric samples; a series' capacity follows its latest known value."""
        if not samples:
            return
        with self._tx() as c:
            for s in samples:
                sid = self._series_id(c, run_id, s)
                c.execute("INSERT INTO samples VALUES (?,?,?)", (sid, s.t_s, s.value))

    def _series_id(self, c: sqlite3.Connection, run_id: int, s: Sample) -> int:
        key = (run_id, s.name)
        sid = self._series_ids.get(key)
        if sid is None:
            c.execute(
                "INSERT OR IGNORE INTO series(run_id, name, unit, capacity) VALUES (?,?,?,?)",
                (run_id, s.name, s.unit, s.capacity),
            )
            row = c.execute(
                "SELECT id FROM series WHERE run_id=? AND name=?", (run_id, s.name)
            ).fetchone()
            sid = self._series_ids[key] = int(row[0])
        if s.capacity is not None:
            c.execute("UPDATE series SET capacity=? WHERE id=?", (s.capacity, sid))
        return sid

    def add_event(self, run_id: int, event: Event) -> None:
        """Store an event on a run's clock."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO events(run_id, t_s, kind, message, data) VALUES (?,?,?,?,?)",
                (run_id, event.t_s, event.kind, event.message, _json(dict(event.data))),
            )

    def add_action(self, trial_id: int, run_id: int | None, action: Action) -> None:
        """Store one journal entry (a provider step, or loadtrial's own)."""
        with self._tx() as c:
            c.execute(
                "INSERT INTO actions(trial_id, run_id, name, started_at, ended_at, status, "
                "error, detail) VALUES (?,?,?,?,?,?,?,?)",
                (trial_id, run_id, action.name, action.started_at, action.ended_at,
                 action.status, action.error, _json(dict(action.detail))),
            )  # fmt: skip

    def journal_intend(
        self,
        trial_id: int,
        run_id: int | None,
        *,
        env_key: str,
        provider: str,
        name: str,
        undo: Mapping[str, Any],
    ) -> int:
        """Write an undo-journal entry `intended` before its step is taken; return its id.
        It is synced to disk before returning (also through a power loss, unlike the
        measurements, whose last second may be lost then)."""
        with self._lock, self._durable(), self._tx() as c:
            return journal.intend(
                c, trial_id=trial_id, run_id=run_id, env_key=env_key, provider=provider,
                name=name, undo=_json(dict(undo)),
            )  # fmt: skip

    @contextmanager
    def _durable(self) -> Iterator[None]:
        """synchronous=FULL for the enclosed commit: WAL synced before it returns."""
        try:
            self._conn.execute("PRAGMA synchronous=FULL")
            yield
        finally:
            self._conn.execute("PRAGMA synchronous=NORMAL")

    def journal_settle(self, entry: int, state: str, error: str = "") -> None:
        """Record what became of a journal entry (done, failed, reverted, revert_failed)."""
        with self._lock, self._durable(), self._tx() as c:
            journal.settle(c, entry, state, error)

    def journal_entries(
        self,
        *,
        trial_id: int | None = None,
        env_key: str | None = None,
        run_id: int | None = None,
        pending_only: bool = False,
    ) -> tuple[JournalEntry, ...]:
        """Undo-journal entries, oldest first (see store/journal.py for the filters)."""
        with self._tx() as c:
            return journal.entries(
                c, trial_id=trial_id, env_key=env_key, run_id=run_id, pending_only=pending_only
            )

    def add_snapshot(self, run_id: int, phase: str, facts: Mapping[str, str]) -> None:
        """Store the facts in force at `phase` ("before" or "after") of a run."""
        flat = {str(k): str(v) for k, v in facts.items()}
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO snapshots VALUES (?,?,?)", (run_id, phase, _json(flat))
            )

    def save_findings(self, trial_id: int, findings: Sequence[Finding]) -> None:
        """Replace a trial's findings with `findings` (stored as JSON)."""
        with self._tx() as c:
            c.execute("DELETE FROM findings WHERE trial_id=?", (trial_id,))
            for i, f in enumerate(findings):
                c.execute(
                    "INSERT INTO findings VALUES (?,?,?)",
                    (trial_id, i, _json(finding_json(f))),
                )

    # -- reading -------------------------------------------------------------------------

    def list_trials(self) -> tuple[TrialInfo, ...]:
        """Every trial, oldest first."""
        with self._tx() as c:
            return read.list_trials(c)

    def list_runs(self, trial_id: int) -> tuple[RunInfo, ...]:
        """The runs of one trial, in plan order."""
        with self._tx() as c:
            return read.list_runs(c, trial_id)

    def load_trial(self, trial_id: int) -> TrialData:
        """A trial and all its runs; StoreError when there is no such trial."""
        with self._tx() as c:
            return read.load_trial(c, trial_id)

    def load_run(self, run_id: int) -> RunData:
        """One run's data; StoreError when there is no such run."""
        with self._tx() as c:
            return read.load_run(c, run_id)

    def load_findings(self, trial_id: int) -> tuple[Finding, ...]:
        """The findings saved for a trial."""
        with self._tx() as c:
            return read.load_findings(c, trial_id)

    def latest_trial_id(self) -> int | None:
        """The id of the most recent trial, or None when the store is empty."""
        with self._tx() as c:
            row = c.execute("SELECT max(id) FROM trials").fetchone()
        return None if row is None or row[0] is None else int(row[0])
