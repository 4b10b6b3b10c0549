"""`loadtrial demo [STORY]`: one bottleneck story, told end to end on this machine.

In: a story name (`STORIES`; default db-connections, examples/db-bottleneck.yaml), `quick`
(shorter runs) and `keep` (leave the testbed up). Out: the testbed brought up, the trial
run through the runner, the verdict and bottleneck printed (analysis and report when
present; else each arm's SLO result), the HTML report written, the testbed torn down;
returns the trial's exit code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtrial.errors import UserError
from loadtrial.testbed.model import TestbedConfig

Echo = Callable[[str], None]
DEMO_DIR = Path(".loadtrial/demo")


@dataclasses.dataclass(frozen=True)
class Story:
    """One demo story: its example file and what it shows."""

    file: str
    shows: str


STORIES: dict[str, Story] = {
    "db-connections": Story(
        "db-bottleneck.yaml",
        "the db runs out of connections: a bigger db helps, more app nodes do not",
    ),
    "app-cpu": Story("app-cpu.yaml", "one app node saturates its CPU: a second node meets the SLO"),
    "db-cpu": Story(
        "db-cpu.yaml", "heavy queries saturate the db's CPU: 2 db CPUs help, more app nodes do not"
    ),
    "lb-limit": Story(
        "lb-limit.yaml", "the balancer's per-node limit queues requests into 503s: raise it"
    ),
    "failover-trap": Story(
        "failover-trap.yaml", "a resize fails over to the unchanged instance: a confounder"
    ),
}
DEFAULT_STORY = "db-connections"


def story_lines() -> list[str]:
    """One line per story for `loadtrial demo --list`: name, what it shows, its file."""
    return [
        f"{name:<15} {story.shows}  (examples/{story.file})"
        + ("  [default]" if name == DEFAULT_STORY else "")
        for name, story in STORIES.items()
    ]


def story_file(name: str) -> str:
    """The example file of story `name`; UserError naming the stories when unknown."""
    if name not in STORIES:
        raise UserError(
            f"unknown demo story {name!r}",
            hint=f"choose one of {', '.join(STORIES)} (loadtrial demo --list)",
        )
    return STORIES[name].file


def example_path(name: str) -> Path:
    """Find a bundled example: the repo's examples/ beside src/, or ./examples/."""
    candidates = [Path(__file__).resolve().parents[3] / "examples" / name, Path("examples") / name]
    for path in candidates:
        if path.exists():
            return path
    raise UserError(f"example {name} not found", hint="run from a loadtrial checkout")


def quicken(loaded: Any, factor: float = 0.75) -> Any:
    """Return the loaded trial with stage durations scaled by `factor` and one repetition."""
    trial = loaded.trial
    stages = tuple(
        s.model_copy(update={"duration": s.duration * factor}) for s in trial.load.stages
    )
    load = trial.load.model_copy(update={"stages": stages, "warmup": trial.load.warmup * factor})
    new = trial.model_copy(update={"load": load, "repeat": 1})
    return dataclasses.replace(loaded, trial=new)


def run_demo(
    echo: Echo,
    *,
    story: str = DEFAULT_STORY,
    keep: bool = False,
    quick: bool = False,
    workdir: Path = DEMO_DIR,
    quick_factor: float = 0.75,
) -> int:
    """Up, run the story's trial, summarise, report, down (unless `keep`); return the exit
    code. An unknown `story` is a UserError before anything starts."""
    from loadtrial import testbed

    trial_file = example_path(story_file(story))
    state_path = workdir / "state.json"
    config = first_arm_config(trial_file)
    echo(f"Bringing up the testbed (PostgreSQL, {config.app_nodes} app nodes, balancer) ...")
    state = testbed.up(config, state_path)
    try:
        echo(f"Testbed up: {state.base_url}  (stats {state.lb_stats_port}, state {state_path})")
        factor = quick_factor if quick else 1.0
        return _run_trial(echo, trial_file, state.base_url, state_path, workdir, factor)
    finally:
        if keep:
            echo(f"Testbed left up (--keep): {state.base_url}; `loadtrial testbed down "
                 f"--state {state_path}` ends it.")  # fmt: skip
        else:
            testbed.down(state_path)
            echo("Testbed down.")


