"""The worker ↔ coordinator messages survive encoding, over a queue pair and a real pipe."""

from __future__ import annotations

import multiprocessing

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats
from loadtrial.load.transport import (
    Done,
    Go,
    PipeTransport,
    Ready,
    Stop,
    Tick,
    decode,
    encode,
    queue_pair,
)


def _stats() -> IntervalStats:
    hist = hdr.encode(hdr.from_values_us([100.0, 2000.0, 2000.0]))
    return IntervalStats(
        second=3, offered=3, sent=3, completed=3, ok=1, late=1, dropped=0,
        errors={"http_500": 1, "timeout": 1}, latency_hist=hist, uncorrected_hist=hist,
        max_send_lag_us=120, cpu_percent=12.5, send_lag_hist=hist,
    )  # fmt: skip


def test_every_message_round_trips() -> None:
    for msg in (Go(123.25), Stop(), Ready(2), Tick(1, _stats()), Done(0, 5.0, "boom")):
        assert decode(encode(msg)) == msg


def test_queue_pair_and_pipe_carry_messages() -> None:
    mine, theirs = queue_pair()
    theirs.send(Tick(0, _stats()))
    assert mine.recv(1.0) == Tick(0, _stats())
    assert mine.recv(0) is None
    a, b = multiprocessing.Pipe()
    left, right = PipeTransport(a), PipeTransport(b)
    left.send(Go(1.5))
    assert right.recv(1.0) == Go(1.5)
    assert right.recv(0.01) is None
    left.close()
    right.close()
