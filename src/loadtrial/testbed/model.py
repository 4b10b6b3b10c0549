"""Data at the testbed's door: the configuration an arm asks for and the state on disk.

In: arm parameters (app_nodes, pool_max, db_max_connections, db_cpus, lb, lb_maxconn,
db_instances, failover_on_resize). Out: `TestbedState`, the JSON state file that names every process
(pid, process group), port and data directory, so `testbed down` can always clean up, even
after the `loadtrial` process that started them was killed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_STATE_PATH = Path(".loadtrial/testbed/state.json")
STATE_VERSION = 1


@dataclass(frozen=True)
class TestbedConfig:
    """What the system under test should look like (one arm's parameters)."""

    __test__ = False  # not a pytest test class

    app_nodes: int = 2
    pool_max: int = 25
    db_max_connections: int = 20
    db_cpus: int = 1
    lb: str = "auto"  # "auto" (haproxy when installed, else builtin) | "builtin" | "haproxy"
    lb_maxconn: int = 0  # requests in flight per app node at the balancer; 0: no limit
    db_instances: int = 1
    failover_on_resize: bool = False

    def with_params(self, params: Mapping[str, Any]) -> TestbedConfig:
        """Return this config with the arm parameters in `params` applied (known keys only)."""
        known = {f.name: f.type for f in fields(self)}
        update: dict[str, Any] = {}
        for key, value in params.items():
            if key not in known:
                continue
            current = getattr(self, key)
            update[key] = type(current)(value)
        return replace(self, **update)


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(TestbedConfig))


@dataclass(frozen=True)
class Proc:
    """One started process: enough to find it again and end it with its children."""

    name: str  # "db-1", "app-2", "lb", "writer-endpoint"
    pid: int
    pgid: int
    port: int
    log: str = ""


@dataclass(frozen=True)
class DbInstance:
    """One embedded PostgreSQL server and the size it was started with."""

    proc: Proc
    datadir: str
    max_connections: int
    cpus: int


@dataclass(frozen=True)
class TestbedState:
    """Everything running, as written to the state file."""

    __test__ = False

    root: str  # directory holding data dirs, logs and the lb's backend list
    config: TestbedConfig
    dbs: tuple[DbInstance, ...] = ()
    writer: str = ""  # name of the db instance the writer endpoint reaches
    endpoint: Proc | None = None  # the writer endpoint (TCP proxy), when db_instances > 1
    apps: tuple[Proc, ...] = ()
    lb: Proc | None = None
    lb_kind: str = ""
    lb_stats_port: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    def db(self, name: str) -> DbInstance:
        """Return the db instance called `name` (KeyError when absent)."""
        for inst in self.dbs:
            if inst.proc.name == name:
                return inst
        raise KeyError(name)

    @property
    def writer_port(self) -> int:
        """The port apps connect to for the writer (the endpoint when there is one)."""
        if self.endpoint is not None:
            return self.endpoint.port
        return self.db(self.writer).proc.port if self.dbs else 0

    @property
    def base_url(self) -> str:
        """The URL of the load balancer, the testbed's front door."""
        return f"http://127.0.0.1:{self.lb.port}" if self.lb else ""

    def all_procs(self) -> list[Proc]:
        """Every process, front to back (the order `down` stops them in)."""
        procs: list[Proc] = [self.lb] if self.lb else []
        procs += list(self.apps)
        procs += [self.endpoint] if self.endpoint else []
        procs += [d.proc for d in self.dbs]
        return procs


def dsn(port: int, dbname: str = "testbed", user: str = "postgres") -> str:
    """Return the libpq DSN of a testbed database on 127.0.0.1:`port`.

    Apps connect as the unprivileged `app` role; loadtrial's own snapshots and observers
    as `postgres`, which may use the 3 superuser-reserved slots when the apps took the rest
    (as an RDS admin can), so the facts stay readable while the db refuses the apps.
    """
    return f"postgresql://{user}@127.0.0.1:{port}/{dbname}"


def _proc(d: Mapping[str, Any] | None) -> Proc | None:
    return Proc(**d) if d else None


def state_from_json(data: Mapping[str, Any]) -> TestbedState:
    """Rebuild a TestbedState from its JSON form (as written by `save_state`)."""
    dbs = tuple(
        DbInstance(
            proc=Proc(**d["proc"]),
            datadir=d["datadir"],
            max_connections=d["max_connections"],
            cpus=d["cpus"],
        )
        for d in data.get("dbs", ())
    )
    return TestbedState(
        root=data["root"],
        config=TestbedConfig(**data.get("config", {})),
        dbs=dbs,
        writer=data.get("writer", ""),
        endpoint=_proc(data.get("endpoint")),
        apps=tuple(Proc(**a) for a in data.get("apps", ())),
        lb=_proc(data.get("lb")),
        lb_kind=data.get("lb_kind", ""),
        lb_stats_port=data.get("lb_stats_port", 0),
        extra=data.get("extra", {}),
    )


def save_state(state: TestbedState, path: Path) -> None:
    """Write `state` atomically (a crash leaves the old or the new file, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"version": STATE_VERSION, **asdict(state)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=2, sort_keys=True))
    os.replace(tmp, path)


def load_state(path: Path) -> TestbedState | None:
    """Return the state in `path`, or None when there is no state file."""
    if not path.exists():
        return None
    return state_from_json(json.loads(path.read_text()))
