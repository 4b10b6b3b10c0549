"""Injected time, so schedulers, samplers and recorders are testable without sleeping.

`Clock.now()` is monotonic seconds (the run clock is `now() - t0`); `Clock.wall()` is Unix
time for display and provenance only. `FakeClock` is advanced by hand in tests.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of monotonic and wall time."""

    def now(self) -> float:
        """Monotonic seconds; shared by all processes on one host (CLOCK_MONOTONIC)."""
        ...

    def wall(self) -> float:
        """Unix time in seconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Block for `seconds` (a fake clock just advances)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class FakeClock:
    """A clock that moves only when told to; `sleep` advances it."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1.7e9) -> None:
        self._now = start
        self._wall_offset = wall_offset

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`."""
        self._now += seconds
