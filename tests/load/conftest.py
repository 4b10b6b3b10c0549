"""Fixtures of the load engine's tests: tiny real targets on 127.0.0.1, stopped after."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadtrial.targets import RunningTarget, TargetConfig, start_target_thread


@pytest.fixture
def fast_target() -> Iterator[RunningTarget]:
    with start_target_thread(TargetConfig("fast")) as target:
        yield target


class CountingTarget:
    """A keep-alive HTTP server on 127.0.0.1 that answers 200 and counts the requests."""

    def __init__(self) -> None:
        counter = self
        self.lock = threading.Lock()
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with counter.lock:
                    counter.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def count(self) -> int:
        with self.lock:
            return self.requests


@pytest.fixture
def counting_target() -> Iterator[CountingTarget]:
    target = CountingTarget()
    target.thread.start()
    try:
        yield target
    finally:
        target.server.shutdown()
        target.server.server_close()
