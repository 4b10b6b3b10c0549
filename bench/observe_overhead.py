"""Benchmark: the sampler's own CPU with every local observer on, at a 1 s interval.

Starts an embedded PostgreSQL (pgserver), uses MariaDB at 127.0.0.1:3306 when reachable,
serves a 764-series Prometheus page (364 selected) and a JSON status from a child
`http.server`, then samples postgres, mysql, host, process, prometheus and http-json for
`--seconds` (30) and prints the CPU time of the sampler's threads (tick thread + one
worker per observer) over wall time, as % of one core. Target: under 2 %.

    .venv/bin/python bench/observe_overhead.py [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pymysql

from loadtrial.observe import make_observer
from loadtrial.observe.model import Observer, Sample
from loadtrial.observe.sampler import Sampler


def _exporter(root: Path) -> tuple[subprocess.Popen[str], str]:
    """Serve a node-exporter-sized page and a JSON status from a child process."""
    lines = ["# TYPE node_cpu_seconds_total counter"]
    for cpu in range(8):
        for mode in ("user", "system", "idle", "iowait", "irq", "softirq", "steal", "nice"):
            lines.append(f'node_cpu_seconds_total{{cpu="{cpu}",mode="{mode}"}} {cpu * 100.5}')
    lines += [f'http_requests_total{{path="/p{i}",code="{200 + i % 4}"}} {i}' for i in range(300)]
    lines += [f'go_gc_pause_seconds{{quantile="{i}"}} {i}' for i in range(400)]  # not selected
    (root / "metrics").write_text("\n".join(lines) + "\n")
    (root / "status.json").write_text(json.dumps({"pool": {"active": 3, "size": 20}}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
            str(root),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    port = proc.stdout.readline().split(" port ")[1].split()[0]
    return proc, f"http://127.0.0.1:{port}"


def _observers(pg_dsn: str, pgdata: Path, base: str) -> list[Observer]:
    entries: list[dict[str, Any]] = [
        {"kind": "postgres", "dsn": pg_dsn, "as": "db"},
        {"kind": "host"},
        {"kind": "process", "pid_file": str(pgdata / "postmaster.pid"), "as": "pg-procs"},
        {
            "kind": "prometheus",
            "url": f"{base}/metrics",
            "as": "app",
            "metrics": ["node_cpu_seconds_total", {"name": "http_requests_total", "by": "code"}],
        },
        {
            "kind": "http-json",
            "url": f"{base}/status.json",
            "as": "pool",
            "fields": [{"path": "pool.active", "capacity_path": "pool.size"}],
        },
    ]
    try:
        pymysql.connect(host="127.0.0.1", user="root", password="", connect_timeout=2).close()
        entries.append({"kind": "mysql", "host": "127.0.0.1", "user": "root", "as": "mdb"})
    except pymysql.MySQLError:
        print("mysql: not reachable at 127.0.0.1:3306, left out")
    return [make_observer(e) for e in entries]


def _thread_cpu_s(native_ids: set[int]) -> float:
    """CPU seconds so far of the given threads of this process."""
    return sum(
        t.user_time + t.system_time for t in psutil.Process().threads() if t.id in native_ids
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    from pgserver.postgres_server import get_server

    with tempfile.TemporaryDirectory() as tmp:
        server = get_server(Path(tmp) / "pg", cleanup_mode="stop")
        exporter, base = _exporter(Path(tmp))
        counts = {"samples": 0, "ticks": 0, "events": 0}

        def on_samples(samples: list[Sample]) -> None:
            counts["samples"] += len(samples)
            counts["ticks"] += 1

        def on_event(*_: object) -> None:
            counts["events"] += 1

        try:
            observers = _observers(str(server.get_uri()), Path(tmp) / "pg", base)
            before = {t.ident for t in threading.enumerate()}
            sampler = Sampler(
                observers,
                t0=time.monotonic() + 1.0,
                interval_s=1.0,
                on_samples=on_samples,
                on_event=on_event,
            )
            sampler.start()
            ids = {
                t.native_id
                for t in threading.enumerate()
                if t.ident not in before and t.native_id is not None
            }
            cpu0, proc0, wall0 = _thread_cpu_s(ids), time.process_time(), time.monotonic()
            time.sleep(args.seconds)
            cpu1, proc1, wall1 = _thread_cpu_s(ids), time.process_time(), time.monotonic()
            sampler.stop()
        finally:
            exporter.kill()
            exporter.wait(timeout=5)
            server.cleanup()
    wall = wall1 - wall0
    print(f"observers: {len(observers)}, threads measured: {len(ids)}, wall: {wall:.1f} s")
    print(f"ticks: {counts['ticks']}, samples: {counts['samples']}, events: {counts['events']}")
    print(f"sampler threads CPU: {100 * (cpu1 - cpu0) / wall:.2f} % of one core (target < 2 %)")
    print(f"whole process CPU:   {100 * (proc1 - proc0) / wall:.2f} % of one core")


if __name__ == "__main__":
    main()
