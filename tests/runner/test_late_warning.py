"""A late observer's warning (SampleFault) keeps the samples it carries and says why."""

from __future__ import annotations

from pathlib import Path

from loadtrial.observe.model import Sample, SampleFault
from loadtrial.runner.late import LateWindow, collect_late
from loadtrial.store import Store


class _Partial:
    """A late source that found one series and nothing for another resource."""

    def collect_window(self, start_unix: float, end_unix: float, t0_unix: float) -> list[Sample]:
        found = (Sample(0.0, "cloud.rds.shop-1.cpu", 50.0, "percent", 100.0, 60.0),)
        raise SampleFault("CloudWatch returned no data for alb", "check the name", found)


def test_a_warning_keeps_its_samples_and_is_an_event(tmp_path: Path) -> None:
    notes: list[str] = []
    with Store(tmp_path / "r.db") as store:
        trial = store.create_trial(name="t")
        run = store.create_run(trial, arm="a", repetition=1, order_index=0, params={})
        stored = collect_late(store, [LateWindow(run, _Partial(), 0.0, 60.0, 0.0)], notes.append)
        data = store.load_run(run)
    assert stored == 1 and [s.name for s in data.series] == ["cloud.rds.shop-1.cpu"]
    assert [(e.kind, e.message) for e in data.events] == [
        ("observer_fault", "CloudWatch returned no data for alb (check the name)")
    ]
    assert "warning" in notes[-1]
