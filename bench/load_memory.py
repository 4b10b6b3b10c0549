"""Memory: resident size of the whole generator over a long run at 5,000 req/s.

The generator (the engine and its coordinator, `run_load` in a fresh process; with `--cli`
the whole `loadtrial load` command, which also imports every other area's commands) runs
against nginx; its RSS (workers included) is sampled every few seconds. Goal (issue 2): a
10-minute run stays under 100 MB, flat over time (histograms per second, never
per-request samples). Default is a short run; `--full` runs the 10 minutes.

    python bench/load_memory.py [--duration 60] [--rate 5000] [--full] [--cli]
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from load_common import load_average, start_nginx

ENGINE_ONLY = """
from loadtrial.load import run_load, summarize
from loadtrial.load.model import LoadPlan, OpenModel, RequestSpec, Stage
plan = LoadPlan((RequestSpec("r", "GET", "{url}"),), OpenModel((Stage({seconds}, {rate}),)))
s = summarize(run_load(plan))
assert s["completed"] > 0
"""


def tree_rss_mb(proc: psutil.Process) -> float:
    """Return the resident MB of a process and its children."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=5000.0)
    parser.add_argument("--full", action="store_true", help="the 10-minute run of the issue")
    parser.add_argument("--cli", action="store_true", help="measure `loadtrial load` itself")
    args = parser.parse_args()
    seconds = 600.0 if args.full else args.duration
    nginx = start_nginx(core=0)
    if nginx is None:
        print("load_memory: skipped (nginx not available)")
        return
    print(f"load_memory: load average before: {load_average()}")
    samples: list[tuple[float, float]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            if args.cli:
                cmd = [sys.executable, "-m", "loadtrial.cli", "load", nginx.url, "--rate"]
                cmd += [f"{args.rate:g}", "--duration", f"{seconds:g}s", "--workers", "1"]
                cmd += ["-o", str(Path(tmp) / "s.json")]
            else:
                code = ENGINE_ONLY.format(url=nginx.url, rate=args.rate, seconds=seconds)
                cmd = [sys.executable, "-c", code]
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            ps = psutil.Process(proc.pid)
            started = time.monotonic()
            step = max(1.0, seconds / 60)
            while proc.poll() is None and time.monotonic() - started < seconds + 60:
                samples.append((time.monotonic() - started, tree_rss_mb(ps)))
                time.sleep(step)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    finally:
        nginx.stop()
    print("measured: " + ("`loadtrial load` (CLI)" if args.cli else "run_load in a process"))
    _report(samples, args.rate, seconds)


def _report(samples: list[tuple[float, float]], rate: float, seconds: float) -> None:
    steady = [(t, m) for t, m in samples if t >= 5.0] or samples
    half = len(steady) // 2
    first = sum(m for _, m in steady[:half]) / max(half, 1)
    second = sum(m for _, m in steady[half:]) / max(len(steady) - half, 1)
    peak = max(m for _, m in samples)
    print(f"{rate:g} req/s for {seconds:g} s: RSS peak {peak:.1f} MB, "
          f"steady first half {first:.1f} MB, second half {second:.1f} MB "
          f"(growth {second - first:+.1f} MB)")  # fmt: skip
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
