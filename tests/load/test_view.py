"""The live line of `loadtrial load`: elapsed/remaining, and the drain second after the end."""

from __future__ import annotations

import io

from rich.console import Console

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats, LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.load.view import LiveView


def _view() -> LiveView:
    plan = LoadPlan((RequestSpec("r", "GET", "http://127.0.0.1:1/"),), OpenModel((Stage(3.0, 10),)))
    return LiveView(plan, Console(file=io.StringIO()), enabled=False)


def _second(k: int, offered: int, completed: int) -> IntervalStats:
    hist = hdr.encode(hdr.from_values_us([2_000.0] * completed)) if completed else b""
    return IntervalStats(k, offered=offered, sent=offered, completed=completed, latency_hist=hist)


def test_live_line_counts_down_then_names_the_drain_second() -> None:
    view = _view()
    assert view.render(_second(0, 10, 10)).plain.startswith("1s (2s left)  10/s of 10 offered")
    assert view.render(_second(2, 10, 10)).plain.startswith("3s (0s left)")
    drain = view.render(_second(3, 0, 2)).plain  # answers to the last sends
    assert drain.startswith("3s (schedule done, last answers)") and "4s" not in drain
