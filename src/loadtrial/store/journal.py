"""The undo journal's rows: written before and after each environment step, read by
`loadtrial recover` and by `run`'s check for an unreverted environment.

In: an open connection (the Store serialises access). Out: entry ids and `JournalEntry`
records. Each write is its own committed transaction, so a SIGKILL a moment later still
leaves the row: that is the point of writing the intent *before* the step.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from loadtrial.store.model import JournalEntry

_COLS = "id, trial_id, run_id, env_key, provider, name, undo, state, error, created_at, updated_at"


def intend(
    conn: sqlite3.Connection,
    *,
    trial_id: int,
    run_id: int | None,
    env_key: str,
    provider: str,
    name: str,
    undo: str,
) -> int:
    """Insert an `intended` entry (`undo` is JSON text); return its id."""
    now = time.time()
    cur = conn.execute(
        "INSERT INTO journal(trial_id, run_id, env_key, provider, name, undo, state, "
        "created_at, updated_at) VALUES (?,?,?,?,?,?, 'intended', ?, ?)",
        (trial_id, run_id, env_key, provider, name, undo, now, now),
    )
    return int(cur.lastrowid or 0)


def settle(conn: sqlite3.Connection, entry: int, state: str, error: str) -> None:
    """Set an entry's state (and error) and when it changed."""
    conn.execute(
        "UPDATE journal SET state=?, error=?, updated_at=? WHERE id=?",
        (state, error[:2000], time.time(), entry),
    )


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    undo: Mapping[str, Any] = json.loads(row[6])
    return JournalEntry(
        row[0], row[1], row[2], row[3], row[4], row[5], undo, row[7], row[8], row[9], row[10]
    )


def entries(
    conn: sqlite3.Connection,
    *,
    trial_id: int | None = None,
    env_key: str | None = None,
    run_id: int | None = None,
    pending_only: bool = False,
) -> tuple[JournalEntry, ...]:
    """Entries in the order they were written, filtered by trial, environment or run;
    with `pending_only`, only those whose undo has not run successfully."""
    where, args = ["1=1"], []
    for column, value in (("trial_id", trial_id), ("env_key", env_key), ("run_id", run_id)):
        if value is not None:
            where.append(f"{column}=?")
            args.append(value)
    if pending_only:
        where.append("undo != '{}' AND state != 'reverted'")
    sql = f"SELECT {_COLS} FROM journal WHERE {' AND '.join(where)} ORDER BY id"
    return tuple(_entry(r) for r in conn.execute(sql, args).fetchall())
