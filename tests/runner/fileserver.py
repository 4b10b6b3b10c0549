"""A tiny HTTP server for the runner tests, its behaviour set by a file shell commands write.

The server reads `<dir>/behaviour` on every request: "<status> <delay_ms>" (default
"200 0"). A shell provider's apply command writes that file, so arms differ for real.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path


@dataclass
class FileServer:
    """A running file-driven server."""

    url: str
    behaviour: Path
    hits: list[int]


def handler(behaviour: Path, hits: list[int]) -> type[BaseHTTPRequestHandler]:
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


def trial_text(
    server: FileServer,
    *,
    extra: str = "",
    arms: str = "",
    seconds: float = 1,
    rate: int = 20,
    delay_ms: int = 0,
) -> str:
    """A trial whose arms write '<status> <delay_ms>' into the server's behaviour file."""
    d = server.behaviour.parent
    arms = arms or "  good: {status: 200}\n  broken: {status: 503}\n"
    return (
        "name: shell-arms\n"
        f"target: {{base_url: '{server.url}'}}\n"
        f"load:\n  stages: [{{rate: {rate}, duration: {seconds}s}}]\n  timeout: 2s\n"
        "env:\n  provider: shell\n"
        f"  apply: 'echo {{status}} {delay_ms} > {d}/behaviour'\n"
        f"  revert: 'rm -f {d}/behaviour'\n"
        f"  facts: {{server.behaviour: 'cat {d}/behaviour 2>/dev/null || echo default'}}\n"
        f"arms:\n{arms}" + extra
    )
