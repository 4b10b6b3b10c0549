"""Generator CPU time per completed request: loadtrial vs wrk, hey and Locust (closed model).

nginx answering a tiny 200 is pinned to core 0, each generator to core 1, 50 keep-alive
connections, the same duration for all. The fair figure is CPU time (user + system, of the
whole process, start-up included) per completed request: the target's one core caps
everyone's raw rate. loadtrial runs as a user runs it (`loadtrial load`, HDR recording and
error classification on); its engine's own figure (the engine thread's CPU in the seconds
it was running) is shown beside it.

The machine may be shared, and a generator's CPU per request depends on how busy the target
is (a busy target batches more answers per wake-up), so wrk and loadtrial alternate for
`--rounds` rounds and each round's ratio is taken against the wrk run next to it; the
table shows medians. Missing tools are installed (nginx, wrk, hey with apt-get; Locust with
pip into a throwaway venv under /tmp); a tool that cannot be had is reported as skipped.

    python bench/load_peers.py [--duration 15] [--rounds 3] [--skip-locust] [--skip-hey]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
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
        cmd += ["--duration", f"{seconds}s", "--timeout", "5s", "-o", str(out_json)]
        _, cpu = run_measured(cmd, seconds + 60)
        s = json.loads(out_json.read_text())
    steady = s["seconds"][1:-1]  # engine-thread CPU once running (first/last partial)
    engine_cpu = sum(x["cpu_percent"] for x in steady) / 100.0
    engine_reqs = sum(x["completed"] for x in steady)
    return s["completed"], cpu, engine_cpu / max(engine_reqs, 1) * 1e6


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


Row = tuple[int, float]  # completed requests, CPU seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per generator run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating wrk/loadtrial runs")
    parser.add_argument("--skip-locust", action="store_true")
    parser.add_argument("--skip-hey", action="store_true")
    args = parser.parse_args()
    nginx = start_nginx(core=0)
    if nginx is None:
        print("load_peers: skipped (nginx not available)")
        return
    runs: dict[str, list[Row]] = {}
    try:
        print(f"load_peers: load average before: {load_average()}", flush=True)
        for r in range(args.rounds):
            _round(nginx.url, args.duration, runs)
            print(f"  round {r + 1}: {_ratio_line(runs)}", flush=True)
        others = [] if args.skip_hey else [("hey", bench_hey)]
        others += [] if args.skip_locust else [("locust-fasthttp", bench_locust)]
        for name, fn in others:
            got = fn(nginx.url, args.duration)
            if got is None:
                print(f"  {name}: skipped (not installable)")
            else:
                runs.setdefault(name, []).append(got)
    finally:
        nginx.stop()
    _print(runs, args.duration)


def _round(url: str, seconds: int, runs: dict[str, list[Row]]) -> None:
    """One wrk run, then one loadtrial run (whole process and engine figures)."""
    wrk = bench_wrk(url, seconds)
    if wrk is not None:
        runs.setdefault("wrk", []).append(wrk)
    lt = bench_loadtrial(url, seconds)
    if lt is not None:
        n, cpu, engine_us = lt
        runs.setdefault("loadtrial", []).append((n, cpu))
        runs.setdefault("loadtrial engine", []).append((n, engine_us * n / 1e6))


def _per_req_us(row: Row) -> float:
    return row[1] / row[0] * 1e6 if row[0] else float("nan")


def _ratio_line(runs: dict[str, list[Row]]) -> str:
    """The last round's figures: µs per request and the ratio to wrk."""
    if "wrk" not in runs or "loadtrial" not in runs:
        return "incomplete"
    wrk, lt, eng = (_per_req_us(runs[k][-1]) for k in ("wrk", "loadtrial", "loadtrial engine"))
    return (
        f"wrk {wrk:.2f} µs/req, loadtrial {lt:.2f} ({lt / wrk:.2f}× wrk), "
        f"engine {eng:.2f} ({eng / wrk:.2f}×)"
    )


def _print(runs: dict[str, list[Row]], seconds: int) -> None:
    wrk = [_per_req_us(r) for r in runs.get("wrk", [])]
    print(
        f"\nclosed model, {CONNECTIONS} connections, {seconds} s per run, nginx on core 0, "
        "tool on core 1; medians over the runs"
    )
    head = f"{'generator':<18}{'runs':>5}{'req/s':>10}{'µs/req':>9}{'× wrk':>8}"
    print(head + "  (× wrk: median of each round's ratio to its wrk run)")
    for name, rows in runs.items():
        per = [_per_req_us(r) for r in rows]
        rate = statistics.median(n / seconds for n, _ in rows)
        paired = [p / w for p, w in zip(per, wrk, strict=False)] if name != "wrk" else []
        ratio = statistics.median(paired) if paired and len(per) == len(wrk) else None
        if ratio is None and wrk:
            ratio = statistics.median(per) / statistics.median(wrk)
        shown = f"{ratio:.2f}" if ratio is not None else "-"
        note = "engine thread, while running" if name == "loadtrial engine" else "whole process"
        print(
            f"{name:<18}{len(rows):>5}{rate:>10.0f}{statistics.median(per):>9.2f}{shown:>8}  {note}"
        )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
