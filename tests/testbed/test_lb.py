"""The built-in balancer against real backends: 200 through, 502 on refusal, 504 on timeout."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _lb(tmp_path: Path, backends: list[int]) -> tuple[object, int, int]:
    (tmp_path / "b.json").write_text(json.dumps([f"127.0.0.1:{p}" for p in backends]))
    sock, stats = listening_socket(), listening_socket()
    argv = python_module(
        "loadtrial.testbed.lb", "--fd", str(sock.fileno()), "--stats-fd", str(stats.fileno()),
        "--backends", str(tmp_path / "b.json"), "--timeout", "0.5", "--health-interval", "60",
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
