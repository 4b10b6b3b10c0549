"""Tiny local HTTP targets: run one in a thread or a child process, get its URL, stop it.

    with start_target_thread(TargetConfig("fast")) as target:
        target.url          # "http://127.0.0.1:<port>/"
    start_target_process(TargetConfig("freeze", epoch=t)).stop()
    closed_port_url()       # a URL nobody listens on (connection refused)
    serve_blocking(cfg, host, port)   # the `loadtrial target` command

Targets bind 127.0.0.1 on an OS-chosen port unless told otherwise. See server.py for kinds.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import ssl as ssl_module
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import uvloop

from loadtrial.targets.server import KINDS, TargetConfig, freeze_remaining_s, response, serve

__all__ = [
    "KINDS",
    "RunningTarget",
    "TargetConfig",
    "closed_port_url",
    "freeze_remaining_s",
    "response",
    "serve_blocking",
    "start_target_process",
    "start_target_thread",
]


def _new_loop() -> asyncio.AbstractEventLoop:
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


@dataclass
class RunningTarget:
    """A target that is serving; `stop()` ends it (also on leaving a `with` block)."""

    host: str
    port: int
    scheme: str = "http"
    pid: int | None = None  # the serving process when it is a child process
    _stop: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The base URL, ending in '/'."""
        return f"{self.scheme}://{self.host}:{self.port}/"

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._stop is not None:
            stop, self._stop = self._stop, None
            stop()

    def __enter__(self) -> RunningTarget:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_target_thread(
    cfg: TargetConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl: ssl_module.SSLContext | None = None,
) -> RunningTarget:
    """Serve `cfg` on a thread of this process; return once it listens."""
    loop = _new_loop()
    ready: list[int] = []
    started = threading.Event()
    done = asyncio.Event()

    async def main() -> None:
        server = await serve(cfg, host, port, ssl=ssl)
        ready.append(server.sockets[0].getsockname()[1])
        started.set()
        await done.wait()
        server.close()
        await server.wait_closed()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        finally:
            started.set()
            loop.close()

    thread = threading.Thread(target=run, name=f"target-{cfg.kind}", daemon=True)
    thread.start()
    started.wait(10.0)
    if not ready:
        raise OSError(f"the {cfg.kind} target could not listen on {host}:{port}")

    def stop() -> None:
        loop.call_soon_threadsafe(done.set)
        thread.join(5.0)

    return RunningTarget(host, ready[0], "https" if ssl else "http", None, stop)


def serve_blocking(
    cfg: TargetConfig, host: str, port: int, on_ready: Any = None, stop: Any = None
) -> None:
    """Serve until `stop` (a threading/multiprocessing Event) is set or Ctrl-C."""
    loop = _new_loop()

    async def main() -> None:
        server = await serve(cfg, host, port)
        if on_ready is not None:
            on_ready(server.sockets[0].getsockname()[1])
        while stop is None or not stop.is_set():
            await asyncio.sleep(0.1)
        server.close()
        await server.wait_closed()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def _child(cfg: TargetConfig, host: str, port: int, conn: Connection, stop: Any) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve_blocking(cfg, host, port, on_ready=conn.send, stop=stop)


def start_target_process(
    cfg: TargetConfig, host: str = "127.0.0.1", port: int = 0
) -> RunningTarget:
    """Serve `cfg` in a child process (no GIL shared with the caller); return once listening."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    stop_event = ctx.Event()
    proc = ctx.Process(target=_child, args=(cfg, host, port, child, stop_event), daemon=True)
    proc.start()
    child.close()
    if not parent.poll(30.0):
        proc.terminate()
        proc.join(2.0)
        raise OSError(f"the {cfg.kind} target process did not start")
    bound = int(parent.recv())

    def stop() -> None:
        stop_event.set()
        proc.join(3.0)
        if proc.is_alive():
            proc.terminate()
            proc.join(2.0)
        parent.close()

    return RunningTarget(host, bound, "http", proc.pid, stop)


def closed_port_url(host: str = "127.0.0.1") -> str:
    """Return a URL on a port that was just free (a connect is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    return f"http://{host}:{port}/"
