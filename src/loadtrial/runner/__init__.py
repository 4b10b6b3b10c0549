"""runner: a trial's runs — the plan, apply/measure/revert, abort rules, the journal.

Door: `run_trial(loaded, *, store, only_arms=(), dry_run=False, live=True) -> TrialOutcome`
(`.trial_id`, `.exit_code`, `.statuses`), `make_plan(trial, only_arms=())`,
`estimate_s(trial, plan)`. The runner runs and stores; the verdict (analysis, report,
JUnit) is the command layer's (`loadtrial.commands.verdict`).
"""

from __future__ import annotations

from loadtrial.runner.finish import TrialOutcome
from loadtrial.runner.plan import PlannedRun, describe, estimate_s, make_plan
from loadtrial.runner.run import run_trial

__all__ = [
    "PlannedRun",
    "TrialOutcome",
    "describe",
    "estimate_s",
    "make_plan",
    "run_trial",
]
