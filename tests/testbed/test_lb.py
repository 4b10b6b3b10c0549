"""The built-in balancer against real backends: 200 through, 502 on refusal, 504 on timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from loadtrial.testbed import lb_haproxy
from loadtrial.testbed.facts import http_get, prometheus_values
from loadtrial.testbed.procs import (
    free_port,
    free_ports,
    listening_socket,
    python_module,
    spawn,
    stop_proc,
    wait_port,
)
from local_http import LocalHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def backend() -> Iterator[int]:
    server = LocalHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _lb(tmp_path: Path, backends: list[int], *flags: str) -> tuple[object, int, int]:
    (tmp_path / "b.json").write_text(json.dumps([f"127.0.0.1:{p}" for p in backends]))
    sock, stats = listening_socket(), listening_socket()
    argv = python_module(
        "loadtrial.testbed.lb", "--fd", str(sock.fileno()), "--stats-fd", str(stats.fileno()),
        "--backends", str(tmp_path / "b.json"), "--timeout", "0.5", "--health-interval", "60",
        *flags,
    )  # fmt: skip
    port, stats_port = sock.getsockname()[1], stats.getsockname()[1]
    proc = spawn("lb", argv, log=tmp_path / "lb.log", port=port,
                 pass_fds=[sock.fileno(), stats.fileno()])  # fmt: skip
    sock.close()
    stats.close()
    wait_port(port, proc)
    return proc, port, stats_port


def test_lb_passes_200_and_answers_502_and_504(tmp_path: Path, backend: int) -> None:
    refused = free_port()  # nothing listens there
    proc, port, stats_port = _lb(tmp_path, [backend, refused])
    try:
        # round robin: backend, refused, backend, refused ...
        first = http_get(f"http://127.0.0.1:{port}/", 5)
        second = http_get(f"http://127.0.0.1:{port}/", 5)
        third = http_get(f"http://127.0.0.1:{port}/slow", 5)
        assert first == (200, "hello\n")
        assert second[0] == 502
        assert third[0] == 504
        status, text = http_get(f"http://127.0.0.1:{stats_port}/metrics", 5)
        values = prometheus_values(text)
        assert status == 200
        assert values["testbed_lb_requests_total"] == 3
        assert values["testbed_lb_5xx_total"] == 2
    finally:
        stop_proc(proc)  # type: ignore[arg-type]


@pytest.mark.skipif(not lb_haproxy.available(), reason="haproxy is not installed")
def test_haproxy_passes_200_and_answers_504(tmp_path: Path, backend: int) -> None:
    port, stats_port = free_ports(2)
    config = lb_haproxy.write_config(tmp_path, port, stats_port, [backend], 0.5)
    proc = lb_haproxy.start(tmp_path, config, port)
    try:
        wait_port(stats_port, proc)
        assert http_get(f"http://127.0.0.1:{port}/", 5) == (200, "hello\n")
        assert http_get(f"http://127.0.0.1:{port}/slow", 5)[0] == 504
        path = lb_haproxy.METRICS_PATH
        text = http_get(f"http://127.0.0.1:{stats_port}{path}", 5)[1]
        values = lb_haproxy.normalized(prometheus_values(text))
        assert values["testbed_lb_backends"] == 1
        assert values["testbed_lb_5xx_total"] == 1
    finally:
        stop_proc(proc)


def test_haproxy_refused_backend_answers_503(tmp_path: Path) -> None:
    if not lb_haproxy.available():
        pytest.skip("haproxy is not installed")
    port, stats_port, refused = free_ports(3)
    config = lb_haproxy.write_config(tmp_path, port, stats_port, [refused], 0.5)
    proc = lb_haproxy.start(tmp_path, config, port)
    try:
        wait_port(port, proc)
        assert http_get(f"http://127.0.0.1:{port}/", 5)[0] == 503
    finally:
        stop_proc(proc)


def _in_background(url: str) -> tuple[threading.Thread, list[tuple[int, float]]]:
    """GET `url` in a thread; the list receives (status, seconds taken)."""
    got: list[tuple[int, float]] = []

    def fetch() -> None:
        started = time.monotonic()
        status = http_get(url, 10)[0]
        got.append((status, time.monotonic() - started))

    thread = threading.Thread(target=fetch)
    thread.start()
    return thread, got


def _wait_metric(stats_url: str, name: str, value: float) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        values = prometheus_values(http_get(stats_url, 2)[1])
        if values.get(name) == value:
            return
        time.sleep(0.02)
    raise AssertionError(f"{name} never reached {value}: {values}")


def test_lb_maxconn_queues_then_answers_503_after_the_queue_timeout(
    tmp_path: Path, backend: int
) -> None:
    flags = ("--timeout", "5", "--maxconn", "1", "--queue-timeout", "0.4")
    proc, port, stats_port = _lb(tmp_path, [backend], *flags)
    stats_url = f"http://127.0.0.1:{stats_port}/metrics"
    try:
        slow, slow_got = _in_background(f"http://127.0.0.1:{port}/slow")  # holds the slot
        _wait_metric(stats_url, "testbed_lb_backend_inflight", 1)
        values = prometheus_values(http_get(stats_url, 2)[1])
        assert values["testbed_lb_backend_limit"] == 1  # maxconn x healthy backends
        queued, queued_got = _in_background(f"http://127.0.0.1:{port}/")
        _wait_metric(stats_url, "testbed_lb_queue_depth", 1)
        queued.join(10)
        assert queued_got[0][0] == 503 and queued_got[0][1] >= 0.3  # waited, then 503
        slow.join(10)
        assert slow_got[0][0] == 200
        # the slot is free again: a queued request now gets through once the slow one ends
        slow, slow_got = _in_background(f"http://127.0.0.1:{port}/slow")
        _wait_metric(stats_url, "testbed_lb_backend_inflight", 1)
        assert http_get(f"http://127.0.0.1:{port}/", 5)[0] == 503  # 0.4 s < 1.5 s
        slow.join(10)
        assert http_get(f"http://127.0.0.1:{port}/", 5) == (200, "hello\n")
        _wait_metric(stats_url, "testbed_lb_backend_inflight", 0)
        _wait_metric(stats_url, "testbed_lb_queue_depth", 0)
    finally:
        stop_proc(proc)  # type: ignore[arg-type]


def test_lb_queue_serves_in_turn_within_the_timeout(tmp_path: Path, backend: int) -> None:
    flags = ("--timeout", "5", "--maxconn", "1", "--queue-timeout", "5")
    proc, port, stats_port = _lb(tmp_path, [backend], *flags)
    try:
        slow, slow_got = _in_background(f"http://127.0.0.1:{port}/slow")
        _wait_metric(f"http://127.0.0.1:{stats_port}/metrics", "testbed_lb_backend_inflight", 1)
        started = time.monotonic()
        assert http_get(f"http://127.0.0.1:{port}/", 8) == (200, "hello\n")
        assert time.monotonic() - started >= 0.5  # it waited for the slow one's slot
        slow.join(10)
        assert slow_got[0][0] == 200
    finally:
        stop_proc(proc)  # type: ignore[arg-type]


@pytest.mark.skipif(not lb_haproxy.available(), reason="haproxy is not installed")
def test_haproxy_maxconn_queues_then_answers_503(tmp_path: Path, backend: int) -> None:
    port, stats_port = free_ports(2)
    config = lb_haproxy.write_config(tmp_path, port, stats_port, [backend], 5.0, 1, 0.4)
    proc = lb_haproxy.start(tmp_path, config, port)
    stats_url = f"http://127.0.0.1:{stats_port}{lb_haproxy.METRICS_PATH}"
    try:
        wait_port(stats_port, proc)
        assert (
            lb_haproxy.normalized(prometheus_values(http_get(stats_url, 5)[1]))[
                "testbed_lb_maxconn"
            ]
            == 1
        )
        slow, slow_got = _in_background(f"http://127.0.0.1:{port}/slow")
        _wait_metric(stats_url, 'haproxy_server_current_sessions{proxy="app",server="app-1"}', 1)
        queued, queued_got = _in_background(f"http://127.0.0.1:{port}/")
        _wait_metric(stats_url, 'haproxy_backend_current_queue{proxy="app"}', 1)
        queued.join(10)
        slow.join(10)
        assert queued_got[0][0] == 503 and slow_got[0][0] == 200
    finally:
        stop_proc(proc)
