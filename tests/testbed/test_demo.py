"""A short demo run (half durations, the trial's two repetitions) tells the expected story:
the right bottleneck and every verdict, on real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtrial.commands.demo import run_demo
from loadtrial.store import Store
from loadtrial.store.model import RunData


def _error_rate(run: RunData) -> float:
    secs = [s for s in run.seconds if s.second >= run.info.warmup_s]
    done = sum(s.completed for s in secs)
    return sum(sum(s.errors.values()) for s in secs) / done if done else 1.0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_quick_demo_reaches_the_expected_outcome_per_arm(tmp_path: Path) -> None:
    lines: list[str] = []
    code = run_demo(lines.append, quick=True, workdir=tmp_path, quick_factor=0.5)
    assert not (tmp_path / "state.json").exists()  # torn down
    store = Store(tmp_path / "results.sqlite")
    trial_id = store.latest_trial_id()
    assert trial_id is not None
    runs = {r.info.arm: r for r in store.load_trial(trial_id).runs}
    findings = store.load_findings(trial_id)
    assert set(runs) == {"baseline", "more-app-nodes", "bigger-db"}
    rates = {arm: _error_rate(run) for arm, run in runs.items()}
    why = "\n".join(  # shown if an assertion fails: what each run went through
        [*lines]
        + [
            f"{r.info.arm}: {r.info.status} {r.info.abort_reason} seconds={len(r.seconds)} "
            f"events={[e.message[:120] for e in r.events]} "
            f"actions={[(a.name, a.status, a.error[:80]) for a in r.actions]}"
            for r in runs.values()
        ]
    )
    # baseline: db connections run out -> 5xx; more app nodes: no better; bigger db: clean.
    assert rates["baseline"] > 0.05, f"{rates}\n{why}"
    assert rates["more-app-nodes"] > 0.05, f"{rates}\n{why}"
    assert rates["bigger-db"] < 0.01, f"{rates}\n{why}"
    assert runs["bigger-db"].snapshots["before"]["db.max_connections"] == "80"
    assert runs["baseline"].snapshots["before"]["db.max_connections"] == "20"
    # the analysis names the db's connections in the baseline and supports every claim
    found = "\n".join(f"{f.kind} {f.status} {f.summary}" for f in findings)
    limit = {f.arm: f for f in findings if f.kind == "bottleneck"}["baseline"]
    assert limit.status.startswith("db.connections."), f"{found}\n{why}"
    assert limit.summary.startswith("db connections limited throughput in arm baseline"), found
    verdicts = [f.status for f in findings if f.kind == "verdict"]
    assert verdicts == ["supported"] * 3, f"{found}\n{why}"
    assert code == 0, found


def test_demo_lists_every_story_with_an_example_that_loads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from loadtrial.cli import main
    from loadtrial.commands.demo import STORIES, example_path
    from loadtrial.spec import load_trial_file

    assert main(["demo", "--list"]) == 0
    out = capsys.readouterr().out
    for name, story in STORIES.items():
        assert name in out and story.file in out
        trial = load_trial_file(example_path(story.file)).trial
        assert trial.repeat >= 2 or not any(c.vs for c in trial.expect)  # vs needs repeats
    assert "db-connections" in out.splitlines()[0] and "[default]" in out.splitlines()[0]


def test_unknown_story_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from loadtrial.cli import main
    from loadtrial.errors import ExitCode

    assert main(["demo", "no-such-story"]) == ExitCode.INVALID_INPUT
    err = capsys.readouterr().err
    assert "unknown demo story 'no-such-story'" in err and "app-cpu" in err
