"""What the results store costs: add_interval, add_samples and load_trial on SQLite.

Writes a synthetic trial (from `tests/report/report_synth.py`: 9 runs × 60 s, per-second
HDR histograms) into a fresh store in a temporary folder, as the runner does while a run
goes on: one `add_interval` per second, one `add_samples` per sampler tick carrying
`--series` samples. Then reads it back with `load_trial`. Prints per-call figures and
the file size.

    python bench/store_speed.py [--series 30] [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from loadtrial.observe.model import Sample
from loadtrial.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))
import report_synth as synthetic  # the report tests' fixture: a trial with known answers


def _ticks(series: int, seconds: int) -> list[list[Sample]]:
    """One list of samples per second: `series` metrics, half of them with a capacity."""
    return [
        [
            Sample(k + 0.5, f"tier{j % 3}.metric{j}.value", float(k + j), "count",
                   100.0 if j % 2 else None)
            for j in range(series)
        ]
        for k in range(seconds)
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=60)
    args, _ = parser.parse_known_args()  # run_all.py may pass other scripts' flags
    sc = synthetic.Scenario(repeat=3, seconds=args.seconds)
    data = synthetic.make_data(sc)
    ticks = _ticks(args.series, args.seconds)
    interval_s = samples_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.db"
        with Store(path) as store:
            trial_id = store.create_trial(name="bench")
            for run in data.runs:
                run_id = store.create_run(
                    trial_id, arm=run.info.arm, repetition=run.info.repetition,
                    order_index=run.info.order_index, params={},
                )  # fmt: skip
                started = time.perf_counter()
                for stats in run.seconds:
                    store.add_interval(run_id, stats)
                interval_s += time.perf_counter() - started
                started = time.perf_counter()
                for tick in ticks:
                    store.add_samples(run_id, tick)
                samples_s += time.perf_counter() - started
            started = time.perf_counter()
            loaded = store.load_trial(trial_id)
            load_s = time.perf_counter() - started
        size_kb = path.stat().st_size / 1024
    n_runs = len(data.runs)
    n_intervals = n_runs * args.seconds
    n_samples = n_runs * args.seconds * args.series
    print(
        f"store_speed: add_interval {interval_s / n_intervals * 1e3:.2f} ms/call "
        f"({n_intervals} calls); add_samples {samples_s / (n_runs * args.seconds) * 1e3:.2f} "
        f"ms/call of {args.series} samples ({samples_s / n_samples * 1e6:.0f} µs/sample); "
        f"load_trial {load_s * 1e3:.0f} ms for {len(loaded.runs)} runs; file {size_kb:.0f} KiB"
    )


if __name__ == "__main__":
    main()
