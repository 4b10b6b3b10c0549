"""runner: a trial's runs — the plan, apply/measure/revert, abort rules, the journal.

Door: `run_trial(loaded, *, store, only_arms=(), dry_run=False, live=True) -> TrialOutcome`
(`.trial_id`, `.exit_code`, `.statuses`), `make_plan(trial, only_arms=())`,
`estimate_s(trial, plan)`, `slo_checks(data, slo)` and `junit_xml(name, checks)`.
"""

from __future__ import annotations

from loadtrial.runner.finish import TrialOutcome
from loadtrial.runner.plan import PlannedRun, describe, estimate_s, make_plan
from loadtrial.runner.run import run_trial
from loadtrial.runner.slo import SloCheck, junit_xml, slo_checks

__all__ = [
    "PlannedRun",
    "SloCheck",
    "TrialOutcome",
    "describe",
    "estimate_s",
    "junit_xml",
    "make_plan",
    "run_trial",
    "slo_checks",
]
