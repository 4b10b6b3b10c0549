"""User flows: virtual users running named sequences of steps with their own state.

In: a LoadPlan with `flows` (each step one of `plan.requests`, named `flow.step`), the
engine's `Client` machinery and template `Sources`. Out: steps sent through the client as
ordinary requests (so every per-request figure, check and error kind applies), each with
its user: `FlowConn` keeps the response for the user, `FlowRunner.step_done` extracts
values, remembers whether the step's checks passed and sends the next step.

A user (one flow iteration) has its own variables, data rows and cookie jar. Timing: the
first step's intended time is its arrival (open model) or the user's start; each later
step's intended time is when the previous one finished plus its think time, so a stall
of the target or of the connection pool shows in the step that waited. A step that
failed (no response, or a failed check or extraction) ends the iteration: later steps
would only measure the failure again. A step with `if_passed` is skipped when that
earlier step's checks did not pass.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie

from loadtrial.load.checks import _MISSING, lookup, parse_path
from loadtrial.load.client import Client, Conn, FullCheckedConn
from loadtrial.load.model import CHECK_PREFIX, Extract, Flow, LoadPlan
from loadtrial.load.pyflow import FlowStopped, PyFlow, Response, Session, load_function
from loadtrial.load.template import Context, Sources
from loadtrial.load.wire import Origin, RequestTemplate, compile_request


class User:
    """One flow iteration of a virtual user: where it is and what it knows."""

    __slots__ = ("at", "cookies", "ctx", "flow", "passed", "response", "session", "waiter")

    def __init__(self, flow: int, sources: Sources) -> None:
        self.flow, self.at = flow, 0  # flow index, step index in it
        self.ctx = Context(sources)
        self.cookies: dict[str, str] = {}
        self.passed: list[bool] = []  # per step run so far: its checks passed
        # the response of the step in flight: (status, headers, body, passed); None: failed
        self.response: tuple[int, dict[str, str], bytes, bool] | None = None
        # a Python flow: its session, and the step it awaits
        self.session: Session | None = None
        self.waiter: asyncio.Future[Response] | None = None


class FlowConn(FullCheckedConn):
    """A connection of a flow run: keeps every response's headers (Set-Cookie too) and
    body for the user's extractions, judges its checks, and hands both to the user."""

    __slots__ = ("set_cookies",)

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.set_cookies: list[str] = []

    def on_body(self, chunk: bytes) -> None:
        self.body.append(chunk)

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key == "set-cookie":
            self.set_cookies.append(text)
        self.headers[key] = text

    def on_message_complete(self) -> None:
        """Judge the response, give it to the user, then account it (which sends the
        user's next step through `on_done`)."""
        req, client, user = self.req, self.client, self.user
        status = self.parser.get_status_code()
        body = b"".join(self.body)
        checker = client.checkers[req]
        verdict = checker.verdict(status, self.headers, body) if checker is not None else None
        passed = verdict == "" or (verdict is None and status < 400)
        if isinstance(user, User):
            _keep_cookies(user, self.set_cookies)
            user.response = (status, self.headers, body, passed)
        self.headers, self.body, self.set_cookies = {}, [], []
        part = client.cur.by[req]
        Conn.on_message_complete(self)  # the plain accounting (chain is off for flows)
        if verdict is not None:
            part.reclassify(status, verdict)


def _keep_cookies(user: User, set_cookies: list[str]) -> None:
    """Store the response's cookies in the user's jar (attributes are not enforced)."""
    for header in set_cookies:
        try:
            jar = SimpleCookie(header)
        except CookieError:
            continue
        for name, morsel in jar.items():
            user.cookies[name] = morsel.value


def extract_value(ex: Extract, steps: object, response: tuple[int, dict[str, str], bytes],
                  cookies: dict[str, str]) -> str | None:  # fmt: skip
    """The value `ex` takes from a response (None when it is not there); `steps` is
    the parsed JSON path (json) or compiled regex (regex)."""
    _, headers, body = response
    if ex.kind == "header":
        return headers.get(ex.what.lower())
    if ex.kind == "cookie":
        return cookies.get(ex.what)
    if ex.kind == "regex":
        m = steps.search(body.decode("utf-8", "replace"))  # type: ignore[attr-defined]
        return None if m is None else (m.group(1) if m.re.groups else m.group(0))
    try:
        value = lookup(json.loads(body), steps)  # type: ignore[arg-type]
    except ValueError:
        return None
    if value is _MISSING or value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def compile_extract(ex: Extract) -> object:
    """What `extract_value` needs of `ex`, built once (ValueError on a bad path/regex)."""
    if ex.kind == "json":
        return parse_path(ex.what)
    if ex.kind == "regex":
        return re.compile(ex.what)
    return None


