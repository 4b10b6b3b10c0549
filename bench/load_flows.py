"""Engine CPU per request: a YAML flow of N steps vs the same N requests in a plain mix.

Both trials are written as a user writes them and go through the spec (validated, converted
to a plan) and one engine worker, in this process, against nginx pinned to core 0. Both
carry the same templating and checks per request: a `{{random_int}}` in every path, a
templated header, and `status` + `body_contains` checks. The flow adds what only flows
have: step 1 extracts a value (regex) that later steps send in a header, per-user state,
and the step-by-step dispatch. Load is open at the same request rate (the flow at rate/N
arrivals per second), so both runs do the same work per second; the figure is the engine
thread's CPU (its per-second `cpu_percent`, the first and last seconds left out) per
completed request, median of `--rounds` alternating rounds. Target: flow ≤ 1.3 × mix. The
same paths with neither templates nor checks (pre-built bytes) are shown for reference,
and the same flow run by an async Python function (bench/bench_pyflow.py).

    python bench/load_flows.py [--steps 4] [--rate 3000] [--duration 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load_common import load_average, start_nginx

from loadtrial.load import run_load, summarize
from loadtrial.spec import parse_trial_text
from loadtrial.spec.convert import to_load_plan

HEAD = """\
name: bench
target: {{base_url: "{url}"}}
load:
  stages: [{{rate: {rate}, duration: {seconds}s}}]
  connections: 50
  workers: 1
"""
CHECKS = "checks: {status: 200, body_contains: ok}"


def mix_trial(url: str, steps: int, rate: float, seconds: int) -> str:
    """N requests in a weighted mix, each with a template, a templated header, checks."""
    out = HEAD.format(url=url, rate=rate, seconds=seconds) + "  requests:\n"
    for i in range(steps):
        out += (
            f"    - name: r{i}\n      path: /r{i}/{{{{random_int(1, 10000)}}}}\n"
            f'      headers: {{X-Seq: "{{{{seq}}}}"}}\n      {CHECKS}\n'
        )
    return out


def bare_trial(url: str, steps: int, rate: float, seconds: int) -> str:
    """The same N paths without templates or checks (pre-built bytes): for reference."""
    out = HEAD.format(url=url, rate=rate, seconds=seconds) + "  requests:\n"
    return out + "".join(f"    - {{name: r{i}, path: /r{i}/42}}\n" for i in range(steps))


def flow_trial(url: str, steps: int, rate: float, seconds: int) -> str:
    """One flow of N steps: the same requests; step 1 extracts, later steps send it."""
    out = HEAD.format(url=url, rate=rate / steps, seconds=seconds)
    out += "  flows:\n    - name: f\n      steps:\n"
    for i in range(steps):
        header = "{{seq}}" if i == 0 else "{{tok}}"
        out += (
            f"        - name: r{i}\n          path: /r{i}/{{{{random_int(1, 10000)}}}}\n"
            f'          headers: {{X-Seq: "{header}"}}\n          {CHECKS}\n'
        )
        if i == 0:
            out += "          extract: {tok: {regex: '(o)k'}}\n"
    return out


def python_trial(url: str, steps: int, rate: float, seconds: int) -> str:
    """The flow's steps, run by an async Python function (`bench_pyflow:run_steps`)."""
    text = flow_trial(url, steps, rate, seconds)
    return text.replace("    - name: f\n", "    - name: f\n      python: bench_pyflow:run_steps\n")


def cpu_us_per_request(text: str) -> tuple[float, int, dict[str, int]]:
    """Run a trial's load; return (engine CPU µs per completed request, completed, errors)."""
    s = summarize(run_load(to_load_plan(parse_trial_text(text, "bench.yaml", {}).trial)))
    steady = s["seconds"][1:-1]
    cpu_s = sum(x["cpu_percent"] for x in steady) / 100.0
    done = sum(x["completed"] for x in steady)
    return cpu_s / max(done, 1) * 1e6, s["completed"], s["errors"]


def main() -> None:
    """Alternate mix and flow runs; print each round and the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--rate", type=float, default=3000.0, help="requests per second")
    ap.add_argument("--duration", type=int, default=8, help="seconds per run")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    nginx = start_nginx(core=0)
    if nginx is None:
        sys.exit("nginx is needed (apt-get install nginx)")
    try:
        bare: list[float] = []
        mix: list[float] = []
        flow: list[float] = []
        py: list[float] = []
        runs = (
            ("bare", bare_trial, bare),
            ("mix", mix_trial, mix),
            ("flow", flow_trial, flow),
            ("py", python_trial, py),
        )
        for r in range(args.rounds):
            for name, make, sink in runs:
                us, done, errors = cpu_us_per_request(
                    make(nginx.url, args.steps, args.rate, args.duration)
                )
                sink.append(us)
                print(
                    f"round {r + 1} {name:<4}  {us:6.1f} µs/request  {done} done  errors {errors}"
                )
    finally:
        nginx.stop()
    b, m, f = statistics.median(bare), statistics.median(mix), statistics.median(flow)
    p = statistics.median(py)
    print(f"\n{args.steps} steps at {args.rate:.0f} req/s, load {load_average()}")
    print(f"plain mix, no templates/checks: {b:6.1f} µs/request (pre-built bytes)")
    print(f"plain mix (templates + checks): {m:6.1f} µs/request")
    ratio = f"{f / m:.2f}× the mix; target ≤ 1.3×"
    print(f"flow of {args.steps} steps:            {f:6.1f} µs/request  ({ratio})")
    print(f"Python flow, same steps:        {p:6.1f} µs/request  ({p / f:.2f}× the YAML flow)")


if __name__ == "__main__":
    main()
