"""A tiny HTTP server whose behaviour a trial's shell commands change through a file.

The server reads `<dir>/behaviour` on every request: "<status> <delay_ms>" (default
"200 0"). A shell provider's apply command writes that file, so arms differ for real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class FileServer:
    """A running file-driven server."""

    url: str
    behaviour: Path
    hits: list[int]


def _handler(behaviour: Path, hits: list[int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            try:
                status_text, delay_text = behaviour.read_text().split()
                status, delay_ms = int(status_text), float(delay_text)
            except (OSError, ValueError):
                status, delay_ms = 200, 0.0
            hits.append(status)
            if delay_ms:
                time.sleep(delay_ms / 1000)
            body = b"ok"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """A server on 127.0.0.1 (OS-chosen port) driven by tmp_path/behaviour."""
    behaviour = tmp_path / "behaviour"
    hits: list[int] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour, hits))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield FileServer(f"http://127.0.0.1:{server.server_address[1]}", behaviour, hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
