"""What the database observers share: one kept monitoring connection and their own events.

In: a subclass that sets `_conn` (any DB-API connection or None) and `_events`.
Out: `stop()` that closes the connection without raising, and `drain_events()` (the
EmitsEvents ability the sampler reads after each sample).
"""

from __future__ import annotations

import contextlib
from typing import Any

from loadtrial.observe.model import ObserverEvent


class KeptConnection:
    """Mixin of PostgresObserver and MysqlObserver."""

    _conn: Any
    _events: list[ObserverEvent]

    def stop(self) -> None:
        """Close the monitoring connection; never raises."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # stop never raises
                conn.close()

    def drain_events(self) -> list[ObserverEvent]:
        """Return and forget the events noted since the last call."""
        events, self._events = self._events, []
        return events
