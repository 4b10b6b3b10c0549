"""The built-in load balancer: round robin over healthy app nodes, with its own stats.

In: a listening socket for traffic (`--fd`), one for stats (`--stats-fd`), and a JSON file
listing backends ("127.0.0.1:port"), re-read on SIGHUP. Out: HTTP/1.1 proxying with
keep-alive on both sides; 502 when a backend refuses or resets, 504 when it does not answer
within `--timeout`, 503 when no backend is healthy; `GET /metrics` on the stats socket in
Prometheus text. Health checks: `GET /health` every second; two failures take a node out,
one success brings it back. Run as `python -m loadtrial.testbed.lb`.

`--maxconn N` (0: no limit) caps the requests in flight on each backend, as HAProxy's
`server ... maxconn` does: a request finding every healthy backend full waits in one FIFO
queue, and after `--queue-timeout` seconds gets a 503, as HAProxy's `timeout queue` gives.
The stats show requests in flight against the limit (N × healthy backends) and the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import socket
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

import uvloop

from loadtrial.testbed.procs import set_nodelay

HEAD_LIMIT = 65536


@dataclass
class Backend:
    """One app node as the balancer sees it (mutable: health and idle connections)."""

    addr: str
    healthy: bool = True
    fails: int = 0
    inflight: int = 0  # requests sent and not yet answered
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    @property
    def host_port(self) -> tuple[str, int]:
        """("127.0.0.1", port)."""
        host, port = self.addr.rsplit(":", 1)
        return host, int(port)


@dataclass
class Balancer:
    """Round-robin state, counters and settings of one balancer process."""

    backends_file: Path
    timeout_s: float
    health_interval_s: float = 1.0
    maxconn: int = 0  # requests in flight per backend; 0: no limit
    queue_timeout_s: float = 1.0
    backends: list[Backend] = field(default_factory=list)
    next_index: int = 0
    responses: Counter[tuple[str, int]] = field(default_factory=Counter)
    active: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)

    def reload(self) -> None:
        """Re-read the backend list, keeping the health of nodes that stay."""
        addrs = json.loads(self.backends_file.read_text())
        old = {b.addr: b for b in self.backends}
        self.backends = [old.get(a, Backend(a)) for a in addrs]

    def pick(self) -> Backend | None:
        """The next healthy backend with room in round-robin order, or None."""
        n = len(self.backends)
        for _ in range(n):
            backend = self.backends[self.next_index % n]
            self.next_index += 1
            if backend.healthy and (not self.maxconn or backend.inflight < self.maxconn):
                return backend
        return None

    def release(self, backend: Backend) -> None:
        """A request on `backend` is done: wake the first request waiting for room."""
        backend.inflight -= 1
        while self.waiting:
            first = self.waiting.popleft()
            if not first.done():
                first.set_result(None)
                return


class QueueTimeout(Exception):
    """No backend had room within the queue timeout."""


async def claim(bal: Balancer) -> Backend | None:
    """A healthy backend with room, after waiting in the FIFO queue when all are full;
    None when no backend is healthy; QueueTimeout after `bal.queue_timeout_s`."""
    if not any(b.healthy for b in bal.backends):
        return None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bal.queue_timeout_s
    backend = None if bal.waiting else bal.pick()  # first come, first served
    while backend is None:
        turn = loop.create_future()
        bal.waiting.append(turn)
        try:
            await asyncio.wait_for(turn, max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise QueueTimeout from None
        finally:
            if turn in bal.waiting:
                bal.waiting.remove(turn)
        backend = bal.pick()
        if backend is None and not any(b.healthy for b in bal.backends):
            return None
    backend.inflight += 1
    return backend


class BackendFailed(Exception):
    """The backend refused, reset or timed out; `status` is what the client gets."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def _header(head: bytes, wanted: bytes) -> bytes:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == wanted:
            return value.strip().lower()
    return b""


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    """Read a message body framed by Content-Length or chunked encoding (kept raw)."""
    if _header(head, b"transfer-encoding") == b"chunked":
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            parts.append(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                return b"".join(parts)
    return await reader.readexactly(_content_length(head))


async def _exchange(
    bal: Balancer, backend: Backend, request: bytes, fresh: bool
) -> tuple[bytes, bytes, bool]:
    """Send `request` on a pooled or new connection; return (head, body, reusable)."""
    host, port = backend.host_port
    if backend.idle and not fresh:
        reader, writer = backend.idle.pop()
    else:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 3.0)
        except (OSError, TimeoutError) as exc:
            raise BackendFailed(502, f"connect: {exc}") from None
        set_nodelay(writer)
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), bal.timeout_s)
        body = await asyncio.wait_for(_read_body(reader, head), bal.timeout_s)
    except TimeoutError:
        writer.close()
        raise BackendFailed(504, "backend timeout") from None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        writer.close()
        raise BackendFailed(502, f"backend reset: {type(exc).__name__}") from None
    reusable = _header(head, b"connection") != b"close"
    if reusable:
        backend.idle.append((reader, writer))
    else:
        writer.close()
    return head, body, reusable


