"""A load worker: one engine driven through a Transport (in a thread or a child process).

In: the plan, this worker's share (index, count) and its end of a Transport.
Out: messages on the transport: Ready, then one Tick per second, then Done. A Stop from
the coordinator (or the transport closing) ends the run early; a crash becomes
Done(error=...), so the coordinator always learns how the worker ended.
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

from loadtrial.load.engine import run_engine
from loadtrial.load.model import IntervalStats, LoadPlan
from loadtrial.load.transport import Done, Go, PipeTransport, Ready, Stop, Tick, Transport

GO_TIMEOUT_S = 120.0  # a worker gives up when no Go arrives in this long


def serve(
    plan: LoadPlan,
    worker: int,
    workers: int,
    transport: Transport,
    orphaned: Callable[[], bool] = lambda: False,
) -> None:
    """Run one worker to completion over `transport`; `orphaned()` true ends it early."""
    transport.send(Ready(worker))
    try:
        msg = transport.recv(GO_TIMEOUT_S)
    except EOFError:
        return
    if not isinstance(msg, Go):
        transport.send(Done(worker, 0.0))
        return
    stopped = False
    why: list[str] = []  # why the engine was told to stop sending, when it was

    def should_stop() -> bool:
        nonlocal stopped
        try:
            while not stopped and (m := transport.recv(0)) is not None:
                stopped = isinstance(m, Stop)
                if stopped:
                    why.append("the coordinator asked it to stop")
        except (EOFError, OSError) as exc:
            stopped = True
            why.append(f"its channel to the coordinator failed ({type(exc).__name__})")
        if not stopped and orphaned():
            why.append("its coordinator process is gone")
            return True
        return stopped

    def emit(stats: IntervalStats) -> None:
        transport.send(Tick(worker, stats))

    try:
        ran_s = run_engine(
            plan, worker=worker, workers=workers, t0=msg.t0, emit=emit, should_stop=should_stop
        )
    except Exception as exc:  # a bug: report it as data, the coordinator decides
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        transport.send(Done(worker, 0.0, error=detail))
        return
    transport.send(Done(worker, ran_s, stopped=why[0] if why else ""))


def child_main(plan: LoadPlan, worker: int, workers: int, conn: Connection) -> None:
    """Entry point of a worker process: Ctrl-C is the coordinator's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    transport = PipeTransport(conn)
    parent = os.getppid()
    try:
        serve(plan, worker, workers, transport, orphaned=lambda: os.getppid() != parent)
    except OSError:  # the coordinator is gone (broken pipe, reset): nothing to report to
        pass
    finally:
        transport.close()
