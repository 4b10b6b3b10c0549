"""Observer `postgres`: connections, transactions and CPU of a PostgreSQL server (psycopg).

In: `{kind: postgres, dsn: "${DB_URL}", as: db, cpu: auto|true|false, probe_connect: false,
timeout: 2s}`. One monitoring connection is opened in `start()` (before the load) and kept,
so the observer still sees the server when it is full: it uses ONE connection slot itself
(counted in `connections.used`). States need the `pg_monitor` role (or a superuser).
Out per tick (tier = `as`, default "postgres"):
  connections.used (client backends; capacity = max_connections - reserved slots, the
  slots ordinary users can get), connections.active / .idle / .idle_in_transaction /
  .waiting_lock (same capacity), connections.max, connections.reserved,
  xact.commit_per_s, xact.rollback_per_s, deadlocks.per_s, temp.bytes_per_s,
  cpu.percent / cpu.util of the postmaster and all its children when the server runs on
  this host (capacity = 100 × the cores the postmaster may use),
  connect.refused = 1 when a connection is refused ("too many clients", server down);
  with `probe_connect: true` a fresh connection is tried each tick: connect.ms and
  connect.refused (0 or 1), plus "connect_refused" / "connect_restored" events.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import psutil
import psycopg
from psycopg import conninfo

from loadtrial.errors import ObserverError, Problem
from loadtrial.observe import _proc
from loadtrial.observe._kept import KeptConnection
from loadtrial.observe._rates import CounterRates
from loadtrial.observe.model import ObserverEvent, Sample, SampleFault
from loadtrial.observe.settings import PostgresSettings

_ACTIVITY = """
SELECT count(*) FILTER (WHERE backend_type = 'client backend'),
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active'),
       count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle'),
       count(*) FILTER (WHERE backend_type = 'client backend'
                          AND state LIKE 'idle in transaction%'),
       count(*) FILTER (WHERE wait_event_type = 'Lock')
