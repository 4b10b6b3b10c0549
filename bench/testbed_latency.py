"""Is the testbed far faster than what it measures? Latency of `GET /` at a fixed rate.

Prints p50/p99 (ms, corrected from the intended send time) of loadtrial's open-model load
at 100 and 1000 req/s for: nginx direct (the peer: a C server answering from memory), one
app node direct, and through the balancer (built-in and HAProxy). Then the same paths under
`wrk -t1 -c10` (closed loop, as fast as they go) as a reference instrument, so a latency
figure is never only our own generator's word.

Target: app node p50 < 2 ms at 100 req/s. Before TCP_NODELAY the app node took ~44 ms
(Nagle meeting delayed ACKs on keep-alive connections).

nginx, wrk and haproxy are optional: a missing one is skipped with a message saying how to
install it (`apt-get install nginx wrk haproxy`). Loopback only; every run is bounded.
Run: .venv/bin/python bench/testbed_latency.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from loadtrial.load import run_load, summarize
from loadtrial.load.model import LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.testbed import TestbedConfig, apply_config, down, lb_haproxy, load_state, up
from loadtrial.testbed.procs import free_port, spawn, stop_proc, wait_port

RATES = (100, 1000)
NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {root};
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "<html><body><h1>testbed shop</h1></body></html>"; }}
    }}
}}
"""


def at_rate(url: str, rate: int, seconds: float) -> str:
    """Open-model load on `url` at `rate` req/s for `seconds`; return one result line."""
    plan = LoadPlan(
        requests=(RequestSpec(name="home", method="GET", url=url),),
        model=OpenModel(stages=(Stage(duration_s=seconds, rate_per_s=float(rate)),)),
        connections=64,
        timeout_s=5.0,
    )
    s = summarize(run_load(plan))
    lat = s["latency_ms"]
    assert isinstance(lat, dict)
    errors = sum(s["errors"].values()) if isinstance(s["errors"], dict) else s["errors"]
    valid = "" if s["valid"] else "  INVALID (generator-limited)"
    return (
        f"{rate:5d}/s  p50 {lat.get('p50', float('nan')):7.2f} ms  "
        f"p99 {lat.get('p99', float('nan')):7.2f} ms  errors {errors}{valid}"
    )


def wrk_line(url: str, seconds: float) -> str:
    """`wrk -t1 -c10 --latency` on `url`: req/s, p50, p99 as wrk reports them."""
    out = subprocess.run(
        ["wrk", "-t1", "-c10", f"-d{max(1, int(seconds))}s", "--latency", url],
        capture_output=True, text=True, timeout=seconds + 30, check=False,
    ).stdout  # fmt: skip
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    rps = re.search(r"Requests/sec:\s+(\S+)", out)
    if not (p50 and p99 and rps):
        return f"wrk gave no figures: {out.strip()[-200:]}"
    rate = float(rps.group(1))
    return f"wrk -c10: {rate:8.0f} req/s  p50 {p50.group(1):>8}  p99 {p99.group(1):>8}"


@contextmanager
def nginx() -> Iterator[str | None]:
    """An nginx on a free loopback port answering `GET /` from memory; None if absent."""
    binary = shutil.which("nginx")
    if binary is None:
        print("nginx: not installed, skipped (apt-get install nginx)")
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    port = free_port()
    (root / "nginx.conf").write_text(NGINX_CONF.format(root=root, port=port))
    proc = spawn("nginx", [binary, "-c", str(root / "nginx.conf"), "-p", str(root)],
                 log=root / "out.log", port=port)  # fmt: skip
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop_proc(proc)
        shutil.rmtree(root, ignore_errors=True)


def measure(label: str, url: str, seconds: float) -> None:
    """Print the rate lines and the wrk line for one path."""
    print(f"{label}  {url}")
    at_rate(url, RATES[0], 1.0)  # warm up: connections, pools, caches (not printed)
    for rate in RATES:
        print("   ", at_rate(url, rate, seconds))
    if shutil.which("wrk"):
        print("   ", wrk_line(url, seconds))


def main() -> None:
    """Start a testbed (built-in balancer), measure every path, swap in HAProxy, tear down."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per rate and path")
    seconds = parser.parse_known_args()[0].seconds  # run_all.py passes its extras to all
    if not shutil.which("wrk"):
        print("wrk: not installed, the reference column is skipped (apt-get install wrk)")
    with nginx() as url:
        if url is not None:
            measure("nginx direct        ", url, seconds)
    state_path = Path(tempfile.mkdtemp(prefix="bench-testbed-")) / "state.json"
    state = up(TestbedConfig(lb="builtin"), state_path)
    try:
        measure("app node direct     ", f"http://127.0.0.1:{state.apps[0].port}/", seconds)
        measure("built-in lb, 2 nodes", f"{state.base_url}/", seconds)
        if lb_haproxy.available():
            state = apply_config(state_path, replace(state.config, lb="haproxy"))
            measure("HAProxy, 2 nodes    ", f"{state.base_url}/", seconds)
        else:
            print("HAProxy: not installed, skipped (apt-get install haproxy)")
    finally:
        down(state_path)
    current = load_state(state_path)
    assert current is None, "the testbed was not torn down"


if __name__ == "__main__":
    main()
