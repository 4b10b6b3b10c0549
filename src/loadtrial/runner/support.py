"""Small pieces the runner needs: Ctrl-C handling, the action journal, the observers.

In: the running trial's store and ids; the trial's `observe:` section. Out: an
`Interrupts` guard (the first Ctrl-C asks the current run to stop and the trial to end,
so apply, snapshot and revert are never cut half-way; the third forces an exit), a
`Journal` sink for provider Actions, and started-to-be observers (a kind that cannot be
built becomes an event, not a crash).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from loadtrial.env.model import Action
from loadtrial.env.settings import AwsSettings, TestbedSettings
from loadtrial.errors import LoadtrialError
from loadtrial.observe.model import Observer
from loadtrial.spec.model import Trial
from loadtrial.store.store import Store

FORCE_AFTER = 3  # the third Ctrl-C raises KeyboardInterrupt (escape hatch)


class Interrupts:
    """Turns Ctrl-C into a request: sets `requested` and the current run's stop event."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.count = 0
        self.stop: threading.Event | None = None  # the current run's stop event
        self.on_first: Callable[[], None] = lambda: None

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The SIGINT handler."""
        self.count += 1
        self.requested.set()
        if self.stop is not None:
            self.stop.set()
        if self.count == 1:
            self.on_first()
        if self.count >= FORCE_AFTER:
            raise KeyboardInterrupt

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        """Install the handler while the trial runs (main thread only; else a no-op)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self.handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


class Journal:
    """The providers' ActionSink: every Action goes to the store under the current run."""

    def __init__(self, store: Store, trial_id: int) -> None:
        self.store = store
        self.trial_id = trial_id
        self.run_id: int | None = None
        self.failed: list[Action] = []

    def __call__(self, action: Action) -> None:
        if action.status == "failed":
            self.failed.append(action)
        self.store.add_action(self.trial_id, self.run_id, action)


def observe_entries(trial: Trial) -> list[Mapping[str, Any]]:
    """The observer entries of a trial; `observe: testbed` asks the testbed for its own."""
    if trial.observe == "testbed":
        from loadtrial.testbed import DEFAULT_STATE_PATH
        from loadtrial.testbed import observe_entries as testbed_entries

        # the testbed the provider drives, when the trial names its state file
        state = trial.env.state if isinstance(trial.env, TestbedSettings) else None
        entries: list[Mapping[str, Any]] = list(testbed_entries(state))
        if not entries:
            where = state or os.environ.get("LOADTRIAL_TESTBED_STATE") or DEFAULT_STATE_PATH
            raise LoadtrialError(
                f"no testbed is up (no state at {where})",
                hint="start one with `loadtrial testbed up`, or name its file in env.state",
            )
        return entries
    return [
        _with_env(e.model_dump(by_alias=True, exclude_unset=True), trial) for e in trial.observe
    ]


def _with_env(entry: dict[str, Any], trial: Trial) -> dict[str, Any]:
    """A cloudwatch entry takes its region and endpoint from an aws `env:` unless it names
    its own (the trial's resources are where the provider works)."""
    env = trial.env.model_dump()
    if entry.get("kind") == "cloudwatch" and isinstance(trial.env, AwsSettings):
        for key in ("region", "endpoint_url"):
            if not entry.get(key) and env.get(key):
                entry[key] = env[key]
    return entry


def build_observers(trial: Trial, fault: Callable[[str], None]) -> list[Observer]:
    """Observers for the trial; each one that cannot be built is reported via `fault`."""
    try:
        entries = observe_entries(trial)
    except LoadtrialError as exc:
        fault(f"observe: testbed entries unavailable: {exc.render()}")
        return []
    except (ImportError, OSError) as exc:
        fault(f"observe: testbed entries unavailable: {exc}")
        return []
    observers: list[Observer] = []
    for i, entry in enumerate(entries):
        try:
            from loadtrial.observe import make_observer

            observers.append(make_observer(entry))
        except (ImportError, LoadtrialError, ValueError, OSError) as exc:
            fault(f"observe[{i}] ({entry.get('kind')}): cannot be built: {exc}")
    return observers
