"""Reading the results store back into store/model.py records.

In: an open connection and ids. Out: TrialInfo, RunInfo, RunData, TrialData and Findings,
read with one query per table (a trial of 9 runs × 60 s × dozens of series loads in
milliseconds). JSON columns become mappings; metric samples become numpy arrays.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from dataclasses import replace
from typing import Any

import numpy as np

from loadtrial.env.model import Action
from loadtrial.errors import StoreError, UserError
from loadtrial.findings import Finding, finding_from_json
from loadtrial.load.model import IntervalStats
from loadtrial.store.model import Event, RunData, RunInfo, Series, TrialData, TrialInfo

_TRIAL_COLS = "id, name, hypothesis, created_at, file_path, file_text, file_hash, status"
_RUN_COLS = (
    "id, trial_id, arm, repetition, order_index, status, params, started_at, ended_at, "
    "warmup_s, abort_reason"
)


class NotInStore(UserError, StoreError):
    """A trial or run id the store does not hold: the user's mistake (exit 2), not the store's."""


def trial_info(row: tuple[Any, ...]) -> TrialInfo:
    """Return a TrialInfo from a row of _TRIAL_COLS."""
    return TrialInfo(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7])


def run_info(row: tuple[Any, ...]) -> RunInfo:
    """Return a RunInfo from a row of _RUN_COLS."""
    return RunInfo(
        run_id=row[0],
        trial_id=row[1],
        arm=row[2],
        repetition=row[3],
        order_index=row[4],
        status=row[5],
        params=json.loads(row[6]),
        started_at=row[7],
        ended_at=row[8],
        warmup_s=row[9],
        abort_reason=row[10],
    )


def list_trials(conn: sqlite3.Connection) -> tuple[TrialInfo, ...]:
    """Every trial, oldest first."""
    rows = conn.execute(f"SELECT {_TRIAL_COLS} FROM trials ORDER BY id").fetchall()
    return tuple(trial_info(r) for r in rows)


def list_runs(conn: sqlite3.Connection, trial_id: int) -> tuple[RunInfo, ...]:
    """The runs of one trial in plan order."""
    sql = f"SELECT {_RUN_COLS} FROM runs WHERE trial_id=? ORDER BY order_index, id"
    return tuple(run_info(r) for r in conn.execute(sql, (trial_id,)).fetchall())


def load_trial(conn: sqlite3.Connection, trial_id: int) -> TrialData:
    """A trial and all its runs' data."""
    row = conn.execute(f"SELECT {_TRIAL_COLS} FROM trials WHERE id=?", (trial_id,)).fetchone()
    if row is None:
        raise NotInStore(f"no trial {trial_id} in the store", "see `loadtrial ls`")
    runs = list_runs(conn, trial_id)
    return TrialData(trial_info(row), _run_data(conn, runs))


def load_run(conn: sqlite3.Connection, run_id: int) -> RunData:
    """Everything recorded for one run."""
    row = conn.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id=?", (run_id,)).fetchone()
    if row is None:
        raise NotInStore(f"no run {run_id} in the store", "see `loadtrial ls`")
    return _run_data(conn, (run_info(row),))[0]


def _run_data(conn: sqlite3.Connection, runs: tuple[RunInfo, ...]) -> tuple[RunData, ...]:
    """RunData for each run, reading each table once for all of them."""
    if not runs:
        return ()
    ids = [r.run_id for r in runs]
    marks = ",".join("?" * len(ids))
    seconds = _seconds(conn, marks, ids)
    series = _series(conn, marks, ids)
    snaps: dict[int, dict[str, dict[str, str]]] = defaultdict(dict)
    for rid, phase, facts in conn.execute(
        f"SELECT run_id, phase, facts FROM snapshots WHERE run_id IN ({marks})", ids
    ):
        snaps[rid][phase] = json.loads(facts)
    events: dict[int, list[Event]] = defaultdict(list)
    for rid, t_s, kind, msg, data in conn.execute(
        f"SELECT run_id, t_s, kind, message, data FROM events WHERE run_id IN ({marks}) "
        "ORDER BY t_s, id",
        ids,
    ):
        events[rid].append(Event(t_s, kind, msg, json.loads(data)))
    actions: dict[int, list[Action]] = defaultdict(list)
    for row in conn.execute(
        "SELECT run_id, name, started_at, ended_at, status, error, detail FROM actions "
        f"WHERE run_id IN ({marks}) ORDER BY id",
        ids,
    ):
        actions[row[0]].append(Action(row[1], row[2], row[3], row[4], row[5], json.loads(row[6])))
    return tuple(
        RunData(
            info=r,
            seconds=tuple(seconds[r.run_id]),
            series=tuple(series[r.run_id]),
            snapshots=snaps[r.run_id],
            events=tuple(events[r.run_id]),
            actions=tuple(actions[r.run_id]),
        )
        for r in runs
    )


