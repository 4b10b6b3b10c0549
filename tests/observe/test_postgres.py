"""The postgres observer against a real embedded PostgreSQL (pgserver), driven to its
connection limit by the test itself."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    import pgserver
import psutil
import psycopg
import pytest
from written import written

from loadtrial.observe import make_observer, observer_problems
from loadtrial.observe.model import Sample, SampleFault
from loadtrial.observe.postgres import is_local, is_refusal
from loadtrial.observe.sampler import Sampler

MAX_CONNECTIONS, RESERVED = 12, 2


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    """A PostgreSQL with max_connections = 12 (restarted once to apply it). Its directory
    is not under pytest's basetemp: concurrent pytest sessions prune old basetemps."""
    root = Path(tempfile.mkdtemp(prefix="lt-observe-pg-"))
    pgdata = root / "data"
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    server.psql(
        f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS};"
        f"ALTER SYSTEM SET superuser_reserved_connections = {RESERVED};"
    )
    server.cleanup()
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def _by_name(samples: list[Sample]) -> dict[str, Sample]:
    return {s.name: s for s in samples}


def test_connections_up_to_the_limit_and_refusals(dsn: str) -> None:
    obs: Any = make_observer({"kind": "postgres", "dsn": dsn, "as": "db", "probe_connect": True})
    obs.start()  # the monitoring connection is open before the "load"
    held: list[psycopg.Connection[Any]] = []
    try:
        before = _by_name(obs.sample(0.0))
        # the observer is a superuser here: it sits in a reserved slot and is left out
        assert before["db.connections.used"].value == 0.0
        assert before["db.connections.used"].capacity == MAX_CONNECTIONS - RESERVED
        assert before["db.connections.max"].value == MAX_CONNECTIONS
        assert before["db.connections.reserved"].value == RESERVED
        assert before["db.connect.refused"].value == 0.0 and "db.connect.ms" in before
        for _ in range(MAX_CONNECTIONS + 5):  # bounded: fill every slot there is
            try:
                held.append(psycopg.connect(dsn, autocommit=True))
            except psycopg.OperationalError as exc:
                assert is_refusal(str(exc))
                break
        full = _by_name(obs.sample(1.0))
        used = full["db.connections.used"]
        assert used.capacity is not None and used.value >= used.capacity
        # superusers fill the reserved slots too; every slot but the observer's own
        assert used.value == MAX_CONNECTIONS - 1
        assert full["db.connect.refused"].value == 1.0
        events = obs.drain_events()
        assert [e.kind for e in events] == ["connect_refused"]
        assert "too many clients" in events[0].message
        late: Any = make_observer({"kind": "postgres", "dsn": dsn, "as": "db"})
        with pytest.raises(SampleFault) as fault:
            late.start()  # an observer started too late is refused: data, not a crash
        assert [(s.name, s.value) for s in fault.value.samples] == [("db.connect.refused", 1.0)]
        late.stop()
    finally:
        for conn in held:
            conn.close()
    after = _by_name(obs.sample(2.0))
    assert after["db.connect.refused"].value == 0.0
    assert [e.kind for e in obs.drain_events()] == ["connect_restored"]
    obs.stop()


def test_states_lock_waits_and_transaction_rates(dsn: str) -> None:
    obs: Any = make_observer({"kind": "postgres", "dsn": dsn, "as": "db"})
    obs.start()
    setup = psycopg.connect(dsn, autocommit=True)
    setup.execute("CREATE TABLE IF NOT EXISTS t (id int primary key, v int)")
    setup.execute("INSERT INTO t VALUES (1, 0) ON CONFLICT DO NOTHING")
    holder = psycopg.connect(dsn)
    waiter = psycopg.connect(dsn)
    holder.execute("UPDATE t SET v = v + 1 WHERE id = 1")  # holds the row lock, idle in tx
    waiter.execute("SET lock_timeout = '10s'")

    def wait_for_lock() -> None:
        with contextlib.suppress(psycopg.Error):
            waiter.execute("UPDATE t SET v = v + 1 WHERE id = 1")

    thread = threading.Thread(target=wait_for_lock, daemon=True)
    try:
        obs.sample(0.0)
        thread.start()
        got: dict[str, Sample] = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = _by_name(obs.sample(0.5))
            if got["db.connections.waiting_lock"].value >= 1:
                break
            time.sleep(0.05)
        assert got["db.connections.waiting_lock"].value >= 1
        assert got["db.connections.idle_in_transaction"].value >= 1
    finally:
        holder.rollback()
        thread.join(timeout=10)
        waiter.rollback()
        for conn in (holder, waiter):
            conn.close()
    setup.close()
    obs.sample(10.0)
    with psycopg.connect(dsn, autocommit=True) as writer:
        for i in range(50):
            writer.execute("UPDATE t SET v = %s WHERE id = 1", (i,))
    time.sleep(0.2)  # a backend publishes its counters as it exits
    rates = _by_name(obs.sample(11.0))
    obs.stop()
    assert rates["db.xact.commit_per_s"].value >= 20
    assert rates["db.xact.rollback_per_s"].unit == "per_s"


