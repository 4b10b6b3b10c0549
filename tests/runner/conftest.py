"""Fixtures of the runner tests: a file-driven HTTP server on 127.0.0.1 (see fileserver.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fileserver import FileServer, handler

from local_http import LocalHTTPServer


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """A server on 127.0.0.1 (OS-chosen port) driven by tmp_path/behaviour."""
    behaviour = tmp_path / "behaviour"
    hits: list[int] = []
    server = LocalHTTPServer(("127.0.0.1", 0), handler(behaviour, hits))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield FileServer(f"http://127.0.0.1:{server.server_address[1]}", behaviour, hits)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
