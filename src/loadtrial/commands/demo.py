"""`loadtrial demo [STORY]`: one bottleneck story, told end to end on this machine.

In: a story name (`STORIES`; default db-connections, examples/db-bottleneck.yaml), `quick`
(shorter runs) and `keep` (leave the testbed up). Out: the testbed brought up, the trial
run through the runner, the verdict and bottleneck printed, the HTML report written, the
testbed torn down; returns the trial's exit code. Orchestration lives here, in the command
layer: the testbed, the runner, the analysis and the report each know nothing of the demo.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from rich.console import Console

from loadtrial import testbed
from loadtrial.commands.verdict import conclude
from loadtrial.errors import UserError
from loadtrial.report import write_html
from loadtrial.runner import run_trial
from loadtrial.spec import load_trial_file
from loadtrial.spec.loader import LoadedTrial
from loadtrial.store import Store
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
    """A bundled example file (shipped inside the package, so a wheel has them too)."""
    path = examples_dir() / name
    if not path.exists():
        known = ", ".join(sorted(p.name for p in examples_dir().glob("*.yaml")))
        raise UserError(f"no bundled example {name}", hint=f"the examples are: {known}")
    return path


def examples_dir() -> Path:
    """The folder of the bundled example trials (`loadtrial examples --copy DIR`)."""
    return Path(str(resources.files("loadtrial") / "examples"))


def quicken(loaded: LoadedTrial, factor: float = 0.75, repeat: int | None = None) -> LoadedTrial:
    """Return the loaded trial with its warm-up and stages scaled by `factor`. The
    repetitions stay unless `repeat` is given: a claim that compares arms needs two runs
    per arm to be decided (tests of single-arm facts may pass repeat=1)."""
    trial = loaded.trial
    stages = tuple(
        s.model_copy(update={"duration": s.duration * factor}) for s in trial.load.stages
    )
    load = trial.load.model_copy(update={"stages": stages, "warmup": trial.load.warmup * factor})
    update: dict[str, object] = {"load": load}
    if repeat is not None:
        update["repeat"] = repeat
    return dataclasses.replace(loaded, trial=trial.model_copy(update=update))


def run_demo(
    echo: Echo,
    *,
    story: str = DEFAULT_STORY,
    keep: bool = False,
    quick: bool = False,
    workdir: Path = DEMO_DIR,
    quick_factor: float = 0.75,
    repeat: int | None = None,
) -> int:
    """Up, run the story's trial, summarise, report, down (unless `keep`); return the exit
    code. An unknown `story` is a UserError before anything starts."""
    trial_file = example_path(story_file(story))
    state_path = workdir / "state.json"
    echo("Bringing up the testbed (PostgreSQL, 2 app nodes, balancer) ...")
    state = testbed.up(TestbedConfig(), state_path)
    try:
        echo(f"Testbed up: {state.base_url}  (stats {state.lb_stats_port}, state {state_path})")
        factor = quick_factor if quick else 1.0
        return _run_trial(echo, trial_file, state.base_url, state_path, workdir, factor, repeat)
    finally:
        if keep:
            echo(f"Testbed left up (--keep): {state.base_url}; `loadtrial testbed down "
                 f"--state {state_path}` ends it.")  # fmt: skip
        else:
            testbed.down(state_path)
            echo("Testbed down.")


def _run_trial(
    echo: Echo,
    trial_file: Path,
    base_url: str,
    state_path: Path,
    workdir: Path,
    factor: float,
    repeat: int | None,
) -> int:
    """Load the story's trial for this testbed, run it, print its verdict, write the page."""
    env = {"TESTBED_URL": base_url, "TESTBED_STATE": str(state_path)}
    loaded = load_trial_file(trial_file, env=env)
    if factor != 1.0 or repeat is not None:
        loaded = quicken(loaded, factor, repeat)
    store_path = workdir / "results.sqlite"
    echo(f"Running {loaded.trial.name}: {len(loaded.trial.arms)} arms x {loaded.trial.repeat} ...")
    # the trial's env.state (TESTBED_STATE above) names this testbed to the provider and to
    # `observe: testbed`
    with Store(store_path) as store:
        outcome = run_trial(loaded, store=store, live=True)
        if outcome.trial_id is None:
            return int(outcome.exit_code)
        verdict = conclude(store, loaded.trial, outcome, Console())
        data = store.load_trial(outcome.trial_id)
    html = workdir / "report.html"
    path = write_html(
        data, loaded.trial, verdict.findings, html, store_path=str(store_path.resolve())
    )
    echo(f"Report: {path}")
    return verdict.exit_code
