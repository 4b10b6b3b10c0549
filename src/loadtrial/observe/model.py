"""Data of the observers' door: samples of every tier on the load's clock.

In: a run clock (t0, monotonic) and observer configs from the trial file's `observe:`.
Out: Samples, each a named value with unit and, where known, a capacity, so utilisation
(value / capacity) can be computed by the analysis. Names are `tier.resource.stat`, with
the tier taken from the observer's alias (`as: db` → `db.connections.used`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from loadtrial.errors import ObserverError

# A limit, a health count or a configured size is not a use of the resource (2 of 2
# healthy backends is no saturation), nor are idle connections (`connections.used`
# counts the slots, `.active` the work). Series named so are never utilisations.
NOT_USE_SUFFIXES = (".max", ".reserved", ".healthy", ".limit", ".capacity", ".idle", ".size")


def is_use(name: str) -> bool:
    """Whether a series with a capacity measures use of it (see NOT_USE_SUFFIXES)."""
    return not name.endswith(NOT_USE_SUFFIXES) and "healthy" not in name.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Sample:
    """One value of one metric at one moment of the run clock."""

    t_s: float  # seconds since the run's t0 (same clock as IntervalStats.second)
    name: str  # "tier.resource.stat", e.g. "db.connections.used"
    value: float
    unit: str  # "count", "percent", "bytes", "per_s", "ms", "ratio" ...
    capacity: float | None = None  # e.g. max_connections, or 100 * cores for CPU percent
    # spacing of the source's own data points when coarser than the sampler's tick, e.g.
    # 60.0 for CloudWatch one-minute metrics (None: one value per tick)
    resolution_s: float | None = None


class Observer(Protocol):
    """A source of samples for one tier. Failures raise ObserverError (the sampler
    records a gap and an event and carries on)."""

    tier: str

    def start(self) -> None:
        """Connect / prepare. May raise ObserverError."""
        ...

    def sample(self, t_s: float) -> list[Sample]:
        """Return the current values, stamped `t_s`. May raise ObserverError."""
        ...

    def stop(self) -> None:
        """Release connections; never raises."""
        ...


@dataclass(frozen=True)
class ObserverEvent:
    """Something an observer saw that is not a value: e.g. the database refused a
    connection. The sampler forwards it as `on_event(t_s, kind, message)`."""

    t_s: float
    kind: str  # e.g. "connect_refused", "connect_restored"
    message: str


class EmitsEvents(Protocol):
    """Optional ability of an observer: events noticed since the last call."""

    def drain_events(self) -> list[ObserverEvent]:
        """Return and forget the events gathered so far."""
        ...


class SampleFault(ObserverError):
    """An observer failure that still carries samples (such as `db.connect.refused` = 1).

    The sampler records a fault event, stores `samples` and reconnects with backoff."""

    def __init__(self, message: str, hint: str = "", samples: tuple[Sample, ...] = ()) -> None:
        super().__init__(message, hint)
        self.samples = samples


@runtime_checkable
class CollectsWindow(Protocol):
    """Optional ability of an observer whose source publishes late (CloudWatch): the
    runner calls it once after a run (and its `stop`) to fetch the run's whole window."""

    def collect_window(self, start_unix: float, end_unix: float, t0_unix: float) -> list[Sample]:
        """Return the samples of [start_unix, end_unix], stamped `t_s = ts - t0_unix`.
        May block until the source has published (its configured delay); may raise
        ObserverError."""
        ...
