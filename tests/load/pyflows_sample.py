"""Python flows used by tests/load/test_flows.py (imported by module:function)."""

from __future__ import annotations

from loadtrial.load.pyflow import Session


async def login_twice_then_me(session: Session) -> None:
    """Log in, then fetch /me/{{token}} once per item of a list the function builds."""
    r = await session.step("login")
    if not r.ok:
        return
    for n in range(2):
        await session.step("me", n=n)
    await session.think(0.01)
    await session.step("after")


async def broken(session: Session) -> None:
    """Raise after the first step (an error of that step)."""
    await session.step("login")
    raise LookupError("no such thing")


def not_async(session: Session) -> None:
    """Not a coroutine function: refused."""
