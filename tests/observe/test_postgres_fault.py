"""A database stopped mid-sampling: the postgres observer leaves a gap, a fault event and
`connect.refused` samples; the host and process observers are sampled throughout; when
the database is back, sampling recovers with an event."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    import pgserver

from loadtrial.observe import make_observer
from loadtrial.observe.model import Sample
from loadtrial.observe.sampler import Sampler

INTERVAL = 0.2


def _wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition(), "condition not met in time"


def test_database_stopped_mid_sampling() -> None:
    # not under pytest's basetemp: concurrent pytest sessions prune old basetemps
    root = Path(tempfile.mkdtemp(prefix="lt-observe-pgfault-"))
    pgdata = root / "data"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    dsn = str(server.get_uri())
    lock = threading.Lock()
    batches: list[list[Sample]] = []
    events: list[tuple[float, str, str]] = []

    def on_samples(samples: list[Sample]) -> None:
        with lock:
            batches.append(samples)

    def on_event(t_s: float, kind: str, message: str) -> None:
        with lock:
            events.append((t_s, kind, message))

    def kinds() -> list[str]:
        with lock:
            return [k for _, k, _ in events]

    observers = [
        make_observer({"kind": "postgres", "dsn": dsn, "as": "db", "timeout": "1s"}),
        make_observer({"kind": "host"}),
    ]
    sampler = Sampler(
        observers,
        t0=time.monotonic(),
        interval_s=INTERVAL,
        on_samples=on_samples,
        on_event=on_event,
        max_backoff_s=0.4,
    )
    try:
        sampler.start()
        _wait_for(lambda: len(batches) >= 3)
        server.cleanup()  # pg_ctl stop: the database goes away under the observer
        _wait_for(lambda: "observer_fault" in kinds())
        down_batches = len(batches)
        _wait_for(lambda: len(batches) >= down_batches + 4)
        server = pgserver.get_server(pgdata, cleanup_mode="stop")  # back again
        _wait_for(lambda: "observer_recovered" in kinds())
        _wait_for(lambda: len(batches) >= down_batches + 6)
    finally:
        sampler.stop()
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)

    fault = next(e for e in events if e[1] == "observer_fault")
    back = next(e for e in events if e[1] == "observer_recovered")
    assert fault[2].startswith("db (postgres): ")
    assert kinds().count("observer_fault") == 1  # one event per outage, not per retry
    db_used = [s.t_s for b in batches for s in b if s.name == "db.connections.used"]
    host = [s.t_s for b in batches for s in b if s.name == "host.memory.used_bytes"]
    assert not [t for t in db_used if fault[0] < t < back[0]]  # the gap
    assert [t for t in db_used if t >= back[0]]  # sampling again after recovery
    # the host observer was sampled all along, through the outage
    assert len([t for t in host if fault[0] < t < back[0]]) >= 3
    assert len(host) == len(batches)
    refused = [s for b in batches for s in b if s.name == "db.connect.refused"]
    assert refused and all(fault[0] <= s.t_s < back[0] and s.value == 1.0 for s in refused)
