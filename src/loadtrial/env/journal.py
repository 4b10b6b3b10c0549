"""Helpers around the undo journal (`StepLog`) that every provider uses the same way.

In: a StepLog (the runner's, persistent in the store; or `MemoryLog` when a provider is
used as a library without a store) and a step to take. Out: the step taken between an
`intended` entry and its settling, so a kill at any point leaves the entry behind: a step
`intended` but never `done` is the one that was in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from loadtrial.env.model import DONE, FAILED, INTENDED, REVERT_FAILED, REVERTED, StepLog

T = TypeVar("T")


@contextmanager
def logged(log: StepLog, name: str, undo: Mapping[str, Any] | None = None) -> Iterator[int]:
    """Write `name` as intended, run the block, settle it done (or failed when it raises,
    also on Ctrl-C); yield the entry id."""
    entry = log.intend(name, undo)
    try:
        yield entry
    except BaseException as exc:
        log.settle(entry, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    log.settle(entry, DONE)


def undone(log: StepLog, entries: tuple[int, ...], step: Callable[[], T]) -> T:
    """Run an undo `step` for `entries`; settle them reverted, or revert_failed when it
    raises (the exception goes on)."""
    try:
        result = step()
    except BaseException as exc:
        for entry in entries:
            log.settle(entry, REVERT_FAILED, f"{type(exc).__name__}: {exc}")
        raise
    for entry in entries:
        log.settle(entry, REVERTED)
    return result


@dataclass(frozen=True)
class MemoryEntry:
    """One entry of a MemoryLog."""

    entry_id: int
    name: str
    undo: Mapping[str, Any]
    states: list[str] = field(default_factory=list)  # every state it went through

    @property
    def state(self) -> str:
        """The latest state."""
        return self.states[-1]


class MemoryLog:
    """A StepLog kept in memory: for a provider used without a results store (nothing
    survives the process, so nothing can be recovered after a kill)."""

    def __init__(self) -> None:
        self.entries: list[MemoryEntry] = []

    def intend(self, name: str, undo: Mapping[str, Any] | None = None) -> int:
        """Append an intended entry; return its id (1-based)."""
        entry = MemoryEntry(len(self.entries) + 1, name, dict(undo or {}), [INTENDED])
        self.entries.append(entry)
        return entry.entry_id

    def settle(self, entry: int, state: str, error: str = "") -> None:
        """Record the entry's new state."""
        self.entries[entry - 1].states.append(state)

    def pending(self) -> list[MemoryEntry]:
        """Entries with an undo that has not run yet."""
        return [e for e in self.entries if e.undo and e.state != REVERTED]
