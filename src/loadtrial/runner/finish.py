"""The end of a trial: its final status, the analysis (when installed) and the exit code.

In: the store, the trial, each run's status, whether the user interrupted and whether
the environment was left in doubt. Out: a TrialOutcome. With `loadtrial.analysis`
importable, its findings are saved and printed and `verdict_exit_code` decides; otherwise
the runner's own SLO checks do (0 all met, 1 an SLO failed, 3 a run aborted). A Ctrl-C
gives 3, a run stopped by an abort rule 3 and an environment failure 4 in either case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from loadtrial.analysis.model import Finding
from loadtrial.errors import ExitCode
from loadtrial.runner.slo import run_values, slo_checks
from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData
from loadtrial.store.store import Store
from loadtrial.units import format_ms


@dataclass(frozen=True)
class TrialOutcome:
    """What `run_trial` did: the stored trial, each run's status, the exit code."""

    trial_id: int | None  # None for a dry run
    exit_code: int
    statuses: tuple[tuple[int, str], ...] = ()  # (run_id, status) in plan order
    findings: tuple[Finding, ...] = ()
    message: str = ""


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
    trial: Trial,
    statuses: Sequence[tuple[int, str]],
    interrupted: bool,
    env_failed: bool,
    console: Console,
) -> TrialOutcome:
    """Finish the stored trial, analyse it and decide the exit code."""
    status = trial_status(statuses, interrupted, env_failed)
    store.finish_trial(trial_id, status)
    data = store.load_trial(trial_id)
    for line in run_lines(data):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    findings, analysed_code = _analyse(store, data, trial, console)
    if interrupted:
        code = ExitCode.ABORTED
        message = "interrupted: the data measured so far is kept"
    elif env_failed or status == "failed":
        code, message = ExitCode.INTERNAL, "a provider step failed (see `loadtrial show`)"
    elif status == "aborted":  # whatever the analysis made of the shortened run
        code, message = ExitCode.ABORTED, VERDICT_MESSAGES[ExitCode.ABORTED]
    elif analysed_code is not None:
        code = ExitCode(analysed_code)
        message = VERDICT_MESSAGES.get(code, f"the analysis ended with exit code {int(code)}")
    else:
        code, message = _slo_code(data, trial, status)
    return TrialOutcome(trial_id, int(code), tuple(statuses), findings, message)


VERDICT_MESSAGES = {
    ExitCode.OK: "every claim supported",
    ExitCode.FAILED: "a claim was refuted or inconclusive, or an SLO was missed (see above)",
    ExitCode.ABORTED: "a run was stopped by an abort rule; its data is kept",
}


def run_lines(data: TrialData) -> list[str]:
    """One line per run that ran: status, throughput, p99 and error rate after warmup."""
    out = []
    for run in data.runs:
        i = run.info
        if i.status == "planned":
            continue
        v = run_values(run)
        p99 = "n/a" if v["p99"] is None else format_ms(v["p99"] * 1e6)
        err = "n/a" if v["error_rate"] is None else f"{v['error_rate']:.2%}"
        rate = v["min_throughput"] or 0.0
        out.append(
            f"run {i.run_id:<3} {i.arm:<16} rep {i.repetition}  {i.status:<11} "
            f"{rate:7.1f}/s  p99 {p99:>8}  errors {err}"
        )
    return out


def _slo_code(data: TrialData, trial: Trial, status: str) -> tuple[ExitCode, str]:
    if status == "aborted":
        return ExitCode.ABORTED, "a run was stopped by an abort rule"
    failed = [c for c in slo_checks(data, trial.slo) if not c.passed]
    if failed:
        return ExitCode.FAILED, f"{len(failed)} SLO check(s) failed"
    return ExitCode.OK, "all SLOs met"


def _analyse(
    store: Store, data: TrialData, trial: Trial, console: Console
) -> tuple[tuple[Finding, ...], int | None]:
    """Findings and the verdict's exit code; ((), None) when analysis is not available."""
    try:
        from loadtrial.analysis import analyze_trial, verdict_exit_code
    except ImportError:
        return (), None
    try:
        findings = tuple(analyze_trial(data, trial))
        store.save_findings(data.info.trial_id, findings)
        code = int(verdict_exit_code(findings))
    except Exception as exc:  # the data is safe in the store; `loadtrial analyze` can redo it
        console.print(f"analysis failed: {exc!r} (the runs are stored)", markup=False)
        return (), None
    _print_verdict(data, trial, findings, console)
    return findings, code


def _print_verdict(
    data: TrialData, trial: Trial, findings: tuple[Finding, ...], console: Console
) -> None:
    """The report's verdict panel (every finding stays in `loadtrial analyze`); without the
    report package, one line per finding."""
    try:
        from loadtrial.report import print_summary
    except ImportError:
        for f in findings:
            console.print(f"{f.kind:<11} {f.status:<12} {f.summary}", markup=False,
                          highlight=False, soft_wrap=True)  # fmt: skip
        return
    print_summary(data, trial, findings, console)
    console.print("every finding: loadtrial analyze; the page: loadtrial report", markup=False)
