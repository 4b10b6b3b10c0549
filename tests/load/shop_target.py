"""A small shop on 127.0.0.1 for the per-request and check tests (tests/load)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from local_http import LocalHTTPServer


class ShopTarget:
    """A keep-alive server on 127.0.0.1: /item answers JSON with a header, POST /login a
    token (JSON, X-Session header, sid cookie), anything else "ok"; it keeps every request
    line it received (GETs' and POSTs' headers too)."""

    def __init__(self) -> None:
        seen = self.paths = []  # type: list[str]
        posts = self.posts = []  # type: list[tuple[str, dict[str, str], bytes]]
        gets = self.gets = []  # type: list[tuple[str, dict[str, str]]]

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                seen.append(self.path)
                gets.append((self.path, dict(self.headers.items())))
                body = b"ok"
                if self.path.startswith("/item"):
                    body = json.dumps({"items": [{"id": 7, "name": "tea"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Shop", "yes")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                posts.append((self.path, dict(self.headers.items()), body))
                answer = b"ok"
                self.send_response(200)
                if self.path == "/login":  # a token three ways: JSON, header, cookie
                    answer = json.dumps({"token": f"T{len(posts)}", "n": len(posts)}).encode()
                    self.send_header("X-Session", f"S{len(posts)}")
                    self.send_header("Set-Cookie", f"sid=C{len(posts)}; Path=/; HttpOnly")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.server = LocalHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@contextmanager
def running_shop() -> Iterator[ShopTarget]:
    """A started ShopTarget, stopped after."""
    target = ShopTarget()
    target.thread.start()
    try:
        yield target
    finally:
        target.server.shutdown()
        target.server.server_close()
