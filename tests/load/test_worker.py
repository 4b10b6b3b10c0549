"""A worker over any Transport: it reports Ready/Tick/Done and ends when nobody listens."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from loadtrial.errors import LoadtrialError
from loadtrial.load.coordinator import Collected, Workers, _await_ready, _collect, conclude
from loadtrial.load.model import EngineProvenance, LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.load.transport import (
    Done,
    Go,
    Message,
    PipeTransport,
    Ready,
    Tick,
    Transport,
    queue_pair,
)
from loadtrial.load.worker import serve
from loadtrial.targets import RunningTarget


class _VanishingCoordinator:
    """A transport end whose peer disappears after Go: every send then fails."""

    def __init__(self, t0: float) -> None:
        self.sent: list[Message] = []
        self._inbox: list[Message] = [Go(t0)]

    def send(self, msg: Message) -> None:
        if isinstance(msg, Tick):
            raise BrokenPipeError("coordinator gone")
        self.sent.append(msg)

    def recv(self, timeout_s: float) -> Message | None:
        return self._inbox.pop(0) if self._inbox else None

    def close(self) -> None:
        """Nothing to release."""


def _plan(url: str, seconds: float) -> LoadPlan:
    return LoadPlan((RequestSpec("r", "GET", url),), OpenModel((Stage(seconds, 50.0),)))


@pytest.mark.timeout(60)
def test_worker_over_a_queue_pair(fast_target: RunningTarget) -> None:
    mine, theirs = queue_pair()
    mine.send(Go(time.monotonic() + 0.05))
    serve(_plan(fast_target.url, 1.0), 0, 1, theirs)
    got: list[Message] = []
    while (msg := mine.recv(0)) is not None:
        got.append(msg)
    assert isinstance(got[0], Ready) and isinstance(got[-1], Done)
    ticks = [m.stats for m in got if isinstance(m, Tick)]
    assert sum(t.completed for t in ticks) == 50
    assert [t.second for t in ticks] == list(range(len(ticks)))


@pytest.mark.timeout(60)
def test_worker_ends_when_the_coordinator_is_gone(fast_target: RunningTarget) -> None:
    transport = _VanishingCoordinator(time.monotonic() + 0.05)
    started = time.monotonic()
    serve(_plan(fast_target.url, 60.0), 0, 1, transport)
    assert time.monotonic() - started < 15  # not the 60 s of the plan
    assert isinstance(transport.sent[-1], Done)


def _pool_of(*transports: Transport) -> Workers:
    pool = Workers.__new__(Workers)
    pool.transports, pool.procs = list(transports), []
    return pool


def test_a_worker_gone_before_ready_is_one_error_not_an_eof_traceback() -> None:
    mine, theirs = multiprocessing.Pipe()
    theirs.close()  # the worker process died while starting
    with pytest.raises(LoadtrialError, match="load worker 0 ended before it was ready"):
        _await_ready(_pool_of(PipeTransport(mine)))


def test_a_silent_worker_is_reported_not_started_anyway() -> None:
    ready, silent = queue_pair(), queue_pair()
    ready[1].send(Ready(0))
    with pytest.raises(LoadtrialError, match=r"load worker\(s\) \[1\] not ready after 0.3 s"):
        _await_ready(_pool_of(ready[0], silent[0]), timeout_s=0.3)


class _BrokenChannel(_VanishingCoordinator):
    """A transport end that delivers Go, then fails on every read (sends still arrive)."""

    def send(self, msg: Message) -> None:
        self.sent.append(msg)

    def recv(self, timeout_s: float) -> Message | None:
        if self._inbox:
            return self._inbox.pop(0)
        raise ConnectionResetError("channel broke")


@pytest.mark.timeout(60)
def test_a_worker_that_stops_early_says_why_and_the_run_is_invalid(
    fast_target: RunningTarget,
) -> None:
    # seen once in the suite: a run whose worker sent nothing and reported a clean Done
    transport = _BrokenChannel(time.monotonic() + 0.05)
    serve(_plan(fast_target.url, 30.0), 0, 1, transport)
    done = transport.sent[-1]
    assert isinstance(done, Done) and done.ran_s < 30.0
    assert "channel to the coordinator failed (ConnectionResetError)" in done.stopped
    # the coordinator turns a stop it did not ask for into a reason the run is invalid
    out = Collected(ran_s=done.ran_s, stopped=[f"load worker 0 stopped sending after "
                                                f"{done.ran_s:.2f} s: {done.stopped}"])  # fmt: skip
    result = conclude(_plan(fast_target.url, 30.0), 0.0, 0.0, out,
                      EngineProvenance("local", 1))  # fmt: skip
    assert not result.valid
    assert any("stopped sending" in r and "channel" in r for r in result.invalid_reasons)
    # a stop the coordinator asked for (Ctrl-C, an abort rule) is the run's own ending
    asked = conclude(_plan(fast_target.url, 30.0), 0.0, 0.0,
                     Collected(ran_s=1.0, stopped=list(out.stopped), interrupted=True),
                     EngineProvenance("local", 1))  # fmt: skip
    assert not any("stopped sending" in r for r in asked.invalid_reasons)


def test_the_coordinator_collects_why_a_worker_stopped() -> None:
    mine, theirs = queue_pair()
    theirs.send(Done(0, 0.05, stopped="its coordinator process is gone"))
    out = _collect(_pool_of(mine), 1, None, threading.Event())
    assert out.stopped == ["load worker 0 stopped sending after 0.05 s: its coordinator "
                           "process is gone"]  # fmt: skip
    # a clean Done stops nothing
    mine, theirs = queue_pair()
    theirs.send(Done(0, 1.0))
    assert _collect(_pool_of(mine), 1, None, threading.Event()).stopped == []
