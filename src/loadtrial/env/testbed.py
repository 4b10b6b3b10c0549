"""The `testbed` provider: arms reshape the built-in testbed (see loadtrial.testbed).

Abilities: `observers(settings)` gives the entries of `observe: testbed`; which facts each
parameter governs is declared with the settings (`env.settings.TESTBED_GOVERNANCE`).
In: the trial's `env:` settings (`state`: the state file, default
.loadtrial/testbed/state.json) and each arm's parameters: app_nodes, pool_max,
db_max_connections, db_cpus, lb, lb_maxconn, db_instances, failover_on_resize. Out: a Provider whose
`apply` restarts only what changed (each step journaled as an Action), whose `revert`
returns to the configuration found before, and whose `snapshot` reads the facts back from
the running system (SHOW max_connections through the writer endpoint, live nodes, ...).
Journal: before the first step, one entry holds the configuration found before (the undo:
`apply_config` back to it restarts only what differs, so replaying it after a kill at any
point is safe); each step is an entry of its own, intended before it is taken.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from loadtrial.env.journal import logged, undone
from loadtrial.env.model import DONE, FAILED, Action, ActionSink, ApplyRecord, Facts, StepLog
from loadtrial.env.settings import TestbedEnv
from loadtrial.errors import LoadtrialError, Problem, ProviderError
from loadtrial.testbed.model import DEFAULT_STATE_PATH, PARAM_NAMES, TestbedConfig, load_state

_INT_LIMITS: Mapping[str, tuple[int, int]] = {
    "app_nodes": (1, 16),
    "pool_max": (1, 200),
    "db_max_connections": (2, 1000),
    "db_cpus": (1, 1024),
    "db_instances": (1, 2),
    "lb_maxconn": (0, 10000),
}


class TestbedProvider:
    """Applies arm parameters to the running testbed named by a state file."""

    __test__ = False

    def __init__(self, state_path: Path, sink: ActionSink, log: StepLog) -> None:
        self.state_path = state_path
        self.sink = sink
        self.log = log

    def _state_config(self) -> TestbedConfig:
        state = load_state(self.state_path)
        if state is None:
            raise ProviderError(
                f"the testbed is not up (no {self.state_path})",
                hint="run `loadtrial testbed up` first",
            )
        return state.config

    def _step(self, actions: list[Action]) -> Callable[[str, Callable[[], None]], None]:
        def step(name: str, action: Callable[[], None]) -> None:
            started = time.time()
            try:
                with logged(self.log, name):
                    action()
            except (LoadtrialError, OSError) as exc:
                record = Action(name, started, time.time(), "failed", str(exc))
                actions.append(record)
                self.sink(record)
                raise
            record = Action(name, started, time.time(), "ok")
            actions.append(record)
            self.sink(record)

        return step

    def apply(self, params: Mapping[str, Any]) -> ApplyRecord:
        """Bring the testbed to `params` (unnamed parameters keep their current value)."""
        from loadtrial.testbed.apply import apply_config

        before = self._state_config()
        wanted = before.with_params(params)
        actions: list[Action] = []
        undo = asdict(before)
        arm = self.log.intend(f"testbed arm {dict(params)}", undo)
        try:
            apply_config(self.state_path, wanted, self._step(actions))
        except (LoadtrialError, OSError) as exc:
            message = exc.message if isinstance(exc, LoadtrialError) else str(exc)
            self.log.settle(arm, FAILED, message)
            self.revert(ApplyRecord(dict(params), undo, tuple(actions), (arm,)))
            raise ProviderError(
                f"testbed: applying {dict(params)} failed: {message}; back to the configuration "
                "found before"
            ) from exc
        self.log.settle(arm, DONE)
        return ApplyRecord(dict(params), undo, tuple(actions), (arm,))

    def revert(self, record: ApplyRecord) -> None:
        """Return to the configuration in force before `record` was applied; a testbed
        that is down has nothing to restore (`testbed up` starts from its own config)."""
        undone(self.log, record.journal, lambda: self._revert(record.undo))

    def _revert(self, undo: Mapping[str, Any]) -> None:
        from loadtrial.testbed.apply import apply_config

        if not undo or load_state(self.state_path) is None:
            return
        try:
            apply_config(self.state_path, TestbedConfig(**undo), self._step([]))
        except (LoadtrialError, OSError) as exc:
            message = exc.message if isinstance(exc, LoadtrialError) else str(exc)
            raise ProviderError(f"testbed: reverting failed: {message}") from exc

    def snapshot(self) -> Facts:
        """The facts in force now, read back from the running testbed."""
        from loadtrial.testbed.facts import snapshot

        state = load_state(self.state_path)
        if state is None:
            return {"testbed": "down"}
        return snapshot(state)


def _state_path(settings: Mapping[str, Any]) -> Path:
    return Path(str(settings.get("state") or DEFAULT_STATE_PATH))


def create(settings: TestbedEnv, sink: ActionSink, log: StepLog) -> TestbedProvider:
    """Return a provider for the testbed named by `settings` (`state:` file)."""
    return TestbedProvider(Path(settings.state or DEFAULT_STATE_PATH), sink, log)


def observers(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The observe entries of the testbed named by `settings` (`observe: testbed`): its db,
    app, lb and host tiers. Raises LoadtrialError when no testbed is up."""
    from loadtrial.testbed import observe_entries

    path = _state_path(settings)
    entries = observe_entries(path)
    if not entries:
        raise LoadtrialError(
            f"no testbed is up (no state at {path})",
            hint="start one with `loadtrial testbed up`, or name its file in env.state",
        )
    return entries


def env_key(settings: Mapping[str, Any]) -> str:
    """A testbed is named by its state file: `testbed:<absolute path>`."""
    return f"testbed:{_state_path(settings).resolve()}"


def _param_problems(arm: str, params: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in params.items():
        path = f"arms.{arm}.{key}"
        if key not in PARAM_NAMES:
            problems.append(
                Problem(path, "not a testbed parameter", f"use {', '.join(PARAM_NAMES)}")
            )
        elif key in _INT_LIMITS:
            low, high = _INT_LIMITS[key]
            if key == "db_cpus":
                high = os.cpu_count() or 1
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                problems.append(Problem(path, f"must be a whole number from {low} to {high}"))
        elif key == "lb":
            problems += _lb_problems(path, value)
        elif key == "failover_on_resize" and not isinstance(value, bool):
            problems.append(Problem(path, "must be true or false"))
    return problems


def _lb_problems(path: str, value: Any) -> list[Problem]:
    from loadtrial.testbed.lb_haproxy import available

    if value not in ("auto", "builtin", "haproxy"):
        return [Problem(path, f"unknown balancer {value!r}", "use auto, builtin or haproxy")]
    if value == "haproxy" and not available():
        return [Problem(path, "haproxy is not installed here", "use lb: builtin or auto")]
    return []


def problems(settings: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Every problem with the arms' testbed parameters (the settings' shape is checked by
    their model, `env.settings.TestbedEnv`)."""
    found: list[Problem] = []
    for arm, params in arms.items():
        found += _param_problems(arm, params)
    return found
