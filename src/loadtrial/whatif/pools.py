"""Connection pools in the simulation: one per app node, under one database-wide limit.

In: a SimPy environment, a pool's maximum size and the database's slots. Out: `Pool`
(acquire → an event, give_up, release, busy) and `DbSlots` (take). A pool grows on demand
while the database has a free slot, keeps what it opened (psycopg pools with min 0 do not
close idle connections within a run) and hands connections out first-come, first-served.
"""

from __future__ import annotations

from collections import deque

import simpy


class Pool:
    """One app node's connection pool: grows on demand while the database has a slot,
    keeps its connections (no idle close within a run), hands them out FIFO."""

    def __init__(self, env: simpy.Environment, size_max: int, db: DbSlots) -> None:
        self.env, self.size_max, self.db = env, size_max, db
        self.open = self.idle = 0
        self.waiters: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event:
        """An event that succeeds when a connection is this request's; its value is True
        when the pool opened it for this request (a new connection: its first use costs the
        database a backend's start-up), else None."""
        ev = self.env.event()
        if self.idle:
            self.idle -= 1
            ev.succeed()
        elif self.open < self.size_max and self.db.take():
            self.open += 1
            ev.succeed(True)
        else:
            self.waiters.append(ev)
        return ev

    def give_up(self, ev: simpy.Event) -> None:
        """A waiter timed out: forget it (or give back what it got in the same instant)."""
        if ev.triggered:
            self.release()
        else:
            self.waiters.remove(ev)

    def release(self) -> None:
        """Hand the connection to the first waiter, else keep it idle."""
        if self.waiters:
            self.waiters.popleft().succeed()
        else:
            self.idle += 1

    @property
    def busy(self) -> int:
        """Connections in use."""
        return self.open - self.idle


class DbSlots:
    """The database's connection slots left for the apps."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def take(self) -> bool:
        """Take a slot when one is free."""
        if self.used >= self.limit:
            return False
        self.used += 1
        return True
