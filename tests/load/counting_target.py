"""A keep-alive HTTP target on 127.0.0.1 that counts the requests it answers (tests/load)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

from local_http import LocalHTTPServer


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

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def count(self) -> int:
        with self.lock:
            return self.requests