def first_arm_config(trial_file: Path) -> TestbedConfig:
    """The testbed shape the story's first arm asks for: the demo starts there, so neither
    the first run nor the revert after the last restarts the db for nothing."""
    from loadtrial.spec import load_trial_file

    arms = load_trial_file(trial_file, env={}).trial.arms
    return TestbedConfig().with_params(next(iter(arms.values()), {}))


def _run_trial(
    echo: Echo, trial_file: Path, base_url: str, state_path: Path, workdir: Path, factor: float
) -> int:
    """Load the story's trial for this testbed, run it, and summarise it."""
    from loadtrial.spec import load_trial_file
    from loadtrial.store import Store

    env = {"TESTBED_URL": base_url, "TESTBED_STATE": str(state_path)}
    loaded = load_trial_file(trial_file, env=env)
    if factor != 1.0:
        loaded = quicken(loaded, factor)
    from loadtrial.runner import run_trial

    store_path = workdir / "results.sqlite"
    store = Store(store_path)
    echo(f"Running {loaded.trial.name}: {len(loaded.trial.arms)} arms x {loaded.trial.repeat} ...")
    # the trial's env.state (TESTBED_STATE above) names this testbed to the provider and to
    # `observe: testbed`
    outcome = run_trial(loaded, store=store, live=True)
    if outcome.trial_id is None:
        return int(outcome.exit_code)
    data = store.load_trial(outcome.trial_id)
    found = tuple(getattr(outcome, "findings", ()) or ())
    summarise(echo, data, loaded.trial, workdir / "report.html", store_path, found)
    return int(outcome.exit_code)


def summarise(
    echo: Echo,
    data: Any,
    trial: Any,
    html: Path,
    store_path: Path | None = None,
    findings: tuple[Any, ...] = (),
) -> None:
    """Print the verdict (analysis + report when present, else per-arm SLO); write HTML
    naming the store it came from. `findings`: the runner's (else analysed here)."""
    try:
        from rich.console import Console

        from loadtrial.analysis import analyze_trial  # type: ignore[attr-defined,unused-ignore]
        from loadtrial.report import print_summary, write_html
    except ImportError:
        for line in arm_lines(data, trial):
            echo(line)
        return
    if not findings:  # the runner printed the verdict with its own findings; else do it here
        findings = tuple(analyze_trial(data, trial))
        print_summary(data, trial, findings, Console())
    store = str(store_path.resolve()) if store_path is not None else ""
    path = write_html(data, trial, findings, html, store_path=store)
    echo(f"Report: {path}")


def arm_lines(data: Any, trial: Any) -> list[str]:
    """One line per arm: error rate, p99 and SLO result over its runs (without warmup)."""
    from loadtrial.load.histogram import merge, quantiles_us

    lines = []
    for arm in trial.arms:
        runs = [r for r in data.runs if r.info.arm == arm]
        secs = [s for r in runs for s in r.seconds if s.second >= r.info.warmup_s]
        done = sum(s.completed for s in secs)
        errors = sum(sum(s.errors.values()) for s in secs)
        hists = [s.latency_hist for s in secs if s.latency_hist]
        p99_s = quantiles_us(merge(hists), [99.0])[99.0] / 1e6 if hists else float("nan")
        rate = errors / done if done else 1.0
        ok = (trial.slo.error_rate is None or rate <= trial.slo.error_rate) and (
            trial.slo.p99 is None or p99_s <= trial.slo.p99
        )
        verdict = "meets SLO" if ok else "FAILS SLO"
        lines.append(f"  {arm:<16} error rate {rate:7.2%}  p99 {p99_s * 1000:8.0f} ms  {verdict}")
    return lines
