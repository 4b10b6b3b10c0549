"""Calibration of the demo story: each arm of examples/db-bottleneck.yaml, one run each.

Brings a testbed up, applies each arm through the testbed provider, drives the trial's load
with the load engine, and prints per arm: error rate, p99 and error kinds. Also prints how
long `up`, each apply and `down` took. Run: .venv/bin/python bench/testbed_calibrate.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from loadtrial.env.testbed import create
from loadtrial.load import run_load
from loadtrial.load.histogram import merge, quantiles_us
from loadtrial.spec import load_trial_file, to_load_plan
from loadtrial.testbed import TestbedConfig, down, up


def main() -> None:
    """Run every arm once and print figures."""
    state_path = Path(tempfile.mkdtemp()) / "state.json"
    t = time.monotonic()
    state = up(TestbedConfig(), state_path)
    print(f"up: {time.monotonic() - t:.1f}s")
    try:
        env = {"TESTBED_URL": state.base_url, "TESTBED_STATE": str(state_path)}
        name = os.environ.get("CALIBRATE_FILE", "db-bottleneck.yaml")
        example = Path(__file__).resolve().parents[1] / "examples" / name
        loaded = load_trial_file(example, env=env)
        plan = to_load_plan(loaded.trial)
        provider = create({"state": str(state_path)}, lambda a: None)
        arms = sys.argv[1:] or list(loaded.trial.arms)
        for arm in arms:
            t = time.monotonic()
            record = provider.apply(loaded.trial.arms[arm])
            print(f"{arm}: apply {time.monotonic() - t:.1f}s", flush=True)
            result = run_load(plan)
            secs = [i for i in result.intervals if i.second >= loaded.trial.load.warmup]
            done = sum(i.completed for i in secs)
            errors: dict[str, int] = {}
            for i in secs:
                for k, v in i.errors.items():
                    errors[k] = errors.get(k, 0) + v
            p99 = quantiles_us(merge(i.latency_hist for i in secs if i.latency_hist), [99.0])
            rate = sum(errors.values()) / max(done, 1)
            maxc = provider.snapshot().get("db.max_connections")
            print(f"  completed {done}  error rate {rate:.2%}  p99 {p99[99.0] / 1000:.0f} ms  "
                  f"{errors}  max_connections {maxc}")  # fmt: skip
            for reason in result.invalid_reasons:
                print(f"  INVALID: {reason}")
            provider.revert(record)
    finally:
        t = time.monotonic()
        down(state_path)
        print(f"down: {time.monotonic() - t:.1f}s")


if __name__ == "__main__":
    main()
