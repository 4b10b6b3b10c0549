"""Python flows: an async function runs a flow's declared steps, in place of their order.

In: `python: "module:function"` on a flow; the function is `async def f(session)`. Out:
the same per-step requests, checks, extraction and figures as a YAML flow: the function
only decides which step runs next and with which variables.

    async def shop(session):
        r = await session.step("login")            # a step of the flow, by name
        if not r.ok:
            return                                  # the iteration ends
        for pid in r.json()["wishlist"]:
            await session.step("browse", pid=pid)   # sets {{pid}}, then sends the step
        await session.think(0.1)

`session.vars` are the user's variables (what `{{name}}` reads, extracts included). A
step's intended time is when the previous one finished (plus think time), so the time the
function itself spends between steps counts in the next step's latency, as a slow client
would. An exception in the function ends the iteration; the last step it ran, when that
step was ok, counts as error `check:python:<ExceptionName>` instead.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

PyFlow = Callable[["Session"], Awaitable[None]]


class FlowStopped(Exception):
    """The run is over: no step of a Python flow is sent any more."""


def load_function(spec: str) -> PyFlow:
    """Import `module:function` (ValueError saying what is wrong)."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"{spec!r}: write module:function, e.g. myflows:shop")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{spec!r}: {exc}") from None
    if not inspect.iscoroutinefunction(fn):
        raise ValueError(f"{spec!r} is not an async function (async def {name}(session))")
    return fn  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Response:
    """What a step got: status (0 when it failed without one), headers (lower-case
    names), body, and whether the step's checks and extraction passed."""

    status: int
    headers: dict[str, str]
    body: bytes
    ok: bool

    def json(self) -> Any:
        """The body parsed as JSON (ValueError when it is not)."""
        return json.loads(self.body)


class Session:
    """One user's handle in a Python flow (see the module docstring)."""

    def __init__(
        self,
        names: dict[str, int],
        send: Callable[[int, float], asyncio.Future[Response]],
        variables: dict[str, str],
        intended: float,
    ) -> None:
        self._names, self._send = names, send
        self.vars = variables
        self.intended = intended  # the next step's intended send time (monotonic)
        self.last: int | None = None  # the last step run (its index in the flow)

    async def step(self, name: str, **variables: object) -> Response:
        """Set `variables`, send step `name` of the flow, and return its response."""
        at = self._names.get(name)
        if at is None:
            raise KeyError(f"no step {name!r} in this flow (steps: {', '.join(self._names)})")
        self.vars.update({k: str(v) for k, v in variables.items()})
        self.last = at
        return await self._send(at, self.intended)

    async def think(self, seconds: float) -> None:
        """Pause like a user (the next step is intended that much later)."""
        await asyncio.sleep(seconds)
        self.intended += seconds
