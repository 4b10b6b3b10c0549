"""The worker ↔ coordinator contract: a few small messages and a one-way-each Transport.

In/out: messages encoded as JSON bytes (histograms as base64 text), so the same contract
runs over a multiprocessing pipe today and a socket to another machine later.

    coordinator → worker:  Go(t0)  Stop()
    worker → coordinator:  Ready(worker)  Tick(worker, stats)  Done(worker, ran_s, error, stopped)

`PipeTransport` wraps a multiprocessing Connection; `queue_pair()` gives two in-process
ends for a worker run as a thread. Both carry the same encoded bytes.
"""

from __future__ import annotations

import json
import queue
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any, Protocol

from loadtrial.load.model import IntervalStats


@dataclass(frozen=True)
class Go:
    """Start: second 0 begins at monotonic time t0 (same host: CLOCK_MONOTONIC)."""

    t0: float


@dataclass(frozen=True)
class Stop:
    """End the run now; drain briefly and report what was measured."""


@dataclass(frozen=True)
class Ready:
    """The worker is set up and waits for Go."""

    worker: int


@dataclass(frozen=True)
class Tick:
    """One finished second of one worker."""

    worker: int
    stats: IntervalStats


@dataclass(frozen=True)
class Done:
    """The worker finished; `ran_s` seconds of schedule ran; `error` is empty unless it broke;
    `stopped` says why it stopped sending before its schedule's end ("" when it did not)."""

    worker: int
    ran_s: float
    error: str = ""
    stopped: str = ""


Message = Go | Stop | Ready | Tick | Done
_TYPES: dict[str, type[Any]] = {"go": Go, "stop": Stop, "ready": Ready, "tick": Tick, "done": Done}
_HIST_FIELDS = ("latency_hist", "uncorrected_hist", "send_lag_hist")


def encode(msg: Message) -> bytes:
    """Return the JSON bytes of a message."""
    kind = next(k for k, t in _TYPES.items() if isinstance(msg, t))
    body: dict[str, Any] = asdict(msg)
    if isinstance(msg, Tick):
        body["stats"] = _stats_out(body["stats"])
    return json.dumps({"type": kind, **body}, separators=(",", ":")).encode()


def _stats_out(stats: dict[str, Any]) -> dict[str, Any]:
    """An IntervalStats as asdict gave it, made JSON-ready (per-request parts included)."""
    for name in _HIST_FIELDS:
        stats[name] = stats[name].decode("ascii")
    stats["errors"] = dict(stats["errors"])
    stats["requests"] = {k: _stats_out(v) for k, v in stats["requests"].items()}
    return stats


def _stats_in(stats: dict[str, Any]) -> IntervalStats:
    """The IntervalStats of a `_stats_out` mapping."""
    for name in _HIST_FIELDS:
        stats[name] = stats[name].encode("ascii")
    stats["requests"] = {k: _stats_in(v) for k, v in stats["requests"].items()}
    return IntervalStats(**stats)


def decode(data: bytes) -> Message:
    """Return the message of JSON bytes made by `encode`."""
    body = json.loads(data)
    cls = _TYPES[body.pop("type")]
    if cls is Tick:
        body["stats"] = _stats_in(body["stats"])
    msg: Message = cls(**body)
    return msg


class Transport(Protocol):
    """One end of a worker ↔ coordinator channel."""

    def send(self, msg: Message) -> None:
        """Deliver a message to the other end (never blocks for long)."""
        ...

    def recv(self, timeout_s: float) -> Message | None:
        """Return the next message, or None when none came within `timeout_s`.

        Raises EOFError when the other end is gone.
        """
        ...

    def close(self) -> None:
        """Release the channel."""
        ...


class PipeTransport:
    """A Transport over a multiprocessing Connection (one end of a Pipe)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def send(self, msg: Message) -> None:
        self._conn.send_bytes(encode(msg))

    def recv(self, timeout_s: float) -> Message | None:
        if not self._conn.poll(timeout_s):
            return None
        return decode(self._conn.recv_bytes())

    def close(self) -> None:
        self._conn.close()


class QueueTransport:
    """A Transport between two threads of one process."""

    def __init__(self, inbox: queue.Queue[bytes], outbox: queue.Queue[bytes]) -> None:
        self._in, self._out = inbox, outbox

    def send(self, msg: Message) -> None:
        self._out.put(encode(msg))

    def recv(self, timeout_s: float) -> Message | None:
        try:
            data = self._in.get(timeout=timeout_s) if timeout_s > 0 else self._in.get_nowait()
        except queue.Empty:
            return None
        return decode(data)

    def close(self) -> None:
        """Nothing to release."""


def queue_pair() -> tuple[QueueTransport, QueueTransport]:
    """Return (coordinator end, worker end) of an in-process channel."""
    a: queue.Queue[bytes] = queue.Queue()
    b: queue.Queue[bytes] = queue.Queue()
    return QueueTransport(a, b), QueueTransport(b, a)