def _seconds(
    conn: sqlite3.Connection, marks: str, ids: list[int]
) -> dict[int, list[IntervalStats]]:
    out: dict[int, list[IntervalStats]] = defaultdict(list)
    sql = (
        "SELECT run_id, second, offered, sent, completed, ok, late, dropped, errors, "
        "latency_hist, uncorrected_hist, max_send_lag_us, cpu_percent, send_lag_hist FROM seconds "
        f"WHERE run_id IN ({marks}) ORDER BY run_id, second"
    )
    for r in conn.execute(sql, ids):
        out[r[0]].append(
            IntervalStats(
                second=r[1],
                offered=r[2],
                sent=r[3],
                completed=r[4],
                ok=r[5],
                late=r[6],
                dropped=r[7],
                errors=json.loads(r[8]),
                latency_hist=bytes(r[9]),
                uncorrected_hist=bytes(r[10]),
                max_send_lag_us=r[11],
                cpu_percent=r[12],
                send_lag_hist=bytes(r[13]),
            )
        )
    parts = _request_parts(conn, marks, ids)
    if parts:
        for rid, secs in out.items():
            out[rid] = [replace(s, requests=parts.get((rid, s.second), {})) for s in secs]
    return out


def _request_parts(
    conn: sqlite3.Connection, marks: str, ids: list[int]
) -> dict[tuple[int, int], dict[str, IntervalStats]]:
    """Per (run, second): each request name's IntervalStats (offered = sent, as recorded)."""
    out: dict[tuple[int, int], dict[str, IntervalStats]] = defaultdict(dict)
    sql = (
        "SELECT run_id, second, name, sent, completed, ok, late, errors, latency_hist, "
        f"uncorrected_hist FROM request_seconds WHERE run_id IN ({marks}) "
        "ORDER BY run_id, second, rowid"
    )
    for r in conn.execute(sql, ids):
        out[(r[0], r[1])][r[2]] = IntervalStats(
            second=r[1],
            offered=r[3],
            sent=r[3],
            completed=r[4],
            ok=r[5],
            late=r[6],
            errors=json.loads(r[7]),
            latency_hist=bytes(r[8]),
            uncorrected_hist=bytes(r[9]),
        )
    return out


def _series(conn: sqlite3.Connection, marks: str, ids: list[int]) -> dict[int, list[Series]]:
    """Every series of the runs, its samples as numpy arrays sorted by time."""
    meta = conn.execute(
        f"SELECT id, run_id, name, unit, capacity FROM series WHERE run_id IN ({marks}) "
        "ORDER BY run_id, name",
        ids,
    ).fetchall()
    points: dict[int, tuple[list[float], list[float]]] = {m[0]: ([], []) for m in meta}
    for sid, t_s, value in conn.execute(
        "SELECT s.series_id, s.t_s, s.value FROM samples s JOIN series m ON m.id = s.series_id "
        f"WHERE m.run_id IN ({marks}) ORDER BY s.series_id, s.t_s",
        ids,
    ):
        points[sid][0].append(t_s)
        points[sid][1].append(value)
    out: dict[int, list[Series]] = defaultdict(list)
    for sid, rid, name, unit, capacity in meta:
        ts, vs = points[sid]
        t_arr = np.asarray(ts, dtype=np.float64)
        v_arr = np.asarray(vs, dtype=np.float64)
        out[rid].append(Series(name, unit, capacity, t_arr, v_arr))
    return out


def load_findings(conn: sqlite3.Connection, trial_id: int) -> tuple[Finding, ...]:
    """The findings saved for a trial, in their saved order (typed evidence; findings
    saved before it was typed have the same keys and load the same way)."""
    rows = conn.execute(
        "SELECT finding FROM findings WHERE trial_id=? ORDER BY position", (trial_id,)
    ).fetchall()
    return tuple(finding_from_json(json.loads(r[0])) for r in rows)
