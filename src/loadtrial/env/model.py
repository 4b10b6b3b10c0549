"""Data of the environment providers' door.

A provider applies an arm's parameters to the system under test, undoes them, and reads
the facts actually in force (a Snapshot). Every step it takes is an Action, recorded by the
runner's journal with start, end, status and error (Chaos Toolkit's run journal). Before a
step changes anything it is also written to the persistent undo journal (`StepLog`) as
`intended`, with the undo that restores what it changes; afterwards it is settled as `done`
or `failed`, and once its undo has run, `reverted`. `loadtrial recover` replays the undos a
killed process left pending (see runner/recover.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

Facts = Mapping[str, str]  # flat: "db.writer" -> "db-1", "db.max_connections" -> "20"


@dataclass(frozen=True)
class Action:
    """One step a provider took, for the journal."""

    name: str  # e.g. "restart db with max_connections=60"
    started_at: float  # Unix time
    ended_at: float
    status: str  # "ok" | "failed" | "skipped"
    error: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ApplyRecord:
    """What `apply` changed, enough for `revert` to undo it."""

    params: Mapping[str, Any]
    undo: Mapping[str, Any] = field(default_factory=dict)  # provider-specific prior values
    actions: tuple[Action, ...] = ()
    journal: tuple[int, ...] = ()  # the StepLog entries whose undo `undo` holds (see each provider)


ActionSink = Callable[[Action], None]

# Entry states of the undo journal; an entry with an undo is pending until `reverted`.
INTENDED, DONE, FAILED, REVERTED, REVERT_FAILED = (
    "intended", "done", "failed", "reverted", "revert_failed",
)  # fmt: skip


class StepLog(Protocol):
    """The persistent undo journal a provider writes before and after each change."""

    def intend(self, name: str, undo: Mapping[str, Any] | None = None) -> int:
        """Record a step about to be made (and how to undo it); return its entry id."""
        ...

    def settle(self, entry: int, state: str, error: str = "") -> None:
        """Record what became of an entry: DONE, FAILED, REVERTED or REVERT_FAILED."""
        ...


class Provider(Protocol):
    """Applies and reverts arm parameters; reports the environment's facts."""

    def apply(self, params: Mapping[str, Any]) -> ApplyRecord:
        """Bring the system to `params`. Raises ProviderError (after undoing what it did)."""
        ...

    def revert(self, record: ApplyRecord) -> None:
        """Undo `record`. Must be safe to call after a partial apply."""
        ...

    def snapshot(self) -> Facts:
        """Read the facts in force now (read back from the system, not the request)."""
        ...
