"""Generator CPU time per completed request: loadtrial vs wrk, hey and Locust (closed model).

nginx answering a tiny 200 is pinned to core 0, each generator to core 1, 50 keep-alive
connections, the same duration for all. The fair figure is CPU time per completed request
(the target's one core caps everyone's raw rate). Missing tools are installed (nginx, wrk,
hey with apt-get; Locust with pip into a throwaway venv under /tmp); a tool that cannot be
had is reported as skipped. Prints one table with ratios against wrk.

    python bench/load_peers.py [--duration 15] [--skip-locust]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load_common import ensure_apt, load_average, pin, run_measured, start_nginx

CONNECTIONS = 50
LOCUST_VENV = Path("/tmp/lt-locust-venv")
LOCUSTFILE = """
from locust import FastHttpUser, constant, task

class Tiny(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self):
        self.client.get("/")
"""


def bench_wrk(url: str, seconds: int) -> tuple[int, float] | None:
    wrk = ensure_apt("wrk", "wrk")
    if wrk is None:
        return None
    cmd = [*pin(1), wrk, "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", url]
    out, cpu = run_measured(cmd, seconds + 30)
    return int(re.search(r"(\d+) requests in", out).group(1)), cpu  # type: ignore[union-attr]


def bench_hey(url: str, seconds: int) -> tuple[int, float] | None:
    hey = ensure_apt("hey", "hey")
    if hey is None:
        return None
    cmd = [*pin(1), hey, "-z", f"{seconds}s", "-c", str(CONNECTIONS), url]
    out, cpu = run_measured(cmd, seconds + 30)
    return sum(int(n) for n in re.findall(r"\[\d+\]\s+(\d+) responses", out)), cpu


def bench_loadtrial(url: str, seconds: int) -> tuple[int, float, float] | None:
    with tempfile.TemporaryDirectory() as tmp:
        out_json = Path(tmp) / "s.json"
        cmd = [*pin(1), sys.executable, "-m", "loadtrial.cli", "load", url]
        cmd += ["--users", str(CONNECTIONS), "--connections", str(CONNECTIONS), "--workers", "1"]
        cmd += ["--duration", f"{seconds}s", "--timeout", "5s", "--json", str(out_json)]
        _, cpu = run_measured(cmd, seconds + 60)
        s = json.loads(out_json.read_text())
    steady = s["seconds"][1:-1]  # engine-thread CPU once running (first/last partial)
    engine_cpu = sum(x["cpu_percent"] for x in steady) / 100.0
    engine_reqs = sum(x["completed"] for x in steady)
    return s["requests"], cpu, engine_cpu / max(engine_reqs, 1) * 1e6


def bench_locust(url: str, seconds: int) -> tuple[int, float] | None:
    locust = LOCUST_VENV / "bin" / "locust"
    if not locust.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LOCUST_VENV)], check=False)
        pip = [str(LOCUST_VENV / "bin" / "pip"), "install", "-q", "locust"]
        subprocess.run(pip, check=False)
    if not locust.exists():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        lf = Path(tmp) / "locustfile.py"
        lf.write_text(LOCUSTFILE)
        cmd = [*pin(1), str(locust), "-f", str(lf), "--headless", "-u", str(CONNECTIONS)]
        cmd += ["-r", str(CONNECTIONS), "-t", f"{seconds}s", "-H", url.rstrip("/")]
        cmd += ["--only-summary", "--csv", str(Path(tmp) / "r"), "--loglevel", "ERROR"]
        _, cpu = run_measured(cmd, seconds + 60)
        rows = (Path(tmp) / "r_stats.csv").read_text().splitlines()
    header = rows[0].split(",")
    agg = next(r for r in rows if ",Aggregated," in r).split(",")
    return int(agg[header.index("Request Count")]), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per generator")
    parser.add_argument("--skip-locust", action="store_true")
    args = parser.parse_args()
    nginx = start_nginx(core=0)
    if nginx is None:
        print("load_peers: skipped (nginx not available)")
        return
    rows: list[tuple[str, int, float, str]] = []
    try:
        print(f"load_peers: load average before: {load_average()}", flush=True)
        for name, fn in (("wrk", bench_wrk), ("hey", bench_hey), ("loadtrial", bench_loadtrial)):
            got = fn(nginx.url, args.duration)
            if got is None:
                print(f"  {name}: skipped (not installable)")
                continue
            rows.append((name, got[0], got[1], "whole process"))
            if len(got) > 2:  # loadtrial: the engine's own steady-state figure beside it
                steady_cpu = got[2] * got[0] / 1e6
                rows.append(("loadtrial steady", got[0], steady_cpu, "engine thread, running"))
        if not args.skip_locust:
            got = bench_locust(nginx.url, args.duration)
            if got is not None:
                rows.append(("locust-fasthttp", got[0], got[1], "whole process"))
    finally:
        nginx.stop()
    _print(rows, args.duration)


def _print(rows: list[tuple[str, int, float, str]], seconds: int) -> None:
    wrk = next((cpu / n * 1e6 for name, n, cpu, _ in rows if name == "wrk" and n), None)
    print(
        f"\nclosed model, {CONNECTIONS} connections, {seconds} s, nginx on core 0, tool on core 1"
    )
    print(f"{'generator':<16}{'requests':>10}{'req/s':>10}{'CPU s':>8}{'µs/req':>9}{'× wrk':>8}")
    for name, n, cpu, note in rows:
        per = cpu / n * 1e6 if n else float("nan")
        ratio = f"{per / wrk:.2f}" if wrk else "-"
        print(f"{name:<16}{n:>10}{n / seconds:>10.0f}{cpu:>8.2f}{per:>9.1f}{ratio:>8}  {note}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
