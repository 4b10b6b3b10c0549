"""One distributed generator: the body of a Ray actor that runs one load engine.

In: the plan and this actor's share (worker index, count), a lease length, and calls from
the driver: `where()`, `clock()`, `exchange(messages)` and `stop()`. Out: the engine's
messages (Ready, one Tick per second, Done) as encoded bytes, handed over on each exchange.

The engine runs in a thread of the actor (worker.serve over an in-process transport). The
driver's calls are its lease: when none came for `lease_s` (the driver died, or this
node lost touch with the cluster while its process lived on), the engine stops itself, so
no orphan loads the target to the end of its schedule. Ray is not imported here:
distributed.py wraps this class.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from loadtrial.load.model import LoadPlan
from loadtrial.load.transport import Go, Stop, decode, encode, queue_pair
from loadtrial.load.worker import serve


class GeneratorActor:
    """One engine in a thread, relayed to the driver, stopped when its lease runs out."""

    def __init__(self, plan: LoadPlan, worker: int, workers: int, lease_s: float) -> None:
        self.lease_s = lease_s
        self.last_call = time.monotonic()
        self.mine, theirs = queue_pair()
        self.thread = threading.Thread(
            target=serve,
            args=(plan, worker, workers, theirs),
            kwargs={"orphaned": self._lease_lost},
            name="loadtrial-engine",
            daemon=True,
        )
        self.thread.start()

    def _lease_lost(self) -> bool:
        return time.monotonic() - self.last_call > self.lease_s

    def where(self) -> dict[str, str | int]:
        """Return this actor's host name and process id."""
        self.last_call = time.monotonic()
        return {"host": socket.gethostname(), "pid": os.getpid()}

    def clock(self) -> float:
        """Return this host's wall clock (for the driver's offset measurement)."""
        self.last_call = time.monotonic()
        return time.time()

    def exchange(self, outgoing: list[bytes]) -> list[bytes]:
        """Deliver the driver's messages; return the engine's since the last call.

        A Go carries t0 on this host's wall clock (the driver corrected it for the
        measured offset); the engine needs it on this host's monotonic clock.
        """
        self.last_call = time.monotonic()
        for data in outgoing:
            msg = decode(data)
            if isinstance(msg, Go):
                msg = Go(time.monotonic() + (msg.t0 - time.time()))
            self.mine.send(msg)
        out: list[bytes] = []
        while (got := self.mine.recv(0)) is not None:
            out.append(encode(got))
        return out

    def stop(self) -> bool:
        """Stop the engine and wait briefly for it; True when it has ended."""
        self.mine.send(Stop())
        self.thread.join(timeout=5.0)
        return not self.thread.is_alive()
