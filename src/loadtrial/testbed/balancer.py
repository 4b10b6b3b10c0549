"""The testbed's balancer, HAProxy or the built-in one: start, update backends, wait.

In: the state being built (`book.Book`) and the app nodes in it. Out: a running
balancer recorded in the state (pid, ports, kind), its backend list kept in step with the
app nodes (built-in: JSON file + SIGHUP; HAProxy: config + checked master-worker reload).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

from loadtrial.errors import ProviderError
from loadtrial.testbed import lb_haproxy
from loadtrial.testbed.book import Book
from loadtrial.testbed.facts import lb_metrics
from loadtrial.testbed.model import Proc, TestbedState
from loadtrial.testbed.procs import free_ports, listening_socket, python_module, spawn, wait_port

LB_TIMEOUT_S = 10.0
LB_QUEUE_TIMEOUT_S = 1.0  # a request queued this long for a full backend gets a 503


def write_backends(book: Book) -> None:
    """Write the balancer's backend list and tell it to reload (SIGHUP)."""
    path = Path(book.state.root) / "backends.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([f"127.0.0.1:{a.port}" for a in book.state.apps]))
    os.replace(tmp, path)
    lb = book.state.lb
    if lb is not None and book.state.lb_kind == "haproxy":
        app_ports = [a.port for a in book.state.apps]
        lb_haproxy.write_config(
            Path(book.state.root), lb.port, book.state.lb_stats_port, app_ports, LB_TIMEOUT_S,
            book.state.config.lb_maxconn, LB_QUEUE_TIMEOUT_S,
        )  # fmt: skip
        reload_haproxy(book.state, lb, len(app_ports))
    elif lb is not None:
        with contextlib.suppress(OSError):
            os.kill(lb.pid, signal.SIGHUP)


def reload_haproxy(state: TestbedState, lb: Proc, servers: int, timeout_s: float = 15.0) -> None:
    """Reload HAProxy (SIGUSR2 to the master) until it serves `servers` servers.

    A reload signal that arrives while the master is still re-executing itself is lost, so
    we check the outcome and signal again every 2 s.
    """
    deadline = time.monotonic() + timeout_s
    next_signal = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_signal:
            with contextlib.suppress(OSError):
                os.kill(lb.pid, signal.SIGUSR2)
            next_signal = time.monotonic() + 2.0
            time.sleep(0.2)
        if lb_metrics(state).get("testbed_lb_backends") == servers:
            return
        time.sleep(0.1)
    raise ProviderError(f"HAProxy did not reload to {servers} servers", hint=f"see {lb.log}")


def start_lb(book: Book, port: int = 0, stats_port: int = 0) -> None:
    """Start the balancer the config asks for (HAProxy or the built-in one)."""
    if lb_haproxy.resolve(book.state.config.lb) == "haproxy":
        start_haproxy(book, port, stats_port)
    else:
        start_builtin_lb(book, port, stats_port)


def start_haproxy(book: Book, port: int = 0, stats_port: int = 0) -> None:
    """Start HAProxy in front of the app nodes (ports chosen free when 0)."""
    root = Path(book.state.root)
    chosen = iter(free_ports(2))
    port, stats_port = port or next(chosen), stats_port or next(chosen)
    for wanted in (port, stats_port):  # a taken port: a clear error, not someone else's server
        listening_socket(wanted).close()
    app_ports = [a.port for a in book.state.apps]
    write_backends(book)
    config = lb_haproxy.write_config(root, port, stats_port, app_ports, LB_TIMEOUT_S,
                                     book.state.config.lb_maxconn, LB_QUEUE_TIMEOUT_S)  # fmt: skip
    proc = lb_haproxy.start(root, config, port)
    book.update(lb=proc, lb_kind="haproxy", lb_stats_port=stats_port)
    wait_port(port, proc)
    wait_port(stats_port, proc)


def start_builtin_lb(book: Book, port: int = 0, stats_port: int = 0) -> None:
    """Start the built-in balancer in front of the app nodes."""
    root = Path(book.state.root)
    write_backends(book)
    sock, stats = listening_socket(port), None
    try:
        stats = listening_socket(stats_port)
        argv = python_module(
            "loadtrial.testbed.lb", "--fd", str(sock.fileno()), "--stats-fd",
            str(stats.fileno()), "--backends", str(root / "backends.json"),
            "--timeout", str(LB_TIMEOUT_S), "--maxconn", str(book.state.config.lb_maxconn),
            "--queue-timeout", str(LB_QUEUE_TIMEOUT_S),
        )  # fmt: skip
        proc = spawn("lb", argv, log=root / "lb.log", port=sock.getsockname()[1],
                     pass_fds=[sock.fileno(), stats.fileno()])  # fmt: skip
        book.update(lb=proc, lb_kind="builtin", lb_stats_port=stats.getsockname()[1])
    finally:
        sock.close()
        if stats is not None:
            stats.close()
    wait_port(proc.port, proc)


def wait_healthy(state: TestbedState, nodes: int, timeout_s: float = 20.0) -> None:
    """Wait until the balancer counts `nodes` healthy backends."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metrics = lb_metrics(state)
        if (
            metrics.get("testbed_lb_backends_healthy") == nodes
            and metrics.get("testbed_lb_backends") == nodes
        ):
            return
        time.sleep(0.2)
    raise ProviderError(f"the balancer did not see {nodes} healthy app nodes in {timeout_s:.0f}s")
