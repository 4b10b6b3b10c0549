"""The mysql observer against the session's private MariaDB server (tests/conftest.py:
started by the suite on its own port, never the machine's server). The server is shared by
the session, so a test changes no global setting: the connection limit is met through a
throw-away user with MAX_USER_CONNECTIONS 1."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from pydantic import ValidationError
from written import written

from loadtrial.observe import make_observer, observer_problems
from loadtrial.observe.model import Sample, SampleFault
from mariadb_server import MariaDB


@pytest.fixture
def root(mariadb: MariaDB) -> Iterator[Any]:
    """An autocommit connection as the private server's root."""
    conn = pymysql.connect(**mariadb.params(), connect_timeout=10, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def _by_name(samples: list[Sample]) -> dict[str, Sample]:
    return {s.name: s for s in samples}


def test_connections_questions_and_cpu(mariadb: MariaDB, root: Any) -> None:
    obs: Any = make_observer({"kind": "mysql", "as": "db", **mariadb.params()})
    obs.start()
    extra = [pymysql.connect(**mariadb.params(), autocommit=True) for _ in range(5)]
    try:
        obs.sample(0.0)
        with root.cursor() as cur:
            for _ in range(50):
                cur.execute("SELECT 1")
        time.sleep(0.3)
        got = _by_name(obs.sample(0.3))
    finally:
        for conn in extra:
            conn.close()
        obs.stop()
    used = got["db.connections.used"]
    assert used.value >= 7  # monitor + root fixture + 5 (others may use the server too)
    assert used.capacity == got["db.connections.max"].value > 0
    assert got["db.questions.per_s"].value >= 50
    for name in (
        "db.threads.running",
        "db.connections.aborted_per_s",
        "db.connections.refused_max_per_s",
        "db.row_lock.waits_per_s",
    ):
        assert name in got, name
    assert "db.cpu.percent" in got and got["db.cpu.percent"].capacity is not None
    assert obs.drain_events() == []


def test_a_refused_connection_is_a_sample_not_a_crash(mariadb: MariaDB, root: Any) -> None:
    user = f"lt_obs_{uuid.uuid4().hex[:8]}"
    with root.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1")
        cur.execute(
            f"CREATE USER '{user}'@'localhost' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1"
        )
    entry = {
        "kind": "mysql",
        "host": "127.0.0.1",
        "port": mariadb.port,
        "user": user,
        "password": "pw",
        "as": "db",
    }
    first: Any = make_observer(entry)
    second: Any = make_observer(entry)
    try:
        first.start()
        with pytest.raises(SampleFault, match="refused") as fault:
            second.start()
        assert [(s.name, s.value) for s in fault.value.samples] == [("db.connect.refused", 1.0)]
        assert "db.connections.used" in _by_name(first.sample(0.0))
    finally:
        first.stop()
        second.stop()
        with root.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP USER IF EXISTS '{user}'@'localhost'")


def test_server_down_is_refused() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    obs: Any = make_observer({"kind": "mysql", "port": port, "timeout": "1s"})
    with pytest.raises(SampleFault) as fault:
        obs.start()
    assert fault.value.samples[0].name == "mysql.connect.refused"


def test_problems() -> None:
    # the shape is the model's (observe.settings.MysqlSettings), every mistake at once
    with pytest.raises(ValidationError) as info:
        written({"kind": "mysql", "prot": 1, "port": 70000})
    assert {e["loc"][-1] for e in info.value.errors()} == {"prot", "port"}
    assert observer_problems(written({"kind": "mysql", "port": 3307}), "observe[1]") == []
