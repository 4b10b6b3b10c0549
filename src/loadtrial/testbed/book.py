"""The testbed's state while it is being built or changed, saved on every change.

In: a `TestbedState` and its file's path. Out: `Book`, whose `update(**changes)` replaces
fields of the state and writes the file at once, so `down` finds every process even when
`up` or an arm's change was killed half-way. The one mutable object of the testbed, on
purpose: control.py, apply.py and balancer.py all write to it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from loadtrial.testbed.model import TestbedState, save_state


class Book:
    """The state being built, saved to disk on every change (mutable on purpose)."""

    def __init__(self, state: TestbedState, path: Path) -> None:
        self.state = state
        self.path = path
        save_state(state, path)

    def update(self, **changes: object) -> TestbedState:
        """Apply `changes` to the state, save it and return it."""
        self.state = replace(self.state, **changes)  # type: ignore[arg-type]
        save_state(self.state, self.path)
        return self.state
