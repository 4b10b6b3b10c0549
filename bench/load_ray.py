"""Ray actors vs local workers: start-up cost, CPU per request, and scaling from 1 to N.

A local Ray cluster of N nodes (Ray's cluster utilities: separate raylets on this machine,
one CPU and an 80 MB object store each) and nginx (a tiny 200) pinned to core 0. For each
engine and generator count the same open-model plan runs; printed per row: start-up (wall
time from the call to second 0: workers spawned or actors placed, clocks measured),
achieved vs offered rate, p99 send lag, the engines' CPU per completed request and the
merged p99 latency, from 1 to N generators at a fixed rate per generator (node i offers the
resources upto<k> for every k > i, so `resource="upto<k>"` places k actors on k nodes).
On one 2-core machine the nodes share cores, so the scaling shows the engine's overhead,
not the capacity of N real machines (see docs/distributed.md).

    python bench/load_ray.py [--nodes 3] [--rate 2000] [--duration 6]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from load_common import load_average, start_nginx

from loadtrial.load import histogram as hdr
from loadtrial.load import run_load, summarize
from loadtrial.load.distributed import import_ray, run_load_ray
from loadtrial.load.model import LoadPlan, LoadResult, OpenModel, RequestSpec, Stage

STORE_BYTES = 80 * 1024 * 1024


def plan_for(url: str, rate: float, seconds: float, workers: int) -> LoadPlan:
    model = OpenModel((Stage(seconds, rate),))
    return LoadPlan((RequestSpec("r", "GET", url),), model, connections=200, workers=workers)


def row(name: str, n: int, result: LoadResult, startup_s: float, rate: float) -> str:
    """One printed line of figures of a run."""
    s = summarize(result)
    lag = hdr.merge(i.send_lag_hist for i in result.intervals)
    cpu_s = sum(i.cpu_percent for i in result.intervals) / 100.0
    per_req = cpu_s / max(s["completed"], 1) * 1e6
    p99_lag = hdr.quantiles_us(lag, [99.0])[99.0] / 1000
    return (
        f"{name:<7}{n:>4}{startup_s:>10.2f}{rate:>10.0f}{s['achieved_rate_per_s']:>11.1f}"
        f"{p99_lag:>10.2f}{per_req:>10.1f}{s['latency_ms']['p99']:>9.2f}  "
        + ("valid" if s["valid"] else "INVALID: " + "; ".join(s["invalid_reasons"])[:80])
    )


def timed(fn: Any, plan: LoadPlan, **kw: Any) -> tuple[LoadResult, float]:
    """Run fn(plan); return the result and the wall time from the call to second 0."""
    called = time.monotonic()
    result: LoadResult = fn(plan, **kw)
    return result, result.t0 - called


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--rate", type=float, default=2000.0, help="requests/s per generator")
    parser.add_argument("--duration", type=float, default=6.0)
    args = parser.parse_args()
    ray = import_ray()
    from ray.cluster_utils import Cluster

    nginx = start_nginx(core=0)
    if nginx is None:
        print("load_ray: skipped (nginx not available)")
        return
    started = time.monotonic()
    n = args.nodes
    head = {"num_cpus": 1, "object_store_memory": STORE_BYTES, "include_dashboard": False,
            "resources": _upto(0, n)}  # fmt: skip
    cluster = Cluster(initialize_head=True, head_node_args=head)
    try:
        for i in range(1, n):
            cluster.add_node(num_cpus=1, object_store_memory=STORE_BYTES, resources=_upto(i, n))
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.ERROR)
        print(f"load_ray: {args.nodes}-node cluster up in {time.monotonic() - started:.1f} s; "
              f"load average {load_average()}")  # fmt: skip
        _compare(nginx.url, args, ray)
    finally:
        ray.shutdown()
        cluster.shutdown()
        nginx.stop()
    print(f"load average after: {load_average()}")


def _upto(node: int, nodes: int) -> dict[str, float]:
    """The resources of node i: upto<k> for every k that includes it."""
    return {f"upto{k}": 1.0 for k in range(node + 1, nodes + 1)}


def _compare(url: str, args: argparse.Namespace, ray: Any) -> None:
    head = f"{'engine':<7}{'n':>4}{'start s':>10}{'offered':>10}{'achieved':>11}{'p99 lag':>10}"
    print(head + f"{'µs/req':>10}{'p99 ms':>9}")
    spread = 0.0
    for k in range(1, args.nodes + 1):
        rate = args.rate * k
        local, up = timed(run_load, plan_for(url, rate, args.duration, k), processes=True)
        print(row("local", k, local, up, rate))
        result, up = timed(run_load_ray, plan_for(url, rate, args.duration, 1), resource=f"upto{k}")
        print(row("ray", len(result.provenance.actors), result, up, rate))
        spread = result.provenance.t0_spread_bound_ms
    print(f"t0 spread over {args.nodes} actors: within ±{spread / 2:.2f} ms (half the best clock "
          "round trip)")  # fmt: skip


if __name__ == "__main__":
    main()
