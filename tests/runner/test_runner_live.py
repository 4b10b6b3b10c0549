"""What the user sees during a trial: the live panel's ETA, and what a missing testbed says."""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console

from loadtrial.load.model import IntervalStats
from loadtrial.runner.live import LiveView, RunHeader
from loadtrial.runner.support import build_observers
from loadtrial.spec import parse_trial_text


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


def test_observe_testbed_without_a_testbed_names_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"  # never written: no testbed is up
    text = (
        "name: t\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
        "load: {stages: [{rate: 1, duration: 1s}]}\nobserve: testbed\n"
        f"env: {{provider: testbed, state: '{state}'}}\n"
    )
    trial = parse_trial_text(text, "t.yaml", env={}, check=False).trial
    faults: list[str] = []
    assert build_observers(trial, faults.append) == []
    assert len(faults) == 1
    assert f"no testbed is up (no state at {state})" in faults[0]
    assert "loadtrial testbed up" in faults[0]  # the hint is kept, not only the message
