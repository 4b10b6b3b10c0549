"""HAProxy as the testbed's balancer, used when it is installed (`lb: haproxy` or `auto`).

In: the app nodes' ports, the traffic and stats ports. Out: a config file in the testbed's
root and a master-worker `haproxy` in its own session; a backend change rewrites the file
and reloads (SIGUSR2 to the master). Round robin, `GET /health` checks every second (2
failures down, 1 success up), 504 after 10 s; HAProxy answers 503 when a node refuses (no
retry) and 502 when one resets mid-response. `lb_maxconn` > 0 sets `maxconn` on every
server: excess requests queue, and after `timeout queue` get a 503. Prometheus text at
`/metrics` on the stats port (HAProxy's own exporter); `normalized` maps it to the
built-in balancer's names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from loadtrial.testbed.model import Proc
from loadtrial.testbed.procs import spawn

CONFIG = """global
    maxconn 4096
    nbthread 1

defaults
    mode http
    retries 0
    option http-keep-alive
    timeout connect 3s
    timeout client 60s
    timeout server {timeout_ms}ms
    timeout http-keep-alive 60s
    timeout queue {queue_ms}ms

frontend web
    bind 127.0.0.1:{port}
    default_backend app

frontend stats
    bind 127.0.0.1:{stats_port}
    http-request use-service prometheus-exporter if {{ path /metrics }}

backend app
    balance roundrobin
    option httpchk GET /health
    default-server check inter 1s fall 2 rise 1{maxconn}
{servers}
"""

# The prometheus observer's selection of HAProxy's metrics, named as the built-in lb's.
METRICS: tuple[dict[str, object], ...] = (
    {"name": "haproxy_frontend_http_requests_total", "labels": {"proxy": "web"},
     "as": "requests"},
    {"name": "haproxy_backend_http_responses_total", "labels": {"proxy": "app", "code": "5xx"},
     "as": "errors_5xx"},
    {"name": "haproxy_frontend_current_sessions", "labels": {"proxy": "web"},
     "as": "connections.active"},
    {"name": "haproxy_backend_active_servers", "labels": {"proxy": "app"},
     "as": "backends.healthy"},
    {"name": "haproxy_server_current_sessions", "labels": {"proxy": "app"},
     "as": "backend.connections", "capacity": "haproxy_server_limit_sessions"},
    {"name": "haproxy_backend_current_queue", "labels": {"proxy": "app"},
     "as": "queue.depth"},
)  # fmt: skip


def available() -> bool:
    """True when an `haproxy` executable is on PATH."""
    return shutil.which("haproxy") is not None


def write_config(
    root: Path,
    port: int,
    stats_port: int,
    app_ports: list[int],
    timeout_s: float,
    maxconn: int = 0,
    queue_timeout_s: float = 1.0,
) -> Path:
    """Write haproxy.cfg for these ports under `root` (`maxconn` per server, 0: none);
    return its path."""
    servers = "\n".join(f"    server app-{i} 127.0.0.1:{p}" for i, p in enumerate(app_ports, 1))
    path = root / "haproxy.cfg"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(CONFIG.format(port=port, stats_port=stats_port, servers=servers,
                                 timeout_ms=int(timeout_s * 1000),
                                 queue_ms=int(queue_timeout_s * 1000),
                                 maxconn=f" maxconn {maxconn}" if maxconn else ""))  # fmt: skip
    tmp.replace(path)
    return path


def start(root: Path, config: Path, port: int) -> Proc:
    """Start HAProxy (master-worker, foreground) on `config` in its own session."""
    haproxy = shutil.which("haproxy") or "haproxy"
    argv = [haproxy, "-W", "-db", "-f", str(config)]
    return spawn("lb", argv, log=root / "lb.log", port=port)


def resolve(kind: str) -> str:
    """The balancer an `lb:` value means here: "auto" is haproxy when installed."""
    if kind == "auto":
        return "haproxy" if available() else "builtin"
    return kind


# The exporter's scopes the observer needs (skips the large global and stick-table parts).
METRICS_PATH = "/metrics?scope=frontend&scope=backend&scope=server"


def normalized(values: dict[str, float]) -> dict[str, float]:
    """Map HAProxy's exporter values to the built-in balancer's metric names."""
    servers = {k for k in values if k.startswith("haproxy_server_status{") and 'proxy="app"' in k}
    names = {k.split('server="', 1)[1].split('"', 1)[0] for k in servers}
    healthy = sum(1 for k in servers if 'state="UP"' in k and values[k] == 1.0)
    out = {"testbed_lb_backends": float(len(names)), "testbed_lb_backends_healthy": float(healthy)}
    limits = [v for k, v in values.items() if k.startswith("haproxy_server_limit_sessions{")
              and 'proxy="app"' in k and v == v]  # fmt: skip  # NaN (no limit) != NaN
    out["testbed_lb_maxconn"] = max(limits, default=0.0)
    for key, value in values.items():
        if key.startswith("haproxy_frontend_http_requests_total{") and 'proxy="web"' in key:
            out["testbed_lb_requests_total"] = value
        backend = key.startswith("haproxy_backend_http_responses_total{") and 'proxy="app"' in key
        if backend and 'code="5xx"' in key:
            out["testbed_lb_5xx_total"] = value
    return out
