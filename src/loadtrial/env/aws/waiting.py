"""Polling waiters on an injected Clock, and the journal of steps.

In: a `read()` that asks AWS for the current state, a `done(state)` test, a Clock and the
poll interval / timeout. Out: the final state, or ProviderError naming what never happened.
boto3's own waiters sleep on the wall clock with fixed delays; these take a Clock so tests
run the same code in milliseconds (FakeClock) and users tune poll/timeout per trial.

`Journal.step(name)` is a context manager: it writes the step to the undo journal as
intended before the block runs and settles it after, and records one `Action` (start, end,
status, error, detail) through the provider's sink whether the step succeeds or raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from loadtrial.clock import Clock
from loadtrial.env.journal import logged
from loadtrial.env.model import DONE, FAILED, Action, ActionSink, StepLog
from loadtrial.errors import ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class Waiter:
    """Polls every `poll_s` until a condition holds or `timeout_s` has passed."""

    clock: Clock
    poll_s: float
    timeout_s: float

    def until(self, what: str, read: Callable[[], T], done: Callable[[T], bool]) -> T:
        """Return the first state from `read()` for which `done` holds; raise on timeout."""
        deadline = self.clock.now() + self.timeout_s
        polls = 0
        while True:
            state = read()
            polls += 1
            if done(state):
                return state
            if self.clock.now() >= deadline:
                raise ProviderError(
                    f"timed out after {self.timeout_s:.0f}s ({polls} polls) waiting for {what}",
                    hint="raise env.waits.timeout, or check the resource in the AWS console",
                )
            self.clock.sleep(min(self.poll_s, max(0.0, deadline - self.clock.now())))


class Journal:
    """Records each step as an Action through the sink, and keeps them for ApplyRecord."""

    def __init__(self, sink: ActionSink, clock: Clock, log: StepLog) -> None:
        self._sink = sink
        self._clock = clock
        self.log = log
        self.actions: list[Action] = []

    def record(self, name: str, status: str, error: str = "", **detail: Any) -> None:
        """Record an instant action (a decision or a skipped step)."""
        now = self._clock.wall()
        self.log.settle(self.log.intend(name), FAILED if status == "failed" else DONE, error)
        self._emit(Action(name, now, now, status, error, dict(detail)))

    @contextmanager
    def step(self, name: str, **detail: Any) -> Iterator[dict[str, Any]]:
        """Time the enclosed block as one action; the yielded dict adds detail."""
        extra: dict[str, Any] = dict(detail)
        started = self._clock.wall()
        try:
            with logged(self.log, name):
                yield extra
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._emit(Action(name, started, self._clock.wall(), "failed", error, extra))
            raise
        self._emit(Action(name, started, self._clock.wall(), "ok", "", extra))

    def _emit(self, action: Action) -> None:
        self.actions.append(action)
        self._sink(action)
