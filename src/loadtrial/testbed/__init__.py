"""The built-in testbed: a real multi-process web system on loopback that breaks like one.

db (embedded PostgreSQL, seeded) ← app nodes (Starlette on uvicorn, lazily-growing pools)
← balancer (round robin, health checks, 502/504, Prometheus stats), described by a state
file so `down` always cleans up. Door: `up`, `down`, `status`, `apply_config`,
`observe_entries` and the data in `testbed.model`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loadtrial.testbed.model import (
    DEFAULT_STATE_PATH,
    PARAM_NAMES,
    TestbedConfig,
    TestbedState,
    load_state,
)

__all__ = [
    "DEFAULT_STATE_PATH",
    "PARAM_NAMES",
    "TestbedConfig",
    "TestbedState",
    "apply_config",
    "down",
    "load_state",
    "observe_entries",
    "status",
    "up",
]


def up(
    config: TestbedConfig | None = None,
    state_path: Path = DEFAULT_STATE_PATH,
    *,
    lb_port: int = 0,
    stats_port: int = 0,
) -> TestbedState:
    """Start the testbed (see testbed.control.up)."""
    from loadtrial.testbed.control import up as _up

    return _up(config or TestbedConfig(), state_path, lb_port=lb_port, stats_port=stats_port)


def down(state_path: Path = DEFAULT_STATE_PATH) -> list[str]:
    """Stop everything of the testbed in `state_path`; return what was stopped."""
    from loadtrial.testbed.control import down as _down

    return _down(state_path)


def apply_config(state_path: Path, wanted: TestbedConfig) -> TestbedState:
    """Reshape the running testbed to `wanted`, restarting only what changed."""
    from loadtrial.testbed.apply import apply_config as _apply

    return _apply(state_path, wanted)


def status(state_path: Path = DEFAULT_STATE_PATH) -> dict[str, str] | None:
    """The facts of the running testbed, read back from it; None when it is not up."""
    from loadtrial.testbed.facts import snapshot

    state = load_state(state_path)
    return None if state is None else snapshot(state)


def observe_entries(state: TestbedState | Path | str | None = None) -> list[dict[str, Any]]:
    """The `observe:` entries for `observe: testbed` (db, app, lb, host).

    `state` is a TestbedState, a state-file path, or None: then $LOADTRIAL_TESTBED_STATE
    or the default state file. Returns [] when no testbed is up.
    """
    from loadtrial.testbed.facts import observe_entries_for

    if not isinstance(state, TestbedState):
        fallback = os.environ.get("LOADTRIAL_TESTBED_STATE") or DEFAULT_STATE_PATH
        state = load_state(Path(state if state is not None else fallback))
    return [] if state is None else observe_entries_for(state)
