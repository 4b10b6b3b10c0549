"""Benchmark: render the HTML report of a 3 arms × 3 repetitions × 60 s trial.

Builds the synthetic trial of `tests/report/report_synth.py` (per-second HDR histograms,
three observed series per run, snapshots, events) and its real analysis (timed apart),
then times `write_html` end to end (histogram decoding, pooled figures, document, page,
file write) and prints the time and the file's size (plotly.js packed, the default, and
plain). Targets: under 5 s and under 5 MB.

    .venv/bin/python bench/report_render.py [--arms 3] [--repeat 3] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from loadtrial.report import write_html
from loadtrial.report.page import plotly_js, plotly_js_gzip_base64

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))
import report_synth as synthetic  # the report tests' fixture: a trial with known answers


def main() -> None:
    """Parse flags, render, print figures as text and one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arms", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    names = ("baseline", "more-app-nodes", "bigger-db", "arm-4", "arm-5", "arm-6")
    arms = (
        names[: args.arms]
        if args.arms <= len(names)
        else tuple(f"arm-{i}" for i in range(args.arms))
    )
    sc = synthetic.Scenario(arms=arms, repeat=args.repeat, seconds=args.seconds)
    t = time.perf_counter()
    data, trial, findings = synthetic.scenario(sc)  # the data and its real analysis
    analysis_s = time.perf_counter() - t

    t = time.perf_counter()
    plotly_js_gzip_base64()  # once per process: read the 4.8 MB plotly bundle and pack it
    cold_read_s = time.perf_counter() - t
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            t = time.perf_counter()
            path = write_html(data, trial, findings, Path(tmp) / "report.html")
            times.append(time.perf_counter() - t)
        size = path.stat().st_size
        plain = write_html(data, trial, findings, Path(tmp) / "plain.html", compress_js=False)
        plain_size = plain.stat().st_size
    best, worst = min(times), max(times)
    print(
        f"trial: {args.arms} arms × {args.repeat} reps × {args.seconds} s = {len(data.runs)} runs"
    )
    print(f"render: best {best:.3f} s, worst {worst:.3f} s over {args.rounds} rounds "
          f"(+{cold_read_s:.3f} s to read and pack plotly.js once; target < 5 s)")  # fmt: skip
    mb_js = len(plotly_js()) / 1e6
    print(f"size:   {size / 1e6:.3f} MB ({size} bytes, plotly.js packed; target < 5 MB)")
    print(f"        {plain_size / 1e6:.3f} MB with --plain-js (plotly.js {mb_js:.3f} MB as is)")
    print(f"analysis: {analysis_s:.3f} s with the data's synthesis ({len(findings)} findings)")
    figures = {
        "bench": "report_render",
        "runs": len(data.runs),
        "render_s": round(best, 4),
        "render_worst_s": round(worst, 4),
        "size_bytes": size,
        "plain_js_size_bytes": plain_size,
        "analysis_s": round(analysis_s, 4),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
