"""Late sources: observers whose data is published after the fact (CloudWatch).

In: the windows of the runs that had such an observer (run id, observer, Unix start/end,
the run's t0 as Unix time). Out: their samples written to the store once the trial's runs
are over, so the source's publishing delay is waited out once per trial, not once per run.
A failure is an "observer_fault" event of that run, never the end of the trial.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loadtrial.errors import ObserverError
from loadtrial.observe.model import CollectsWindow, SampleFault
from loadtrial.store.model import Event
from loadtrial.store.store import Store


@dataclass(frozen=True)
class LateWindow:
    """One run's window, to be fetched from one late observer."""

    run_id: int
    observer: CollectsWindow
    start_unix: float
    end_unix: float
    t0_unix: float


def collect_late(store: Store, windows: Sequence[LateWindow], note: Callable[[str], None]) -> int:
    """Fetch and store every window; return how many samples were stored."""
    if windows:
        note(f"collecting {len(windows)} late window(s) (e.g. CloudWatch, after its delay)")
    stored = 0
    for w in windows:
        try:
            samples = w.observer.collect_window(w.start_unix, w.end_unix, w.t0_unix)
        except SampleFault as exc:  # a warning that still carries what was found
            store.add_event(w.run_id, Event(0.0, "observer_fault", exc.render(), {}))
            note(f"late observer warning for run {w.run_id}: {exc.render()}")
            samples = list(exc.samples)
        except ObserverError as exc:
            store.add_event(w.run_id, Event(0.0, "observer_fault", exc.render(), {}))
            note(f"late observer failed for run {w.run_id}: {exc.render()}")
            continue
        store.add_samples(w.run_id, samples)
        stored += len(samples)
    return stored
