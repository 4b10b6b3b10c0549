"""Counters to rates: most servers count (commits, questions, bytes) since they started.

In: a counter's cumulative value at a run-clock time. Out: the per-second rate since the
previous reading, or None for the first reading and after a reset (the counter went down,
e.g. the server restarted), so a restart shows as a gap rather than a huge negative rate.
"""

from __future__ import annotations


class CounterRates:
    """Per-name memory of the last reading; one instance per observer."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}

    def rate(self, name: str, value: float, t_s: float) -> float | None:
        """Return (value - previous) / elapsed, or None when no rate can be told."""
        previous = self._last.get(name)
        self._last[name] = (t_s, value)
        if previous is None:
            return None
        t_prev, v_prev = previous
        elapsed = t_s - t_prev
        if elapsed <= 0 or value < v_prev:
            return None
        return (value - v_prev) / elapsed

    def forget(self) -> None:
        """Drop every memory (after a reconnect the counters may have restarted)."""
        self._last.clear()
