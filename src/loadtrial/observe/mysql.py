"""Observer `mysql`: connections, queries and lock waits of MySQL / MariaDB / Aurora MySQL.

In: `{kind: mysql, host: 127.0.0.1, port: 3306, user: root, password: "${DB_PASSWORD}",
as: db, cpu: auto|true|false, timeout: 2s}` (or `unix_socket:`). One monitoring connection
is opened in `start()` and kept (it uses one of max_connections itself).
Out per tick (tier = `as`, default "mysql"):
  connections.used (Threads_connected, capacity = max_connections), connections.max,
  threads.running, connections.max_used (Max_used_connections),
  connections.aborted_per_s (Aborted_connects), connections.refused_max_per_s
  (Connection_errors_max_connections), questions.per_s, row_lock.waits_per_s
  (Innodb_row_lock_waits), row_lock.current_waits, cpu.percent / cpu.util of mysqld when
  it runs on this host (found through @@pid_file; capacity = 100 × its cores), and
  connect.refused = 1 when our own connection is refused (error 1040 "Too many
  connections", or the server is down).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

import psutil
import pymysql

from loadtrial.errors import ObserverError, Problem
from loadtrial.observe import _proc
from loadtrial.observe._kept import KeptConnection
from loadtrial.observe._rates import CounterRates
from loadtrial.observe.model import ObserverEvent, Sample, SampleFault
from loadtrial.observe.settings import MysqlSettings

_STATUS = """SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected',
'Threads_running', 'Max_used_connections', 'Aborted_connects',
'Connection_errors_max_connections', 'Questions', 'Innodb_row_lock_waits',
'Innodb_row_lock_current_waits')"""
_GAUGES = {
    "Threads_connected": "connections.used",
    "Threads_running": "threads.running",
    "Max_used_connections": "connections.max_used",
    "Innodb_row_lock_current_waits": "row_lock.current_waits",
}
_COUNTERS = {
    "Aborted_connects": "connections.aborted_per_s",
    "Connection_errors_max_connections": "connections.refused_max_per_s",
    "Questions": "questions.per_s",
    "Innodb_row_lock_waits": "row_lock.waits_per_s",
}
# too many connections (server, user), cannot connect, connection lost
_REFUSED_CODES = frozenset({1040, 1203, 1226, 2002, 2003, 2013})


class MysqlObserver(KeptConnection):
    """One monitoring connection; mysqld CPU through psutil when local."""

    kind = "mysql"

    def __init__(
        self,
        tier: str,
        interval_s: float | None,
        params: Mapping[str, Any],
        timeout_s: float,
        cpu: bool | None,
    ) -> None:
        self.tier, self.interval_s = tier, interval_s
        self._params, self._timeout_s = dict(params), timeout_s
        host = str(params.get("host") or "")
        self._cpu_wanted = (host in _proc.LOCAL_HOSTS) if cpu is None else cpu
        self._conn: Any = None
        self._rates = CounterRates()
        self._meter = _proc.CpuMeter()
        self._mysqld: psutil.Process | None = None
        self._max = 0
        self._events: list[ObserverEvent] = []

    def start(self) -> None:
        """Open the monitoring connection, read max_connections, find a local mysqld."""
        self._conn = self._connect()
        rows = self._query("SELECT @@max_connections, @@pid_file")
        self._max, pid_file = int(rows[0][0]), str(rows[0][1] or "")
        self._rates.forget()
        self._meter = _proc.CpuMeter()
        self._mysqld = self._find_mysqld(pid_file) if self._cpu_wanted else None

    def _find_mysqld(self, pid_file: str) -> psutil.Process | None:
        """The server's process here, from its pid file, if it started when the server
        says it did (a pid file of another local server, e.g. beside a container, is not
        taken for it)."""
        proc = _proc.process_from_pid_file(pid_file)
        uptime = dict(self._query("SHOW GLOBAL STATUS LIKE 'Uptime'")).get("Uptime", "")
        with contextlib.suppress(psutil.Error, ValueError, TypeError):
            if proc is not None and abs(time.time() - float(uptime) - proc.create_time()) < 3:
                return proc
        note = f"server CPU not measured: no process on this host matches {pid_file!r}"
        self._events.append(ObserverEvent(0.0, "observer_note", note))
        return None

    def sample(self, t_s: float) -> list[Sample]:
        """Read global status on the kept connection; add CPU when local."""
        status = {str(k): float(v) for k, v in self._query(_STATUS)}
        cap = float(self._max) if self._max else None
        out = [Sample(t_s, f"{self.tier}.connections.max", float(self._max), "count")]
        for var, name in _GAUGES.items():
            if var in status:
                unit_cap = cap if name.startswith("connections.") else None
                out.append(Sample(t_s, f"{self.tier}.{name}", status[var], "count", unit_cap))
        for var, name in _COUNTERS.items():
            rate = self._rates.rate(name, status[var], t_s) if var in status else None
            if rate is not None:
                out.append(Sample(t_s, f"{self.tier}.{name}", round(rate, 3), "per_s"))
        if self._mysqld is not None:
            procs = _proc.tree(self._mysqld)
            pct = self._meter.percent(procs, time.monotonic())
            out.extend(_proc.cpu_samples(self.tier, pct, _proc.cores_of(procs[:1]), t_s))
        return out

    def _connect(self) -> Any:
        """Connect; a refusal raises SampleFault carrying `connect.refused` = 1."""
        timeout = max(1, round(self._timeout_s))
        try:
            return pymysql.connect(
                **self._params,
                connect_timeout=timeout,
                read_timeout=timeout,
                write_timeout=timeout,
                autocommit=True,
            )
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
            message = str(exc.args[1] if len(exc.args) > 1 else exc)
            if code in _REFUSED_CODES:
                refused = Sample(0.0, f"{self.tier}.connect.refused", 1.0, "count")
                raise SampleFault(
                    f"connection refused ({code}): {message}", samples=(refused,)
                ) from None
            raise ObserverError(f"cannot connect ({code}): {message}") from None

    def _query(self, sql: str) -> list[tuple[Any, ...]]:
        if self._conn is None:
            raise ObserverError("monitoring connection is closed")
        try:
            with self._conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        except pymysql.MySQLError as exc:
            raise ObserverError(f"query failed: {exc}") from None


def _params(entry: MysqlSettings) -> dict[str, Any]:
    params: dict[str, Any] = {"user": entry.user}
    if entry.unix_socket:
        params["unix_socket"] = entry.unix_socket
    else:
        params["host"], params["port"] = entry.host, entry.port
    if entry.password is not None:
        params["password"] = entry.password
    if entry.database:
        params["database"] = entry.database
    return params


def create(entry: MysqlSettings) -> MysqlObserver:
    """Return a MySQL/MariaDB observer for one `observe:` entry."""
    params = _params(entry)
    local_socket = "unix_socket" in params
    return MysqlObserver(
        entry.as_ or entry.kind,
        entry.interval,
        params,
        entry.timeout,
        (True if local_socket else None) if entry.cpu == "auto" else entry.cpu,
    )


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """A mysql entry has no problem its model (observe.settings) does not catch."""
    return []