async def forward(bal: Balancer, request: bytes) -> tuple[bytes, str]:
    """Forward one raw request; return (raw response, backend name or "-")."""
    try:
        backend = await claim(bal)
    except QueueTimeout:
        return _plain(503, "no backend had room within the queue timeout"), "-"
    if backend is None:
        return _plain(503, "no healthy backend"), "-"
    had_idle = bool(backend.idle)
    try:
        try:
            head, body, _ = await _exchange(bal, backend, request, fresh=False)
        except BackendFailed as exc:
            # A pooled connection may have been closed by the node meanwhile: retry once fresh.
            if not had_idle or exc.status == 504:
                raise
            head, body, _ = await _exchange(bal, backend, request, fresh=True)
    except BackendFailed as exc:
        return _plain(exc.status, str(exc)), backend.addr
    finally:
        bal.release(backend)
    return head + body, backend.addr


def _plain(status: int, text: str) -> bytes:
    reason = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
    body = (text + "\n").encode()
    head = f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Content-Type: text/plain\r\n\r\n" + body


def _status(response: bytes) -> int:
    return int(response[9:12])


async def serve_client(
    bal: Balancer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Proxy requests from one client connection until it closes."""
    bal.active += 1
    set_nodelay(writer)
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                body = await _read_body(reader, head)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError, ValueError):
                return
            response, addr = await forward(bal, head + body)
            bal.responses[(addr, _status(response))] += 1
            writer.write(response)
            await writer.drain()
            if _header(head, b"connection") == b"close":
                return
    except OSError:
        return
    finally:
        bal.active -= 1
        writer.close()


async def check_health(bal: Balancer) -> None:
    """Every second, GET /health on each backend; update its healthy flag."""
    while True:
        for backend in list(bal.backends):
            ok = await _probe(backend)
            backend.fails = 0 if ok else backend.fails + 1
            backend.healthy = ok or (backend.healthy and backend.fails < 2)
        await asyncio.sleep(bal.health_interval_s)


async def _probe(backend: Backend) -> bool:
    host, port = backend.host_port
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n")
        line = await asyncio.wait_for(reader.readline(), 1.0)
        return line.startswith(b"HTTP/1.1 200")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


def metrics_text(bal: Balancer) -> str:
    """The balancer's counters and backend health in Prometheus text format."""
    lines = ["# TYPE testbed_lb_responses_total counter"]
    for (addr, status), count in sorted(bal.responses.items()):
        lines.append(f'testbed_lb_responses_total{{backend="{addr}",code="{status}"}} {count}')
    total = sum(bal.responses.values())
    errors = sum(c for (_, s), c in bal.responses.items() if s >= 500)
    lines += [
        f"testbed_lb_requests_total {total}",
        f"testbed_lb_5xx_total {errors}",
        f"testbed_lb_active_connections {bal.active}",
        f"testbed_lb_backends {len(bal.backends)}",
        f"testbed_lb_backends_healthy {sum(b.healthy for b in bal.backends)}",
        f"testbed_lb_backend_inflight {sum(b.inflight for b in bal.backends)}",
        f"testbed_lb_queue_depth {sum(not w.done() for w in bal.waiting)}",
        f"testbed_lb_maxconn {bal.maxconn}",
    ]
    if bal.maxconn:  # no limit: no capacity to be near
        lines.append(
            f"testbed_lb_backend_limit {bal.maxconn * sum(b.healthy for b in bal.backends)}"
        )
    for b in bal.backends:
        lines.append(f'testbed_lb_backend_up{{backend="{b.addr}"}} {int(b.healthy)}')
    return "\n".join(lines) + "\n"


async def serve_stats(
    bal: Balancer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Answer one stats request (any path) with the metrics, then close."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        await reader.readuntil(b"\r\n\r\n")
        body = metrics_text(bal).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
    writer.close()


async def run(args: argparse.Namespace) -> None:
    """Serve traffic and stats until SIGTERM/SIGINT; SIGHUP reloads the backend list."""
    bal = Balancer(
        Path(args.backends),
        args.timeout,
        health_interval_s=args.health_interval,
        maxconn=args.maxconn,
        queue_timeout_s=args.queue_timeout,
    )
    bal.reload()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    loop.add_signal_handler(signal.SIGHUP, bal.reload)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    traffic = socket.socket(fileno=args.fd)
    stats = socket.socket(fileno=args.stats_fd)
    server = await asyncio.start_server(
        lambda r, w: serve_client(bal, r, w), sock=traffic, limit=HEAD_LIMIT
    )
    stats_server = await asyncio.start_server(lambda r, w: serve_stats(bal, r, w), sock=stats)
    health = asyncio.create_task(check_health(bal))
    await done.wait()
    health.cancel()
    server.close()
    stats_server.close()


def main() -> None:
    """Parse flags and run the balancer on uvloop."""
    parser = argparse.ArgumentParser(description="testbed load balancer")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--stats-fd", type=int, required=True)
    parser.add_argument("--backends", required=True)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--health-interval", type=float, default=1.0)
    parser.add_argument("--maxconn", type=int, default=0, help="per backend; 0: no limit")
    parser.add_argument("--queue-timeout", type=float, default=1.0)
    uvloop.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
