"""Coordinated omission: 200 req/s for 30 s against a target that freezes 2 s every 10 s.

The freezing target (answers in ~1 ms, holds every answer 2 s in each 10 s) runs in its own
process; loadtrial's reported p99 and p99.9 are compared with the analytic values
(arrivals during a freeze wait the rest of it: p99 ≈ 1.90 s, p99.9 ≈ 1.99 s).
Goal (issue 2): reported p99 within 2 % of the analytic value.

    python bench/load_co.py [--duration 30] [--rate 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load_common import load_average

from loadtrial.load import run_load, summarize
from loadtrial.load.analytic import exact_quantile_s, freeze_quantile_s
from loadtrial.load.model import LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.targets import TargetConfig, start_target_process

PERIOD_S, FREEZE_S, OFFSET_S = 10.0, 2.0, 8.0  # freezes at 8-10, 18-20, 28-30 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(f"load_co: load average before: {load_average()}")
    t0 = time.monotonic() + 2.0
    cfg = TargetConfig("freeze", epoch=t0, offset_s=OFFSET_S, period_s=PERIOD_S, freeze_s=FREEZE_S)
    target = start_target_process(cfg)
    try:
        model = OpenModel((Stage(args.duration, args.rate),))
        plan = LoadPlan((RequestSpec("r", "GET", target.url),), model)
        s = summarize(run_load(plan, start_at=t0))
    finally:
        target.stop()
    freezes = []
    start = OFFSET_S
    while start < args.duration:
        freezes.append((start, min(start + FREEZE_S, args.duration)))
        start += PERIOD_S
    print(
        f"{args.rate:g} req/s for {args.duration:g} s, freeze {FREEZE_S:g} s every {PERIOD_S:g} s"
    )
    print(f"{'quantile':<10}{'reported s':>11}{'analytic s':>11}{'closed form':>12}{'error %':>9}"
          f"{'uncorrected s':>14}")  # fmt: skip
    for q, key in ((0.99, "p99"), (0.999, "p999")):
        got = s["latency_ms"][key] / 1000
        exact = exact_quantile_s(q, args.rate, args.duration, freezes)
        closed = freeze_quantile_s(q, PERIOD_S, FREEZE_S)
        unc = s["uncorrected_latency_ms"][key] / 1000
        print(f"{key:<10}{got:>11.3f}{exact:>11.3f}{closed:>12.3f}"
              f"{100 * (got - exact) / exact:>9.2f}{unc:>14.3f}")  # fmt: skip
    print(f"requests {s['completed']}  ok {s['ok']}  late {s['late']}  dropped {s['dropped']}  "
          f"valid {s['valid']} {s['invalid_reasons']}")  # fmt: skip
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
