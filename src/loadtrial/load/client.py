"""The HTTP/1.1 client of one engine: an asyncio Protocol per connection, httptools parsing.

In: pre-encoded requests of one origin (see `wire.py`), a connection cap, a timeout, and
calls `submit(intended_s, req)` from the engine's pacing. Out: appends and counters on the
engine's current `Interval` (recorder.py); no coroutine, future or timer per request.

A submitted request goes to an idle keep-alive connection, else opens a new one while
under the cap, else waits in a FIFO queue. A queued request keeps its intended time
(its wait is latency, and it counts as late when sent). Every request has one deadline,
its intended send time plus the timeout: past it, in flight or still waiting for a
connection, it is the target's failure, an error `timeout` recorded in the corrected
latency at its elapsed time from the intended send (censored at ≥ the timeout, never
lost). A periodic sweep, not a timer per request, enforces the deadline. Arrivals still
waiting when the run ends are errors `unsent`; `dropped` is only what the generator itself
could not hold (its queue cap).

Each outcome is recorded on its request name's part of the Interval (`cur.by[req]`,
recorder.py). Responses of requests with checks are judged by `CheckedConn`, used only
when some request of the plan has checks; it keeps headers and body only for a request
whose checks need them, so a plan without checks runs the plain `Conn` unchanged.
"""

from __future__ import annotations

import asyncio
import math
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence

import httptools

from loadtrial.load.checks import Checker
from loadtrial.load.recorder import LATE_BOUND_S, Interval
from loadtrial.load.wire import Origin

_mono = time.monotonic
_QUEUE_CAP = 200_000  # arrivals waiting for a connection beyond this are dropped at once


def _nothing() -> None:
    """The default `on_due`: nothing to send."""


def _no_render(req: int, user: object) -> bytes:
    """The default `render`: only flows send requests with a user."""
    raise RuntimeError("a request with a user, but no flow renders it")


