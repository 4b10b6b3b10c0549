"""Tiny HTTP/1.1 targets for tests, benches and demos (asyncio Protocol + httptools).

In: a TargetConfig (what to answer, and when). Out: a server on an asyncio loop; see
`__init__.py` for running one in a thread or a child process.

Kinds:
    fast    answer 200 "ok" at once
    delay   answer after `delay_s`
    freeze  answer after `delay_s` (default 1 ms), but hold every answer during a freeze:
            windows [epoch + offset + n·period, … + freeze) on the monotonic clock
    status  answer `status` (any kind also answers /status/<code> with that code)
    reset   accept, then reset the connection (RST) without answering
Every kind answers /delay/<ms> after that many milliseconds.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass
from http import HTTPStatus
from ssl import SSLContext
from typing import Literal

import httptools

Kind = Literal["fast", "delay", "freeze", "status", "reset"]
KINDS: tuple[str, ...] = ("fast", "delay", "freeze", "status", "reset")


@dataclass(frozen=True)
class TargetConfig:
    """What a tiny target answers and when."""

    kind: Kind = "fast"
    status: int = 200
    delay_s: float = 0.0
    period_s: float = 10.0  # freeze: one freeze per period
    freeze_s: float = 2.0  # freeze: its length
    offset_s: float = 0.0  # freeze: first freeze starts this long after the epoch
    epoch: float | None = None  # freeze: monotonic time; None = when the server starts
    body: bytes = b"ok"


def response(status: int, body: bytes = b"ok", keep_alive: bool = True) -> bytes:
    """Return the bytes of a complete response."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    conn = b"" if keep_alive else b"Connection: close\r\n"
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Length: {len(body)}\r\n".encode()
    return head + b"Content-Type: text/plain\r\n" + conn + b"\r\n" + body


def freeze_remaining_s(cfg: TargetConfig, epoch: float, now: float) -> float:
    """Return how long the current freeze still lasts at `now` (0 outside a freeze)."""
    rel = now - epoch - cfg.offset_s
    if rel < 0 or cfg.period_s <= 0:
        return 0.0
    into = rel % cfg.period_s
    return cfg.freeze_s - into if into < cfg.freeze_s else 0.0


class _Handler(asyncio.Protocol):
    """One server-side connection."""

    def __init__(self, cfg: TargetConfig, epoch: float, ok: bytes) -> None:
        self.cfg, self.epoch, self.ok = cfg, epoch, ok
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.cfg.kind == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(response(400, b"bad request", keep_alive=False))
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        url, self.url = self.url, b""
        payload, delay = self._answer(url)
        if delay <= 0:
            self._write(payload)
        else:
            self.loop.call_later(delay, self._write, payload)

    def _answer(self, url: bytes) -> tuple[bytes, float]:
        """Return (response bytes, delay in seconds) for a request path."""
        cfg = self.cfg
        path = url.split(b"?", 1)[0]
        if path.startswith(b"/status/") and path[8:].isdigit():
            return response(int(path[8:]), cfg.body), 0.0
        if path.startswith(b"/delay/") and path[7:].isdigit():
            return self.ok, int(path[7:]) / 1000.0
        if cfg.kind == "freeze":
            wait = freeze_remaining_s(cfg, self.epoch, time.monotonic())
            return self.ok, wait + (cfg.delay_s or 0.001)
        return self.ok, cfg.delay_s

    def _write(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(
    cfg: TargetConfig, host: str = "127.0.0.1", port: int = 0, ssl: SSLContext | None = None
) -> asyncio.Server:
    """Start serving on the running loop; return the server (its socket has the port)."""
    epoch = cfg.epoch if cfg.epoch is not None else time.monotonic()
    ok = response(cfg.status if cfg.kind == "status" else 200, cfg.body)
    loop = asyncio.get_running_loop()
    server: asyncio.Server = await loop.create_server(
        lambda: _Handler(cfg, epoch, ok), host, port, ssl=ssl, backlog=1024, reuse_address=True
    )
    return server
