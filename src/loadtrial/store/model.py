"""Data of the store's door: what a run left behind, read back for analysis and reports.

The store (SQLite, WAL) is written as a run goes; these frozen records are what
`Store.load_trial` / `Store.load_run` return. Metric series are numpy arrays on the run
clock (seconds since the run's t0), so analysis joins load and tiers by time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loadtrial.env.model import Action
from loadtrial.load.model import IntervalStats

FloatArray = npt.NDArray[np.float64]

# Run status values.
RUN_STATUSES = ("planned", "running", "complete", "aborted", "interrupted", "failed", "incomplete")


@dataclass(frozen=True)
class Event:
    """Something notable on the run clock: an abort, an observer fault, a gap."""

    t_s: float
    kind: str  # "abort" | "observer_fault" | "observer_recovered" | "env_changed" | ...
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Series:
    """One observed metric of one run."""

    name: str  # "db.connections.used"
    unit: str
    capacity: float | None  # the latest known capacity (None when unknown)
    t_s: FloatArray
    values: FloatArray

    @property
    def tier(self) -> str:
        """The part of the name before the first dot."""
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class RunInfo:
    """One run: one arm × one repetition."""

    run_id: int
    trial_id: int
    arm: str
    repetition: int  # 1-based
    order_index: int  # position in the plan, 0-based
    status: str  # see RUN_STATUSES
    params: Mapping[str, Any]
    started_at: float | None  # Unix time of the run's t0
    ended_at: float | None
    warmup_s: float
    abort_reason: str = ""


@dataclass(frozen=True)
class RunData:
    """Everything recorded for one run."""

    info: RunInfo
    seconds: tuple[IntervalStats, ...]
    series: tuple[Series, ...] = ()
    snapshots: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # before/after
    events: tuple[Event, ...] = ()
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class TrialInfo:
    """One trial as stored."""

    trial_id: int
    name: str
    hypothesis: str
    created_at: float  # Unix time
    file_path: str
    file_text: str  # with ${ENV} references left unresolved (secrets never stored)
    file_hash: str
    status: str


@dataclass(frozen=True)
class TrialData:
    """A trial and all its runs, in plan order."""

    info: TrialInfo
    runs: tuple[RunData, ...]


@dataclass(frozen=True)
class JournalEntry:
    """One step of the persistent undo journal (see loadtrial.env.model.StepLog)."""

    entry_id: int
    trial_id: int
    run_id: int | None
    env_key: str  # which environment ("shell:/path", "testbed:/path/state.json", "aws:...")
    provider: str
    name: str
    undo: Mapping[str, Any]  # {} for a step whose undo an enclosing entry holds
    state: str  # intended | done | failed | reverted | revert_failed
    error: str
    created_at: float
    updated_at: float

    @property
    def pending(self) -> bool:
        """True when the entry has an undo that has not run successfully yet."""
        return bool(self.undo) and self.state != "reverted"
