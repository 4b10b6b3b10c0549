"""Open-model precision: achieved vs offered rate, p99 send lag and engine CPU at 2k and 20k/s.

nginx (a tiny 200) on core 0, the loadtrial engine (one worker, in-process) on core 1.
Goal (issue 2): achieved within 1 % of offered at 2,000 and 20,000 req/s; at 20,000 req/s
p99 send lag ≤ 1 ms while the engine uses ≤ 50 % of a core.

    python bench/load_open_precision.py [--duration 10] [--rates 2000,20000]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load_common import load_average, start_nginx

from loadtrial.load import histogram as hdr
from loadtrial.load import run_load, summarize
from loadtrial.load.model import LoadPlan, OpenModel, RequestSpec, Stage

CONNECTIONS = 200  # enough that a busy target core does not exhaust the pool


def measure(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Run one constant-rate load; return the precision figures."""
    model = OpenModel((Stage(seconds, rate),))
    plan = LoadPlan((RequestSpec("r", "GET", url),), model, connections=CONNECTIONS)
    result = run_load(plan)
    s = summarize(result)
    steady = result.intervals[1 : int(seconds)]  # skip the first second (connections open)
    lag = hdr.merge(i.send_lag_hist for i in result.intervals)
    return {
        "offered": s["offered_rate_per_s"],
        "achieved": s["achieved_rate_per_s"],
        "completed_per_s": s["completed"] / seconds,
        "p99_lag_ms": hdr.quantiles_us(lag, [99.0])[99.0] / 1000,
        "max_lag_ms": s["generator"]["max_send_lag_ms"],
        "cpu": sum(i.cpu_percent for i in steady) / max(len(steady), 1),
        "p99_ms": s["latency_ms"]["p99"],
        "late": s["late"],
        "dropped": s["dropped"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rates", default="2000,20000")
    args = parser.parse_args()
    nginx = start_nginx(core=0)
    if nginx is None:
        print("load_open_precision: skipped (nginx not available)")
        return
    if (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})
    print(f"load_open_precision: load average before: {load_average()}")
    head = f"{'offered/s':>10}{'achieved/s':>11}{'error %':>8}{'p99 lag ms':>11}"
    print(head + f"{'max lag ms':>11}{'engine CPU %':>13}{'p99 ms':>8}{'late':>7}{'dropped':>8}")
    try:
        for rate in (float(r) for r in args.rates.split(",")):
            m = measure(nginx.url, rate, args.duration)
            err = 100 * (m["achieved"] - rate) / rate
            print(f"{rate:>10.0f}{m['achieved']:>11.1f}{err:>8.2f}{m['p99_lag_ms']:>11.3f}"
                  f"{m['max_lag_ms']:>11.2f}{m['cpu']:>13.1f}{m['p99_ms']:>8.2f}"
                  f"{m['late']:>7.0f}{m['dropped']:>8.0f}")  # fmt: skip
    finally:
        nginx.stop()
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
