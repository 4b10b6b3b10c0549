"""How fast is the built-in balancer? Closed-model load on `/` straight to one app node and
through the balancer (2 nodes), on this machine, as it is loaded right now.

Prints requests/s and latency for both paths, so "the lb is not the bottleneck at the demo's
rate (60 req/s)" is a figure, not a belief. Run: .venv/bin/python bench/testbed_lb.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from loadtrial.load import run_load, summarize
from loadtrial.load.model import ClosedModel, LoadPlan, RequestSpec
from loadtrial.testbed import TestbedConfig, down, up


def measure(url: str, users: int = 16, duration_s: float = 8.0) -> dict[str, object]:
    """Run `users` closed-loop users against `url` for `duration_s`; return the summary."""
    plan = LoadPlan(
        requests=(RequestSpec(name="home", method="GET", url=url),),
        model=ClosedModel(users=users, duration_s=duration_s),
        connections=users,
    )
    return summarize(run_load(plan))


def main() -> None:
    """Start a testbed, measure both paths, tear it down."""
    state_path = Path(tempfile.mkdtemp()) / "state.json"
    state = up(TestbedConfig(), state_path)
    try:
        paths = {
            "direct to app-1": f"http://127.0.0.1:{state.apps[0].port}/",
            "through the lb ": f"{state.base_url}/",
        }
        for label, url in paths.items():
            s = measure(url)
            lat = s["latency_ms"]
            assert isinstance(lat, dict)
            print(
                f"{label}: {s['achieved_rate_per_s']:8.0f} req/s  p50 {lat.get('p50')} ms  "
                f"p99 {lat.get('p99')} ms  errors {s['errors']}  valid {s['valid']}"
            )
    finally:
        down(state_path)


if __name__ == "__main__":
    main()
