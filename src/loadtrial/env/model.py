"""Data of the environment providers' door.

A provider applies an arm's parameters to the system under test, undoes them, and reads
the facts actually in force (a Snapshot). Every step it takes is an Action, recorded by the
runner's journal with start, end, status and error (Chaos Toolkit's run journal).
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


ActionSink = Callable[[Action], None]


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
