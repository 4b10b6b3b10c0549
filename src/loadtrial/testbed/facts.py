"""What the running testbed really is: facts read back from it, and observers for it.

In: a `TestbedState`. Out: a flat snapshot (`db.writer`, `db.max_connections`, `app.nodes`,
`lb.kind`, ... as strings), read from the live processes (SHOW through the writer endpoint,
CPU affinity, health answers), never copied from the requested config; and the `observe:`
entries a trial gets when it says `observe: testbed`.
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.error
import urllib.request
from typing import Any

import psutil
import psycopg

from loadtrial.testbed import db, lb_haproxy
from loadtrial.testbed.model import TestbedState, dsn
from loadtrial.testbed.procs import alive

_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def http_get(url: str, timeout_s: float = 2.0) -> tuple[int, str]:
    """GET `url` on loopback; return (status, text), status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (OSError, ValueError):
        return 0, ""


def prometheus_values(text: str) -> dict[str, float]:
    """Parse Prometheus text into {name or name{labels}: value}."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        match = _METRIC.match(line.strip())
        if match:
            with contextlib.suppress(ValueError):
                values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


def lb_metrics(state: TestbedState) -> dict[str, float]:
    """The balancer's own counters (empty when it does not answer)."""
    if not state.lb_stats_port:
        return {}
    path = lb_haproxy.METRICS_PATH if state.lb_kind == "haproxy" else "/metrics"
    status, text = http_get(f"http://127.0.0.1:{state.lb_stats_port}{path}", 1.0)
    if status != 200:
        return {}
    values = prometheus_values(text)
    return lb_haproxy.normalized(values) if state.lb_kind == "haproxy" else values


def _writer_facts(state: TestbedState) -> dict[str, str]:
    """Ask the writer endpoint which data directory (instance) it reaches, and its size."""
    facts: dict[str, str] = {}
    try:
        with psycopg.connect(dsn(state.writer_port), connect_timeout=5) as conn:
            datadir = str(conn.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
            maxc = str(conn.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
    except psycopg.Error as exc:
        return {"db.writer": f"unreachable: {str(exc).strip()[:80]}"}
    by_dir = {os.path.realpath(d.datadir): d for d in state.dbs}
    inst = by_dir.get(os.path.realpath(datadir))
    facts["db.writer"] = inst.proc.name if inst else datadir
    facts["db.max_connections"] = maxc
    if inst is not None:
        with contextlib.suppress(psutil.Error):
            facts["db.cpus"] = str(len(psutil.Process(inst.proc.pid).cpu_affinity() or []))
    return facts


def _app_facts(state: TestbedState) -> dict[str, str]:
    """Count live app nodes (answering /health) and read their pool size back."""
    live, pool_max = 0, set()
    for app in state.apps:
        status, _ = http_get(f"http://127.0.0.1:{app.port}/health", 1.0)
        live += status == 200
        status, text = http_get(f"http://127.0.0.1:{app.port}/metrics", 1.0)
        for key, value in prometheus_values(text).items():
            if key.startswith("testbed_app_pool_max"):
                pool_max.add(int(value))
    return {"app.nodes": str(live), "app.pool_max": ",".join(str(v) for v in sorted(pool_max))}


def snapshot(state: TestbedState) -> dict[str, str]:
    """Return the facts in force now, read back from the running testbed."""
    facts: dict[str, str] = {"db.instances": str(sum(alive(d.proc.pid) for d in state.dbs))}
    facts.update(_writer_facts(state))
    for inst in state.dbs:
        for key, value in db.read_facts(inst).items():
            facts[f"db.{inst.proc.name}.{key}"] = value
        role = "writer" if facts.get("db.writer") == inst.proc.name else "reader"
        facts[f"db.{inst.proc.name}.role"] = role
    facts.update(_app_facts(state))
    metrics = lb_metrics(state)
    facts["lb.kind"] = state.lb_kind if metrics else f"{state.lb_kind} (not answering)"
    facts["lb.maxconn"] = str(int(metrics.get("testbed_lb_maxconn", 0)))
    facts["host.cpus"] = str(os.cpu_count() or 1)
    return facts


LB_METRICS: tuple[dict[str, Any], ...] = (
    {"name": "testbed_lb_requests_total", "as": "requests"},
    {"name": "testbed_lb_5xx_total", "as": "errors_5xx"},
    {"name": "testbed_lb_active_connections", "as": "connections.active"},
    {"name": "testbed_lb_backends_healthy", "as": "backends.healthy",
     "capacity": "testbed_lb_backends"},
    {"name": "testbed_lb_backend_inflight", "as": "backend.connections",
     "capacity": "testbed_lb_backend_limit"},
    {"name": "testbed_lb_queue_depth", "as": "queue.depth"},
)  # fmt: skip


def observe_entries_for(state: TestbedState) -> list[dict[str, Any]]:
    """The observe entries for the testbed's tiers: db, app, lb and host.

    App nodes are found by command line (our module and this testbed's root), anew every
    tick, so nodes an arm adds or restarts are followed.
    """
    app_cmdline = r"loadtrial\.testbed\.app .*--tag " + re.escape(state.root)
    entries: list[dict[str, Any]] = [
        {"kind": "postgres", "as": "db", "dsn": dsn(state.writer_port)},
        # one node is one uvicorn process: it saturates at one core (cpu.busiest_util)
        {
            "kind": "process",
            "as": "app",
            "cmdline": app_cmdline,
            "children": True,
            "process_cores": 1,
        },
        {"kind": "host", "as": "host"},
    ]
    if state.lb_stats_port:
        haproxy = state.lb_kind == "haproxy"
        path = lb_haproxy.METRICS_PATH if haproxy else "/metrics"
        url = f"http://127.0.0.1:{state.lb_stats_port}{path}"
        metrics = lb_haproxy.METRICS if haproxy else LB_METRICS
        entries.insert(2, {"kind": "prometheus", "as": "lb", "url": url,
                           "metrics": [dict(m) for m in metrics]})  # fmt: skip
    return entries
