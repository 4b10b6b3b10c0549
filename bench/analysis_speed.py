"""How long `analyze_trial` takes on a trial of realistic size: 9 runs × 60 s × 30 series.

The trial comes from `tests/report/report_synth.py` (3 arms × 3 repetitions, one arm whose
database saturates, a writer flip); each run gets 27 more metric series (per-instance CPU,
connections ...) beside the synthetic three, so the bottleneck and saturation passes see
30. Prints the best and median of a few repetitions, and the findings count.

    python bench/analysis_speed.py [--repeat 5] [--series 30] [--seconds 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from loadtrial.analysis import analyze_trial
from loadtrial.store.model import Series, TrialData

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))
import report_synth as synthetic  # the report tests' fixture: a trial with known answers


def widen(data: TrialData, series: int, seed: int = 11) -> TrialData:
    """Return `data` with each run's series topped up to `series` (extra app/db metrics)."""
    rng = np.random.default_rng(seed)
    runs = []
    for run in data.runs:
        t = np.arange(len(run.seconds), dtype=np.float64) + 0.5
        extra = tuple(
            Series(f"app{k}.cpu.util", "percent", 100.0, t, rng.uniform(10, 60, len(t)).round(1))
            for k in range(max(0, series - len(run.series)))
        )
        runs.append(replace(run, series=run.series + extra))
    return replace(data, runs=tuple(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--series", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=60)
    args, _ = parser.parse_known_args()  # run_all.py may pass other scripts' flags
    sc = synthetic.Scenario(repeat=3, seconds=args.seconds)
    data = synthetic.make_data(sc)
    data = widen(data, args.series)
    trial = synthetic.make_trial(sc)
    started = time.perf_counter()
    findings = analyze_trial(data, trial)  # first call: lazy imports (scipy) included
    first_s = time.perf_counter() - started
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        analyze_trial(data, trial)
        times.append(time.perf_counter() - started)
    n_series = {len(r.series) for r in data.runs}
    print(
        f"analysis_speed: {len(data.runs)} runs x {args.seconds} s x {max(n_series)} series: "
        f"first call {first_s * 1000:.0f} ms, then best "
        f"{min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
        f"over {args.repeat}; {len(findings)} findings"
    )


if __name__ == "__main__":
    main()
