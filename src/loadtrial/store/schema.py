"""The results store's SQLite schema, versioned, and opening a database with it.

In: a path. Out: a `sqlite3.Connection` in WAL mode with the current schema, created or
checked. The version lives in `meta.schema_version`; a database written by a newer
loadtrial is refused with a hint rather than misread. Migrations are additive: version 2
adds the `journal` table (the persistent undo journal), version 3 the `request_seconds`
table (per-request figures of each second, for runs with two or more request names),
each created when an older store opens; older runs simply have no per-request rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from loadtrial.errors import StoreError

SCHEMA_VERSION = 3

DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, hypothesis TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, file_path TEXT NOT NULL DEFAULT '',
    file_text TEXT NOT NULL DEFAULT '', file_hash TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'running', host TEXT NOT NULL DEFAULT '',
    pid INTEGER);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, trial_id INTEGER NOT NULL REFERENCES trials(id),
    arm TEXT NOT NULL, repetition INTEGER NOT NULL, order_index INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'planned', params TEXT NOT NULL DEFAULT '{}',
    started_at REAL, ended_at REAL, warmup_s REAL NOT NULL DEFAULT 0,
    abort_reason TEXT NOT NULL DEFAULT '', t0 REAL, pid INTEGER, host TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS runs_trial ON runs(trial_id, order_index);
CREATE TABLE IF NOT EXISTS seconds (
    run_id INTEGER NOT NULL REFERENCES runs(id), second INTEGER NOT NULL,
    offered INTEGER NOT NULL, sent INTEGER NOT NULL, completed INTEGER NOT NULL,
    ok INTEGER NOT NULL, late INTEGER NOT NULL, dropped INTEGER NOT NULL,
    errors TEXT NOT NULL, latency_hist BLOB NOT NULL, uncorrected_hist BLOB NOT NULL,
    max_send_lag_us INTEGER NOT NULL, cpu_percent REAL NOT NULL,
    send_lag_hist BLOB NOT NULL DEFAULT x'',
    PRIMARY KEY (run_id, second));
CREATE TABLE IF NOT EXISTS request_seconds (
    run_id INTEGER NOT NULL REFERENCES runs(id), second INTEGER NOT NULL, name TEXT NOT NULL,
    sent INTEGER NOT NULL, completed INTEGER NOT NULL, ok INTEGER NOT NULL,
    late INTEGER NOT NULL, errors TEXT NOT NULL, latency_hist BLOB NOT NULL,
    uncorrected_hist BLOB NOT NULL, PRIMARY KEY (run_id, second, name));
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL,
    unit TEXT NOT NULL, capacity REAL, UNIQUE (run_id, name));
CREATE TABLE IF NOT EXISTS samples (
    series_id INTEGER NOT NULL REFERENCES series(id), t_s REAL NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS samples_series ON samples(series_id, t_s);
CREATE TABLE IF NOT EXISTS snapshots (
    run_id INTEGER NOT NULL REFERENCES runs(id), phase TEXT NOT NULL, facts TEXT NOT NULL,
    PRIMARY KEY (run_id, phase));
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY, trial_id INTEGER NOT NULL REFERENCES trials(id), run_id INTEGER,
    name TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL NOT NULL, status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), t_s REAL NOT NULL,
    kind TEXT NOT NULL, message TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY, trial_id INTEGER NOT NULL REFERENCES trials(id), run_id INTEGER,
    env_key TEXT NOT NULL, provider TEXT NOT NULL, name TEXT NOT NULL,
    undo TEXT NOT NULL DEFAULT '{}', state TEXT NOT NULL, error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS journal_env ON journal(env_key, state);
CREATE TABLE IF NOT EXISTS findings (
    trial_id INTEGER NOT NULL REFERENCES trials(id), position INTEGER NOT NULL,
    finding TEXT NOT NULL, PRIMARY KEY (trial_id, position));
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store at `path`; raise StoreError when unusable."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=10.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing
        conn.execute("PRAGMA foreign_keys=ON")
        _ensure_schema(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the results store {path}: {exc}", "check the path") from None
    except OSError as exc:
        raise StoreError(f"cannot create {path.parent}: {exc}", "use --store PATH") from None
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the tables, or check that the existing ones are a version we understand."""
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    if row is not None and int(row[0]) > SCHEMA_VERSION:
        raise StoreError(
            f"the results store has schema version {row[0]}, newer than {SCHEMA_VERSION}",
            "upgrade loadtrial, or use another --store PATH",
        )
    with conn:
        conn.executescript(DDL)
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)",
            (str(SCHEMA_VERSION),),
        )
