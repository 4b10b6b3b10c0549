"""Real trials against a local server whose behaviour the shell provider changes per arm."""

from __future__ import annotations

import io
import itertools
import multiprocessing
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fileserver import FileServer, trial_text
from rich.console import Console

from loadtrial.errors import ExitCode
from loadtrial.load import run_load
from loadtrial.load.model import IntervalStats, LoadResult
from loadtrial.runner import run_trial
from loadtrial.spec import parse_trial_text
from loadtrial.store import Store


def _run(text: str, tmp_path: Path, **kw: Any) -> tuple[Any, Any]:
    loaded = parse_trial_text(text, str(tmp_path / "trial.yaml"), env={})
    kw.setdefault("live", False)
    with Store(tmp_path / "r.db") as store:
        outcome = run_trial(loaded, store=store, **kw)
        data = store.load_trial(outcome.trial_id) if outcome.trial_id else None
    return outcome, data


def test_two_arms_change_the_server_and_everything_is_journalled(
    file_server: FileServer, tmp_path: Path
) -> None:
    outcome, data = _run(trial_text(file_server), tmp_path)
    good, broken = data.runs
    assert [s for _, s in outcome.statuses] == ["complete", "complete"]
    assert data.info.status == "complete" and data.info.file_text.startswith("name: shell-arms")
    assert sum(s.ok for s in good.seconds) >= 15 and not any(s.errors for s in good.seconds)
    assert sum(s.errors.get("http_503", 0) for s in broken.seconds) >= 15
    assert good.snapshots["before"]["server.behaviour"] == "200 0"
    assert broken.snapshots["after"]["server.behaviour"] == "503 0"
    for key in ("loadtrial.version", "host.name", "trial.sha256", "target.ips"):
        assert key in good.snapshots["before"]
    assert good.snapshots["before"]["target.ips"] == "127.0.0.1"
    assert [(a.name.split(":")[0], a.status) for a in broken.actions] == [
        ("apply", "ok"),
        ("revert", "ok"),
    ]
    assert not file_server.behaviour.exists()  # the last revert ran
    assert not any(e.kind == "env_changed" for r in data.runs for e in r.events)


def test_the_load_runs_in_a_worker_process_not_beside_the_observers(
    file_server: FileServer, tmp_path: Path
) -> None:
    """An engine thread in the runner's process waits for the GIL behind the observers'
    threads and falls behind its schedule; the default load runs in its own process."""
    seen: set[str] = set()
    children: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            seen.update(t.name for t in threading.enumerate())
            children.append(len(multiprocessing.active_children()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        outcome, _ = _run(trial_text(file_server), tmp_path)
    finally:
        done.set()
        watcher.join(timeout=5)
    assert [s for _, s in outcome.statuses] == ["complete", "complete"]
    assert "loadtrial-engine" not in seen and max(children) >= 1


def test_interleaved_order_is_what_the_server_sees(file_server: FileServer, tmp_path: Path) -> None:
    _, data = _run(trial_text(file_server, extra="repeat: 2\n"), tmp_path)
    assert [r.info.arm for r in data.runs] == ["good", "broken", "good", "broken"]
    assert [r.info.repetition for r in data.runs] == [1, 1, 2, 2]
    seen = [status for status, _ in itertools.groupby(file_server.hits)]
    assert seen == [200, 503, 200, 503]


def test_abort_rule_stops_the_run_early_and_reverts(
    file_server: FileServer, tmp_path: Path
) -> None:
    extra = "abort:\n  - {metric: error_rate, above: 50%, for: 1s}\n"
    text = trial_text(file_server, extra=extra, arms="  broken: {status: 503}\n", seconds=8)
    outcome, data = _run(text, tmp_path)
    assert outcome.exit_code == ExitCode.ABORTED
    assert outcome.message == "a run was stopped by an abort rule; its data is kept"
    run = data.runs[0]
    assert run.info.status == "aborted" and "error_rate 100.0% > 50.0%" in run.info.abort_reason
    assert [e.kind for e in run.events if e.kind == "abort"] == ["abort"]
    assert len(run.seconds) < 6  # stopped well before the 8 s schedule ended
    assert run.actions[-1].name.startswith("revert") and not file_server.behaviour.exists()


def test_failed_apply_fails_the_run_and_the_trial_goes_on(
    file_server: FileServer, tmp_path: Path
) -> None:
    arms = "  bad: {status: 200, apply: 'exit 3'}\n  good: {status: 200}\n"
    outcome, data = _run(trial_text(file_server, arms=arms), tmp_path)
    assert [s for _, s in outcome.statuses] == ["failed", "complete"]
    assert "exit status 3" in data.runs[0].info.abort_reason
    assert [a.status for a in data.runs[0].actions] == ["failed", "ok"]  # apply, its undo
    assert outcome.exit_code == ExitCode.INTERNAL and data.info.status == "failed"


def test_an_error_mid_run_keeps_the_data_and_still_reverts(
    file_server: FileServer, tmp_path: Path
) -> None:
    def exploding_load(plan: Any, *, on_interval: Callable[[IntervalStats], None],
                       **kw: Any) -> LoadResult:  # fmt: skip
        def forward(stats: IntervalStats) -> None:
            on_interval(stats)
            raise RuntimeError("boom in the middle of the run")

        return run_load(plan, on_interval=forward, **kw)

    text = trial_text(file_server, arms="  good: {status: 200}\n", seconds=2)
    with pytest.raises(RuntimeError, match="boom"):
        _run(text, tmp_path, load_fn=exploding_load)
    assert not file_server.behaviour.exists()
    with Store(tmp_path / "r.db") as store:
        run = store.load_run(1)
        trial = store.load_trial(1)
    assert run.info.status == "failed" and "boom" in run.info.abort_reason
    assert trial.info.status == "failed"
    assert len(run.seconds) >= 1 and run.actions[-1].name.startswith("revert")


def test_changed_facts_flag_the_run(file_server: FileServer, tmp_path: Path) -> None:
    text = trial_text(file_server, arms="  good: {status: 200}\n").replace(
        "facts: {", "facts: {clock.ns: 'date +%s%N', "
    )
    _, data = _run(text, tmp_path)
    events = [e for e in data.runs[0].events if e.kind == "env_changed"]
    assert len(events) == 1 and "clock.ns" in events[0].data["changed"]


def test_dry_run_sends_and_stores_nothing(file_server: FileServer, tmp_path: Path) -> None:
    outcome, data = _run(trial_text(file_server), tmp_path, dry_run=True)
    assert outcome.trial_id is None and outcome.exit_code == 0 and data is None
    assert file_server.hits == [] and not file_server.behaviour.exists()


def test_observed_metric_is_sampled_on_the_run_clock_and_can_abort(
    file_server: FileServer, tmp_path: Path
) -> None:
    extra = (
        "observe:\n  - {kind: host, as: box}\n"
        "abort:\n  - {metric: box.memory.used_bytes, above: 1%, for: 1s}\n"
    )
    text = trial_text(file_server, extra=extra, arms="  good: {status: 200}\n", seconds=8)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    _, data = _run(text, tmp_path, live=True, console=console)
    run = data.runs[0]
    names = {s.name: s for s in run.series}
    assert names["box.cpu.percent"].capacity and names["box.cpu.percent"].values.size >= 1
    assert run.info.status == "aborted" and "box.memory.used_bytes" in run.info.abort_reason
    assert len(run.seconds) < 7
    assert "arm" in buf.getvalue() and "good" in buf.getvalue()  # the live panel was drawn
