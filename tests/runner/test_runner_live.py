"""The trial's live panel: the ETA counts measured seconds, not the time spent applying."""

from __future__ import annotations

import io
import time

from rich.console import Console

from loadtrial.load.model import IntervalStats
from loadtrial.runner.live import LiveView, RunHeader


def test_eta_counts_down_with_measured_seconds_not_wall_time() -> None:
    out = io.StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=100))
    try:
        view.start_run(RunHeader("slow", 2, index=3, total=4, run_s=4.0, eta_s=4.0))
        time.sleep(1.2)  # an arm being applied, workers starting: no second measured yet
        view.second(IntervalStats(0, offered=40, sent=40, completed=40))
    finally:
        view.close()
    text = out.getvalue()
    assert "second  1/4" in text and "trial ETA  3s" in text, text
