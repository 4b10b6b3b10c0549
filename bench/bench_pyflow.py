"""The Python flow of bench/load_flows.py: its steps r0, r1, ... in order, as the YAML flow."""

from __future__ import annotations

from loadtrial.load.pyflow import Session


async def run_steps(session: Session) -> None:
    """Run every step of the flow in order; stop at the first that fails."""
    step = 0
    while True:
        try:
            r = await session.step(f"r{step}")
        except KeyError:
            return
        if not r.ok:
            return
        step += 1
