"""Fixtures for the observer tests: a real HTTP server on 127.0.0.1 (port 0) whose page the
test sets, standing in for an exporter's /metrics or an app's /status."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from local_http import LocalHTTPServer


@dataclass
class Page:
    """What the server answers: body, content type, status; and how often it was asked."""

    body: bytes = b""
    content_type: str = "text/plain; version=0.0.4"
    status: int = 200
    hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def set(self, body: str, status: int = 200) -> None:
        with self.lock:
            self.body, self.status = body.encode(), status


@pytest.fixture
def page() -> Iterator[Page]:
    """Serve a Page at http://127.0.0.1:<port>/metrics until the test ends."""
    state = Page()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with state.lock:
                state.hits += 1
                body, status, ctype = state.body, state.status, state.content_type
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return None

    server = LocalHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
