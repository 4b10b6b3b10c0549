"""Small pieces the runner needs: Ctrl-C handling, the action journal, the observers.

In: the running trial's store and ids; the trial's `observe:` section. Out: an
`Interrupts` guard (the first Ctrl-C asks the current run to stop and the trial to end,
so apply, snapshot and revert are never cut half-way; the third forces an exit), a
`Journal` sink for provider Actions, and started-to-be observers (a kind that cannot be
built becomes an event, not a crash).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any

from loadtrial.env import provider_observers
from loadtrial.env.model import Action
from loadtrial.errors import LoadtrialError
from loadtrial.observe.model import Observer
from loadtrial.observe.settings import ObserverSettings
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
    """The observer entries of a trial; `observe: testbed` asks the provider for its own."""
    if trial.observe == "testbed":
        settings = trial.env.model_dump(exclude={"provider"})
        return provider_observers(trial.env.provider, settings)
    return [_with_env(e, trial) for e in trial.observe]


def _with_env(entry: ObserverSettings, trial: Trial) -> dict[str, Any]:
    """An entry's dump, with the settings it takes from the provider when it leaves them
    out (its `FROM_ENV` ability: a cloudwatch entry looks where an aws `env:` works)."""
    out: dict[str, Any] = entry.model_dump(by_alias=True)
    for key, value in trial.env.for_observers().items():
        if key in entry.FROM_ENV and not out.get(key) and value:
            out[key] = value
    return out


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