def classify(exc: BaseException | None) -> str:
    """Return the error kind of a transport failure (see load.model.ERROR_KINDS)."""
    if exc is None or isinstance(exc, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "connect_refused"
    if isinstance(exc, socket.gaierror):
        return "dns"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "other"


class Conn(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    __slots__ = (
        "busy",
        "client",
        "data_received",
        "intended",
        "lost_kind",
        "parser",
        "req",
        "sent_at",
        "transport",
        "user",
    )

    def __init__(self, client: Client) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        # the event loop hands each read straight to the parser (no Python frame per
        # read); a malformed response raises out of it, the loop closes the transport
        # with that error and `connection_lost` counts it (kind "other")
        self.data_received = self.parser.feed_data  # type: ignore[method-assign]
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.intended = 0.0
        self.sent_at = 0.0
        self.req = 0
        self.user: object = None  # a flow's virtual user whose step this is (else None)
        self.lost_kind = ""  # set when the connection closed before it was put to use

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        """A response is complete: account it and, in the closed model without think
        time, send the same user's next request on this connection at once.

        The hot path of the engine (one call per response), written inline: every
        Python call saved here is ~1 % of the CPU per request.
        """
        now = _mono()
        client, parser = self.client, self.parser
        cur = client.cur.by[self.req]  # this request name's part (the Interval, with one)
        cur.completed += 1
        status = parser.get_status_code()
        if status < 400:
            cur.ok += 1
        else:
            cur.http_error(status)
        intended = self.intended
        if intended == self.sent_at:  # sent on time: one value for both histograms
            cur.both.append(now - intended)
        else:
            cur.lat.append(now - intended)
            cur.unc.append(now - self.sent_at)
        keep_alive = parser.should_keep_alive()
        if client.chain and keep_alive and not client.queue:
            mix = client.mix
            if len(mix) == 1:
                req = 0
            else:
                req = mix[client.n % len(mix)]
                client.n += 1
            client.cur.by[req].chained += 1
            self.req = req
            self.intended = self.sent_at = now
            self.transport.write(client.payloads[req])  # type: ignore[union-attr]
            return
        client.on_free(self, keep_alive, now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.on_lost(self, exc)


class CheckedConn(Conn):
    """A connection whose responses are judged by their request's checks (checks.py).

    This class receives neither headers nor body; its subclasses add the parser callbacks
    only when some request's checks need them (httptools calls a callback the protocol
    has for every header or chunk), and keep them only for a request that needs them.
    """

    __slots__ = ("body", "headers")

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []

    def on_message_complete(self) -> None:
        """Account the response as a plain one, then let its checks overrule the status."""
        req, client = self.req, self.client
        checker = client.checkers[req]
        if checker is None:
            Conn.on_message_complete(self)
            return
        status = self.parser.get_status_code()
        verdict = checker.verdict(status, self.headers, b"".join(self.body))
        if self.headers or self.body:
            self.headers, self.body = {}, []
        part = client.cur.by[req]  # before the plain path may send the next request
        Conn.on_message_complete(self)
        if verdict is not None:
            part.reclassify(status, verdict)


class BodyCheckedConn(CheckedConn):
    """Checks that read the body: keeps each chunk of a request whose checks need it."""

    __slots__ = ()

    def on_body(self, chunk: bytes) -> None:
        if self.client.wants_body[self.req]:
            self.body.append(chunk)


class HeaderCheckedConn(CheckedConn):
    """Checks that read headers: keeps them (lower-case names) when a request needs them."""

    __slots__ = ()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.client.wants_headers[self.req]:
            self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")


class FullCheckedConn(BodyCheckedConn, HeaderCheckedConn):
    """Checks that read the body and headers."""

    __slots__ = ()


def conn_class(body: bool, headers: bool, checks: bool) -> type[Conn]:
    """The connection class for a plan: plain without checks, else one that receives
    only what some request's checks read."""
    if not checks:
        return Conn
    return {
        (False, False): CheckedConn,
        (True, False): BodyCheckedConn,
        (False, True): HeaderCheckedConn,
        (True, True): FullCheckedConn,
    }[(body, headers)]


class Client:
    """Connection pool and request accounting for one engine (one event loop)."""

    __slots__ = (
        "cap",
        "chain",
        "checkers",
        "conn_class",
        "conns",
        "cur",
        "idle",
        "index",
        "inflight",
        "loop",
        "mix",
        "n",
        "names",
        "next_due_at",
        "on_done",
        "on_due",
        "opening",
        "origin",
        "payloads",
        "queue",
        "render",
        "ssl",
        "timeout_s",
        "wants_body",
        "wants_headers",
    )

    def __init__(
        self,
        origin: Origin,
        payloads: Sequence[bytes],
        mix: list[int],
        *,
        connections: int,
        timeout_s: float,
        ssl_context: ssl.SSLContext | None,
        on_done: Callable[[float, object], None] | None = None,
        index: Sequence[int] = (0,),
        checkers: Sequence[Checker | None] = (),
    ) -> None:
        """`index[i]`: request i's name number (per-name parts when 2+ names);
        `checkers[i]`: request i's compiled checks (None: judged by its status)."""
        self.origin, self.payloads, self.mix, self.n = origin, payloads, mix, 0
        self.index, self.names = list(index), len(set(index))
        self.checkers: list[Checker | None] = list(checkers) or [None] * len(payloads)
        self.wants_body = [c is not None and c.checks.needs_body for c in self.checkers]
        self.wants_headers = [c is not None and c.checks.needs_headers for c in self.checkers]
        self.conn_class = conn_class(
            any(self.wants_body), any(self.wants_headers), any(self.checkers)
        )
        self.cap, self.timeout_s, self.ssl = max(1, connections), timeout_s, ssl_context
        # closed model and flows: a user's request finished at this time (the user: see
        # Conn.user), with a response or failed
        self.on_done = on_done
        # flows: the bytes of request `req` for a user (its variables and cookies)
        self.render: Callable[[int, object], bytes] = _no_render
        # closed model without think time, while sending: a response's connection carries
        # the same user's next request at once (the hot path of the bench)
        self.chain = False
        # open model: when the next arrival falls due (monotonic) and who sends it; checked
        # on every response so dispatch need not wait for the next timer tick
        self.next_due_at = math.inf
        self.on_due: Callable[[], None] = _nothing
        self.cur = self.new_interval()
        self.idle: list[Conn] = []
        self.conns: set[Conn] = set()
        self.opening = 0
        self.queue: deque[tuple[float, int, object]] = deque()
        self.inflight = 0
        self.loop = asyncio.get_running_loop()

    def new_interval(self) -> Interval:
        """A fresh accumulator for the next second (with a part per request name)."""
        return Interval(self.index, self.names)

    def next_req(self) -> int:
        """Return the index of the next request of the weighted mix."""
        mix = self.mix
        if len(mix) == 1:
            return 0
        req = mix[self.n % len(mix)]
        self.n += 1
        return req

    # -- sending ----------------------------------------------------------------------
    def submit(self, intended: float, req: int, user: object = None) -> None:
        """Send now if a connection is free, else open one or queue (intended is kept);
        `user`: the flow user whose step it is, handed back to `on_done`."""
        if self.idle:
            self._send(self.idle.pop(), intended, req, user)
        elif len(self.conns) + self.opening < self.cap:
            self.opening += 1
            self.loop.create_task(self._open(intended, req, user))
        elif len(self.queue) < _QUEUE_CAP:
            self.queue.append((intended, req, user))
        else:  # the generator's own limit, not the target's
            self.cur.dropped += 1
            self._user_done(None, user)

    def _send(self, conn: Conn, intended: float, req: int, user: object = None) -> None:
        now = _mono()
        conn.busy, conn.intended, conn.sent_at, conn.req = True, intended, now, req
        conn.user = user
        self.inflight += 1
        cur = self.cur.by[req]
        cur.sent += 1
        if now - intended > LATE_BOUND_S:
            cur.late += 1
        payload = self.payloads[req] if user is None else self.render(req, user)
        conn.transport.write(payload)  # type: ignore[union-attr]

    async def _open(self, intended: float, req: int, user: object = None) -> None:
        """Open a connection for a request (until its deadline); a failure is its error."""
        try:
            _, conn = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: self.conn_class(self),
                    self.origin.host,
                    self.origin.port,
                    ssl=self.ssl,
                    server_hostname=self.origin.host if self.ssl else None,
                ),
                timeout=max(0.0, intended + self.timeout_s - _mono()),
            )
        except (OSError, TimeoutError, ssl.SSLError, ValueError) as exc:
            self._open_failed(classify(exc), intended, req, user)
            return
        if conn.lost_kind:  # closed by the peer before we could send (e.g. reset at once)
            self._open_failed(conn.lost_kind, intended, req, user)
            return
        self.opening -= 1
        self.conns.add(conn)
        self._send(conn, intended, req, user)

    def _open_failed(self, kind: str, intended: float, req: int, user: object) -> None:
        """Count a request whose connection could not be opened as failed with `kind`."""
        self.opening -= 1
        cur = self.cur.by[req]
        cur.sent += 1  # it was attempted: count it so sent - completed = in flight
        now = _mono()
        if kind == "timeout":  # the connect ran into the deadline: censored, not lost
            cur.timed_out(now - intended, None)
        else:
            cur.error(kind)
        self._user_done(now, user)
        self._after_loss()

    # -- completions ------------------------------------------------------------------
    def on_free(self, conn: Conn, keep_alive: bool, now: float) -> None:
        """A response freed `conn`: reuse it unless the server closes it, then let the
        load model go on (a user's next request, arrivals that fell due)."""
        conn.busy = False
        self.inflight -= 1
        user = conn.user  # before the connection may carry a queued request (its user)
        if keep_alive and not self.queue:  # the common case, without a call
            self.idle.append(conn)
        elif keep_alive:
            self._release(conn)
        else:
            self._drop_conn(conn)
            self._after_loss()
        if self.on_done is not None:
            self.on_done(now, user)
        if now >= self.next_due_at:
            self.on_due()

    def fail(self, conn: Conn, kind: str) -> None:
        """Record a failed request on `conn` and close it; a `timeout` keeps its latency."""
        if conn.busy:
            conn.busy = False
            self.inflight -= 1
            now = _mono()
            cur = self.cur.by[conn.req]
            if kind == "timeout":
                cur.timed_out(now - conn.intended, now - conn.sent_at)
            else:
                cur.error(kind)
            self._user_done(now, conn.user)
        self._drop_conn(conn)
        if conn.transport is not None:
            conn.transport.abort()
        self._after_loss()

    def on_lost(self, conn: Conn, exc: Exception | None) -> None:
        """The connection closed: a request on it failed (reset, TLS, ...)."""
        if conn in self.conns:
            self.fail(conn, classify(exc))
        else:  # still opening: `_open` counts it against its request
            conn.lost_kind = classify(exc)

    def _release(self, conn: Conn) -> None:
        """Give a free connection to the oldest queued request, or make it idle."""
        head = self._pop_waiting() if self.queue else None
        if head is None:
            self.idle.append(conn)
        else:
            self._send(conn, *head)

    def _pop_waiting(self) -> tuple[float, int, object] | None:
        """Return the oldest queued request still before its deadline; those past it
        time out on the way (the target kept every connection busy that long)."""
        queue, timeout = self.queue, self.timeout_s
        now = _mono()
        while queue:
            intended, req, user = queue.popleft()
            if now - intended <= timeout:
                return intended, req, user
            self.cur.by[req].timed_out(now - intended, None)
            self._user_done(now, user)
        return None

    def _drop_conn(self, conn: Conn) -> None:
        self.conns.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if conn.transport is not None and not conn.transport.is_closing():
            conn.transport.close()

    def _after_loss(self) -> None:
        """A connection went away: open a new one for the oldest queued request."""
        if self.queue and len(self.conns) + self.opening < self.cap:
            head = self._pop_waiting()
            if head is not None:
                self.opening += 1
                self.loop.create_task(self._open(*head))

    def _user_done(self, now: float | None, user: object) -> None:
        if self.on_done is not None:
            self.on_done(_mono() if now is None else now, user)

    # -- housekeeping -------------------------------------------------------------------
    def sweep(self) -> None:
        """Time out every request past its deadline, in flight or waiting in the queue."""
        now = _mono()
        timeout = self.timeout_s
        for conn in [c for c in self.conns if c.busy and now - c.intended > timeout]:
            self.fail(conn, "timeout")
        queue = self.queue
        while queue and now - queue[0][0] > timeout:
            intended, req, user = queue.popleft()
            self.cur.by[req].timed_out(now - intended, None)
            self._user_done(now, user)

    def abandon_queue(self) -> None:
        """Count every request still waiting for a connection as error `unsent` (the run
        is over before the target freed a connection for it)."""
        for _, req, _ in self.queue:
            cur = self.cur.by[req]
            cur.completed += 1
            cur.errors["unsent"] = cur.errors.get("unsent", 0) + 1
        self.queue.clear()

    def close(self) -> None:
        """Close every connection (in-flight requests are abandoned, not counted)."""
        self.on_done = None
        for conn in list(self.conns):
            conn.busy = False
            self._drop_conn(conn)
            if conn.transport is not None:
                conn.transport.abort()