FROM pg_stat_activity
-- a superuser observer sits in a reserved slot: leave it out of the ordinary slots it is
-- compared with (max_connections - reserved); an ordinary observer does take one of them
WHERE pid <> pg_backend_pid() OR current_setting('is_superuser') = 'off'"""
_COUNTERS = """
SELECT sum(xact_commit), sum(xact_rollback), sum(deadlocks), sum(temp_bytes)
FROM pg_stat_database"""
_SETTINGS = """
SELECT name, setting::int FROM pg_settings
WHERE name IN ('max_connections', 'superuser_reserved_connections', 'reserved_connections')"""
_STATES = ("used", "active", "idle", "idle_in_transaction", "waiting_lock")
_RATES = ("xact.commit_per_s", "xact.rollback_per_s", "deadlocks.per_s", "temp.bytes_per_s")
_REFUSALS = (
    "too many clients",
    "connection slots are reserved",
    "connection refused",
    "no such file or directory",
    "the database system is",
    "could not connect",
)


def is_refusal(message: str) -> bool:
    """True when a connect error means the server turned us away or is not there."""
    lowered = message.lower()
    return any(r in lowered for r in _REFUSALS)


def is_local(dsn: str) -> bool:
    """True when the DSN points at this host (unix socket or loopback)."""
    try:
        params = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return False
    hosts = str(params.get("hostaddr") or params.get("host") or "").split(",")
    return all(h.startswith("/") or h in _proc.LOCAL_HOSTS for h in hosts)


class PostgresObserver(KeptConnection):
    """One monitoring connection; server CPU through psutil when local."""

    kind = "postgres"

    def __init__(
        self,
        tier: str,
        interval_s: float | None,
        dsn: str,
        timeout_s: float,
        cpu: bool | None,
        probe_connect: bool,
    ) -> None:
        self.tier, self.interval_s = tier, interval_s
        self._dsn, self._timeout_s = dsn, timeout_s
        self._cpu_wanted = is_local(dsn) if cpu is None else cpu
        self._probe = probe_connect
        self._conn: psycopg.Connection[Any] | None = None
        self._rates = CounterRates()
        self._meter = _proc.CpuMeter()
        self._postmaster: psutil.Process | None = None
        self._max = self._reserved = 0
        self._events: list[ObserverEvent] = []
        self._probe_refused = False

    def start(self) -> None:
        """Open the monitoring connection, read the limits, find the local postmaster."""
        self._conn = self._connect("loadtrial-observer")
        try:
            self._conn.execute(f"SET statement_timeout = {int(self._timeout_s * 1000)}")
            settings = dict(self._conn.execute(_SETTINGS).fetchall())
            self._postmaster = self._find_postmaster() if self._cpu_wanted else None
        except psycopg.Error as exc:
            raise ObserverError(f"cannot read the server's settings: {_first_line(exc)}") from None
        self._max = int(settings.get("max_connections", 0))
        self._reserved = int(settings.get("superuser_reserved_connections", 0)) + int(
            settings.get("reserved_connections", 0)
        )
        self._rates.forget()
        self._meter = _proc.CpuMeter()

    def sample(self, t_s: float) -> list[Sample]:
        """Read activity and counters on the kept connection; add CPU and the probe."""
        if self._conn is None or self._conn.closed:
            raise ObserverError("monitoring connection is closed")
        try:
            activity = self._conn.execute(_ACTIVITY).fetchone() or (0,) * 5
            counters = self._conn.execute(_COUNTERS).fetchone() or (0,) * 4
        except psycopg.Error as exc:
            raise ObserverError(f"query failed: {_first_line(exc)}") from None
        out = self._connection_samples(activity, t_s)
        for name, value in zip(_RATES, counters, strict=True):
            rate = self._rates.rate(name, float(value or 0), t_s)
            if rate is not None:
                out.append(Sample(t_s, f"{self.tier}.{name}", round(rate, 3), "per_s"))
        if self._postmaster is not None:
            procs = _proc.tree(self._postmaster)
            pct = self._meter.percent(procs, time.monotonic())
            out.extend(_proc.cpu_samples(self.tier, pct, _proc.cores_of(procs[:1]), t_s))
        if self._probe:
            out.extend(self._probe_sample(t_s))
        return out

    def _connection_samples(self, activity: tuple[Any, ...], t_s: float) -> list[Sample]:
        cap = float(self._max - self._reserved) if self._max else None
        out = [
            Sample(t_s, f"{self.tier}.connections.{state}", float(n), "count", cap)
            for state, n in zip(_STATES, activity, strict=True)
        ]
        out.append(Sample(t_s, f"{self.tier}.connections.max", float(self._max), "count"))
        out.append(Sample(t_s, f"{self.tier}.connections.reserved", float(self._reserved), "count"))
        return out

    def _connect(self, app_name: str) -> psycopg.Connection[Any]:
        """Connect; a refusal raises SampleFault carrying `connect.refused` = 1."""
        try:
            return psycopg.connect(
                self._dsn,
                autocommit=True,
                application_name=app_name,
                connect_timeout=max(1, round(self._timeout_s)),
            )
        except psycopg.Error as exc:
            message = _first_line(exc)
            if is_refusal(message):
                refused = Sample(0.0, f"{self.tier}.connect.refused", 1.0, "count")
                raise SampleFault(f"connection refused: {message}", samples=(refused,)) from None
            raise ObserverError(f"cannot connect: {message}") from None

    def _probe_sample(self, t_s: float) -> list[Sample]:
        """Try a fresh connection: how long it takes, or that it is refused."""
        began = time.monotonic()
        try:
            self._connect("loadtrial-probe").close()
        except SampleFault as fault:
            if not self._probe_refused:
                self._events.append(ObserverEvent(t_s, "connect_refused", fault.message))
            self._probe_refused = True
            return [Sample(t_s, f"{self.tier}.connect.refused", 1.0, "count")]
        except ObserverError:
            return []
        if self._probe_refused:
            self._events.append(ObserverEvent(t_s, "connect_restored", "new connections accepted"))
        self._probe_refused = False
        ms = (time.monotonic() - began) * 1000.0
        return [
            Sample(t_s, f"{self.tier}.connect.refused", 0.0, "count"),
            Sample(t_s, f"{self.tier}.connect.ms", round(ms, 3), "ms"),
        ]

    def _find_postmaster(self) -> psutil.Process | None:
        """Find the postmaster on this host: our backend's parent, else the pid in the data
        directory's postmaster.pid; either must have started when the server says it did
        (so a same-numbered pid in another pid namespace is not taken for it)."""
        assert self._conn is not None
        row = self._conn.execute(
            "SELECT pg_backend_pid(), extract(epoch FROM pg_postmaster_start_time())"
        ).fetchone()
        started = float(row[1]) if row else 0.0
        candidates: list[psutil.Process | None] = []
        with contextlib.suppress(psutil.Error):
            candidates.append(psutil.Process(int(row[0])).parent() if row else None)
        with contextlib.suppress(psycopg.Error):
            datadir = self._conn.execute("SELECT current_setting('data_directory')").fetchone()
            if datadir:
                candidates.append(_proc.process_from_pid_file(f"{datadir[0]}/postmaster.pid"))
        for proc in candidates:
            with contextlib.suppress(psutil.Error):
                if proc is not None and abs(proc.create_time() - started) < 2.0:
                    return proc
        note = "server CPU not measured: the postmaster is not a process on this host"
        self._events.append(ObserverEvent(0.0, "observer_note", note))
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def create(entry: PostgresSettings) -> PostgresObserver:
    """Return a PostgreSQL observer for one `observe:` entry."""
    return PostgresObserver(
        entry.as_ or entry.kind,
        entry.interval,
        entry.dsn,
        entry.timeout,
        None if entry.cpu == "auto" else entry.cpu,
        entry.probe_connect,
    )


def _is_dsn(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        return "expected a connection string such as postgresql://user@host/db"
    try:
        conninfo.conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        return f"not a valid connection string: {_first_line(exc)}"
    return ""


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Return every problem with a postgres entry that its model cannot express."""
    why = _is_dsn(entry["dsn"])
    return [Problem(f"{path}.dsn", why)] if why else []
