"""A tiny HTTP server for the runner tests, its behaviour set by a file shell commands write.

The server reads `<dir>/behaviour` on every request: "<status> <delay_ms>" (default
"200 0"), optionally followed by "<period_s> <freeze_s>": then every answer that falls in
the first freeze_s of each period (on the server's own clock) waits until the freeze
ends, as a stop-the-world pause would. A shell provider's apply command writes that file,
so arms differ for real.
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


def _freeze_left_s(words: list[str], epoch: float) -> float:
    """Seconds left of the current freeze ("<period_s> <freeze_s>"; 0 outside one)."""
    if len(words) < 4:
        return 0.0
    period, freeze = float(words[2]), float(words[3])
    into = (time.monotonic() - epoch) % period
    return max(0.0, freeze - into)


def handler(behaviour: Path, hits: list[int]) -> type[BaseHTTPRequestHandler]:
    epoch = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body are two writes: with Nagle on, the body waits for the client's
        # delayed ACK (~40 ms) and the test server would measure itself, not the arm
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            try:
                words = behaviour.read_text().split()
                status, delay_ms = int(words[0]), float(words[1])
            except (OSError, ValueError, IndexError):
                words, status, delay_ms = [], 200, 0.0
            hits.append(status)
            pause_s = _freeze_left_s(words, epoch) + delay_ms / 1000
            if pause_s:
                time.sleep(pause_s)
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