def test_server_cpu_is_measured_on_this_host(dsn: str) -> None:
    assert is_local(dsn)
    obs: Any = make_observer({"kind": "postgres", "dsn": dsn, "as": "db"})
    obs.start()
    assert obs.drain_events() == []  # the postmaster was found
    worker = psycopg.connect(dsn, autocommit=True)
    obs.sample(0.0)
    worker.execute("SELECT count(*) FROM generate_series(1, 2000000)")
    got = _by_name(obs.sample(1.0))
    worker.close()
    obs.stop()
    cpu = got["db.cpu.percent"]
    assert cpu.capacity == 100.0 * len(_postmaster(dsn).cpu_affinity() or [1])
    assert cpu.value > 0.0
    assert 0.0 < got["db.cpu.util"].value <= 1.0


def _postmaster(dsn: str) -> psutil.Process:
    """The server's postmaster: the parent of our backend, read while the connection (and
    so the backend) is still open; a closed connection's backend may already be gone."""
    with psycopg.connect(dsn) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert backend is not None
        parent = psutil.Process(int(backend[0])).parent()
    assert parent is not None
    return parent


def test_server_cpu_capacity_is_the_cores_the_postmaster_may_use(dsn: str) -> None:
    # pinned to one core, the server's capacity is one core exactly, whatever the host has
    postmaster = _postmaster(dsn)
    before = postmaster.cpu_affinity() or []
    obs: Any = make_observer({"kind": "postgres", "dsn": dsn, "as": "db"})
    obs.start()
    try:
        postmaster.cpu_affinity([before[0]])
        obs.sample(0.0)
        assert _by_name(obs.sample(1.0))["db.cpu.percent"].capacity == 100.0
    finally:
        postmaster.cpu_affinity(before)
        obs.stop()


def test_remote_dsn_is_not_local_and_problems_are_located() -> None:
    assert not is_local("postgresql://u@db.example.com/app")
    assert is_local("postgresql://u@127.0.0.1:5432/app")
    bad = observer_problems(written({"kind": "postgres", "dsn": "host=a port"}), "observe[0]")
    assert [p.field for p in bad] == ["observe[0].dsn"]


def test_sampler_records_a_full_database_as_samples_and_events(dsn: str) -> None:
    obs = make_observer({"kind": "postgres", "dsn": dsn, "as": "db", "probe_connect": True})
    lock = threading.Lock()
    samples: list[Sample] = []
    events: list[tuple[float, str, str]] = []

    def on_samples(batch: list[Sample]) -> None:
        with lock:
            samples.extend(batch)

    def on_event(t_s: float, kind: str, message: str) -> None:
        with lock:
            events.append((t_s, kind, message))

    held: list[psycopg.Connection[Any]] = []
    sampler = Sampler(
        [obs], t0=time.monotonic(), interval_s=0.2, on_samples=on_samples, on_event=on_event
    )
    try:
        assert sampler.start() == []  # the monitoring connection is open before the "load"
        for _ in range(MAX_CONNECTIONS + 5):
            try:
                held.append(psycopg.connect(dsn, autocommit=True))
            except psycopg.OperationalError:
                break
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with lock:
                if any(k == "connect_refused" for _, k, _ in events):
                    break
            time.sleep(0.05)
    finally:
        for conn in held:
            conn.close()
        sampler.stop()
    refused = next(e for e in events if e[1] == "connect_refused")
    assert refused[2].startswith("db (postgres): connection refused: ")
    used = [s.value for s in samples if s.name == "db.connections.used"]
    assert max(used) == MAX_CONNECTIONS - 1  # all but the (superuser) observer itself
    assert not any(k == "observer_fault" for _, k, _ in events)  # the monitor kept its slot
