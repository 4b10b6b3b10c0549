"""store: the results store (SQLite, WAL), written as runs go, read by analysis and reports.

Door: `Store(path)` (see store.py for its methods) returning the records of store/model.py;
`DEFAULT_PATH` is `.loadtrial/results.db`.
"""

from __future__ import annotations

from loadtrial.store.model import (
    Event,
    JournalEntry,
    RunData,
    RunInfo,
    Series,
    TrialData,
    TrialInfo,
)
from loadtrial.store.store import DEFAULT_PATH, Store

__all__ = [
    "DEFAULT_PATH",
    "Event",
    "JournalEntry",
    "RunData",
    "RunInfo",
    "Series",
    "Store",
    "TrialData",
    "TrialInfo",
]
