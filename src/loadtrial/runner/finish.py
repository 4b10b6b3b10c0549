"""The end of a trial's runs: its stored status and what the runs alone decide.

In: the store, each run's status, whether the user interrupted and whether the environment
was left in doubt. Out: a TrialOutcome. The runs decide the exit code only when they did
not finish as planned (Ctrl-C 3, a run stopped by an abort rule 3, a provider step that
failed 4); otherwise the verdict decides, which is the command layer's business
(`loadtrial.commands.verdict`): the runner neither analyses nor prints a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from loadtrial.errors import ExitCode
from loadtrial.store.store import Store


@dataclass(frozen=True)
class TrialOutcome:
    """What `run_trial` did: the stored trial, each run's status, and the exit code when
    the runs decide it (`verdict_decides` False) or 0 with `verdict_decides` True."""

    trial_id: int | None  # None for a dry run
    exit_code: int
    statuses: tuple[tuple[int, str], ...] = ()  # (run_id, status) in plan order
    message: str = ""
    verdict_decides: bool = False


def trial_status(statuses: Sequence[tuple[int, str]], interrupted: bool, env_failed: bool) -> str:
    """The trial's stored status from its runs'."""
    if interrupted:
        return "interrupted"
    if env_failed or any(s == "failed" for _, s in statuses):
        return "failed"
    if any(s == "aborted" for _, s in statuses):
        return "aborted"
    return "complete"


def conclude(
    store: Store,
    trial_id: int,
    statuses: Sequence[tuple[int, str]],
    interrupted: bool,
    env_failed: bool,
) -> TrialOutcome:
    """Store the trial's final status; the exit code when the runs decide it."""
    status = trial_status(statuses, interrupted, env_failed)
    store.finish_trial(trial_id, status)
    done = tuple(statuses)
    if interrupted:
        return TrialOutcome(trial_id, int(ExitCode.ABORTED), done,
                            "interrupted: the data measured so far is kept")  # fmt: skip
    if status == "failed":
        return TrialOutcome(trial_id, int(ExitCode.INTERNAL), done,
                            "a provider step failed (see `loadtrial show`)")  # fmt: skip
    if status == "aborted":  # whatever the analysis makes of the shortened run
        return TrialOutcome(trial_id, int(ExitCode.ABORTED), done,
                            "a run was stopped by an abort rule; its data is kept")  # fmt: skip
    return TrialOutcome(trial_id, int(ExitCode.OK), done, verdict_decides=True)
