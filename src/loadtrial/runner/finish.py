"""The end of a trial: its final status, the analysis and the exit code.

In: the store, the trial, each run's status, whether the user interrupted and whether
the environment was left in doubt. Out: a TrialOutcome. The analysis' findings are saved
and printed and `verdict_exit_code` decides; there is no other judge. A Ctrl-C gives 3,
a run stopped by an abort rule 3, an environment failure 4, and a failure of the analysis
itself 4 (the runs stay stored: `loadtrial analyze` can redo it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from loadtrial.analysis import analyze_trial, verdict_exit_code
from loadtrial.analysis.model import Finding
from loadtrial.errors import ExitCode
from loadtrial.report import print_summary
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
    findings, analysed = _analyse(store, data, trial, console)
    for line in run_lines(data, findings):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if findings:
        _print_verdict(data, trial, findings, console)
    if interrupted:
        code = ExitCode.ABORTED
        message = "interrupted: the data measured so far is kept"
    elif env_failed or status == "failed":
        code, message = ExitCode.INTERNAL, "a provider step failed (see `loadtrial show`)"
    elif status == "aborted":  # whatever the analysis made of the shortened run
        code, message = ExitCode.ABORTED, VERDICT_MESSAGES[ExitCode.ABORTED]
    elif isinstance(analysed, str):
        code, message = ExitCode.INTERNAL, analysed
    else:
        code = ExitCode(analysed)
        message = VERDICT_MESSAGES.get(code, f"the analysis ended with exit code {int(code)}")
    return TrialOutcome(trial_id, int(code), tuple(statuses), findings, message)


VERDICT_MESSAGES = {
    ExitCode.OK: "every claim supported",
    ExitCode.FAILED: "a claim was refuted or inconclusive, or an SLO was missed (see above)",
    ExitCode.ABORTED: "a run was stopped by an abort rule; its data is kept",
}


def run_lines(data: TrialData, findings: Sequence[Finding]) -> list[str]:
    """One line per run that ran: status, and the analysis' figures of its steady window
    (the numbers the report and `loadtrial analyze` show)."""
    slo = {f.run_id: f.evidence for f in findings if f.kind == "slo" and f.run_id is not None}
    out = []
    for run in data.runs:
        i = run.info
        if i.status == "planned":
            continue
        ev = slo.get(i.run_id, {})
        p99, err = ev.get("p99_us"), ev.get("error_rate")
        figures = (
            f"{ev.get('throughput_per_s', 0.0):7.1f}/s  "
            f"p99 {'n/a' if p99 is None else format_ms(p99):>8}  "
            f"errors {'n/a' if err is None or not ev.get('requests') else f'{err:.2%}'}"
            if ev
            else "not analysed"
        )
        out.append(f"run {i.run_id:<3} {i.arm:<16} rep {i.repetition}  {i.status:<11} {figures}")
    return out


def _analyse(
    store: Store, data: TrialData, trial: Trial, console: Console
) -> tuple[tuple[Finding, ...], int | str]:
    """(findings, the verdict's exit code), or ((), why) when the analysis itself failed:
    that is a bug to report, never a verdict, so it is said in one line and exits 4."""
    try:
        findings = tuple(analyze_trial(data, trial))
    except Exception as exc:  # the data is safe in the store; `loadtrial analyze` can redo it
        why = (
            f"the analysis failed ({type(exc).__name__}: {exc}); the runs are stored: "
            f"`loadtrial --debug analyze {data.info.trial_id}` shows the traceback"
        )
        console.print(why, markup=False, highlight=False, soft_wrap=True)
        return (), why
    store.save_findings(data.info.trial_id, findings)
    return findings, int(verdict_exit_code(findings))


def _print_verdict(
    data: TrialData, trial: Trial, findings: tuple[Finding, ...], console: Console
) -> None:
    """The report's verdict panel (every finding stays in `loadtrial analyze`)."""
    print_summary(data, trial, findings, console)
    console.print("every finding: loadtrial analyze; the page: loadtrial report", markup=False)