class FlowRunner:
    """Runs the users of one engine: starts iterations, moves each user step by step."""

    def __init__(
        self,
        plan: LoadPlan,
        origin: Origin,
        sources: Sources,
        client: Client,
        mix: list[int],
        iteration_over: Callable[[float], None],
    ) -> None:
        """`iteration_over(now)` is called when a user's iteration ends (closed model:
        the user starts again)."""
        self.flows: tuple[Flow, ...] = plan.flows
        names = frozenset(d.name for d in plan.data)
        self.templates: list[RequestTemplate] = [
            compile_request(r, origin, names) for r in plan.requests
        ]
        self.extracts = [
            [[(ex, compile_extract(ex)) for ex in step.extract] for step in flow.steps]
            for flow in plan.flows
        ]
        self.sources, self.client, self.mix, self.n = sources, client, mix, 0
        self.iteration_over = iteration_over
        self.functions = [load_function(f.python) if f.python else None for f in plan.flows]
        # a step's name in its flow: the request name after "flow."
        self.step_names = [
            {plan.requests[st.req].name[len(f.name) + 1 :]: i for i, st in enumerate(f.steps)}
            for f in plan.flows
        ]
        self.tasks: set[asyncio.Task[None]] = set()  # Python flows running
        self.running = True
        self.thinking = 0  # users in a think time: not drained yet, though none in flight
        self.loop = client.loop

    def render(self, req: int, user: object) -> bytes:
        """The bytes of step request `req` for `user` (its variables, rows and cookies)."""
        assert isinstance(user, User)
        cookie = "; ".join(f"{k}={v}" for k, v in user.cookies.items())
        return self.templates[req].render(user.ctx, f"Cookie: {cookie}\r\n" if cookie else "")

    def start(self, intended: float) -> None:
        """A new iteration of the next flow of the weighted mix, its first step due at
        `intended` (monotonic)."""
        mix = self.mix
        flow = mix[self.n % len(mix)]
        self.n += 1
        user = User(flow, self.sources)
        fn = self.functions[flow]
        if fn is None:
            self._next(user, intended)
            return
        user.session = Session(
            self.step_names[flow], lambda at, t: self._send(user, at, t), user.ctx.variables,
            intended,
        )  # fmt: skip
        task = self.loop.create_task(self._run_python(user, fn, user.session))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run_python(self, user: User, fn: PyFlow, session: Session) -> None:
        """Run one iteration of a Python flow; its exception is an error of its last step."""
        try:
            await fn(session)
        except FlowStopped:
            return
        except Exception as exc:  # the user's code: data, not a crash of the engine
            # its last step, ok so far, becomes that error (a failed step already is one);
            # counted in the current second, which may be after the step's own
            if session.last is not None and user.passed and user.passed[-1]:
                req = self.flows[user.flow].steps[session.last].req
                self.client.cur.by[req].ok_failed(f"{CHECK_PREFIX}python:{type(exc).__name__}")
        if self.running:
            self.iteration_over(session.intended)

    def _send(self, user: User, at: int, intended: float) -> asyncio.Future[Response]:
        """Send step `at` of a Python flow's user; its future gets the response."""
        waiter: asyncio.Future[Response] = self.loop.create_future()
        if not self.running:
            waiter.set_exception(FlowStopped())
            return waiter
        user.at, user.waiter, user.response = at, waiter, None
        self.client.cur.offered += 1
        self.client.submit(intended, self.flows[user.flow].steps[at].req, user)
        return waiter

    def _next(self, user: User, intended: float) -> None:
        """Send the user's next step that should run, or end the iteration."""
        steps = self.flows[user.flow].steps
        while user.at < len(steps):
            step = steps[user.at]
            if step.if_passed is None or user.passed[step.if_passed]:
                self.client.cur.offered += 1
                user.response = None
                self.client.submit(intended, step.req, user)
                return
            user.passed.append(False)  # skipped: not passed, for later `if:`
            user.at += 1
        self.iteration_over(intended)

    def step_done(self, now: float, user: object) -> None:
        """`Client.on_done`: the user's step finished; extract, then go on (or stop)."""
        if not isinstance(user, User):
            return
        step = self.flows[user.flow].steps[user.at]
        response = user.response
        passed = response is not None and response[3]
        if passed and response is not None:
            passed = self._extract(user, step.req, response[:3])
        user.passed.append(passed)
        if user.waiter is not None:  # a Python flow: its function goes on
            self._resolve(user, now, passed)
            return
        user.at += 1
        if not self.running:
            return
        if not passed:  # failed: the rest would measure the failure again
            self.iteration_over(now)
        elif step.think_s > 0:
            self.thinking += 1
            self.loop.call_later(step.think_s, self._after_think, user, now + step.think_s)
        else:
            self._next(user, now)

    def _resolve(self, user: User, now: float, passed: bool) -> None:
        """Hand a Python flow's step its response (FlowStopped once the run is over)."""
        waiter, user.waiter = user.waiter, None
        if waiter is None or waiter.done():
            return
        if not self.running:
            waiter.set_exception(FlowStopped())
            return
        if user.session is not None:
            user.session.intended = now
        status, headers, body, _ = user.response or (0, {}, b"", False)
        waiter.set_result(Response(status, headers, body, passed))

    def _after_think(self, user: User, intended: float) -> None:
        self.thinking -= 1
        if self.running:
            self._next(user, intended)

    def _extract(self, user: User, req: int, response: tuple[int, dict[str, str], bytes]) -> bool:
        """Set the step's extracted variables; False (and error check:extract:<var>) when
        one is missing from the response."""
        for ex, compiled in self.extracts[user.flow][user.at]:
            value = extract_value(ex, compiled, response, user.cookies)
            if value is None:
                self.client.cur.by[req].ok_failed(f"{CHECK_PREFIX}extract:{ex.var}")
                return False
            user.ctx.variables[ex.var] = value
        return True
