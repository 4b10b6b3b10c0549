"""After a trial's runs: analyse, store the findings, print the verdict, decide the exit.

In: the store, the trial as run, the runner's TrialOutcome, a console. Out: the findings
(saved with the trial) and the process exit code: the runner's when the runs decided it
(interrupted, aborted, a provider failure), else the verdict's (`verdict_exit_code`).
A failure of the analysis itself is exit 4 in one line, never a verdict: the runs stay
stored and `loadtrial --debug analyze N` shows the traceback. Used by `run` and `demo`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console

from loadtrial.analysis import analyze_trial, verdict_exit_code
from loadtrial.errors import ExitCode
from loadtrial.findings import Finding, SloEvidence
from loadtrial.report import print_summary
from loadtrial.runner import TrialOutcome
from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData
from loadtrial.store.store import Store
from loadtrial.units import format_ms

VERDICT_MESSAGES = {
    ExitCode.OK: "every claim supported",
    ExitCode.FAILED: "a claim was refuted or inconclusive, or an SLO was missed (see above)",
    ExitCode.ABORTED: "a run was stopped by an abort rule; its data is kept",
}


@dataclass(frozen=True)
class Verdict:
    """The trial's findings and the exit code with its one-line reason."""

    findings: tuple[Finding, ...]
    exit_code: int
    message: str


def conclude(store: Store, trial: Trial, outcome: TrialOutcome, console: Console) -> Verdict:
    """Analyse the stored trial, save and print its verdict; the exit code (see module)."""
    assert outcome.trial_id is not None, "a dry run has nothing to conclude"
    data = store.load_trial(outcome.trial_id)
    findings, failure = _analyse(data, trial)
    if findings:
        store.save_findings(outcome.trial_id, findings)
    for line in run_lines(data, findings):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if failure:
        console.print(failure, markup=False, highlight=False, soft_wrap=True)
    else:
        print_summary(data, trial, findings, console)
        console.print("every finding: loadtrial analyze; the page: loadtrial report", markup=False)
    if not outcome.verdict_decides:
        return Verdict(findings, outcome.exit_code, outcome.message)
    if failure:
        return Verdict(findings, int(ExitCode.INTERNAL), failure)
    code = ExitCode(verdict_exit_code(findings))
    message = VERDICT_MESSAGES.get(code, f"the analysis ended with exit code {int(code)}")
    return Verdict(findings, int(code), message)


def _analyse(data: TrialData, trial: Trial) -> tuple[tuple[Finding, ...], str]:
    """(findings, ""), or ((), why) when the analysis itself raised: a bug to report."""
    try:
        return tuple(analyze_trial(data, trial)), ""
    except Exception as exc:  # the data is safe in the store; `loadtrial analyze` can redo it
        return (), (
            f"the analysis failed ({type(exc).__name__}: {exc}); the runs are stored: "
            f"`loadtrial --debug analyze {data.info.trial_id}` shows the traceback"
        )


def run_lines(data: TrialData, findings: Sequence[Finding]) -> list[str]:
    """One line per run that ran: status, and the analysis' figures of its steady window
    (the numbers the report and `loadtrial analyze` show)."""
    slo = {
        f.run_id: f.evidence
        for f in findings
        if isinstance(f.evidence, SloEvidence) and f.run_id is not None
    }
    out = []
    for run in data.runs:
        i = run.info
        if i.status == "planned":
            continue
        ev = slo.get(i.run_id)
        p99 = ev.latency_at(99.0) if ev else None
        figures = (
            f"{ev.throughput_per_s:7.1f}/s  "
            f"p99 {'n/a' if p99 is None else format_ms(p99):>8}  "
            f"errors {f'{ev.error_rate:.2%}' if ev.requests else 'n/a'}"
            if ev
            else "not analysed"
        )
        if ev and ev.request:  # the SLO's figures are of one request: name it
            figures += f"  (request {ev.request})"
        out.append(f"run {i.run_id:<3} {i.arm:<16} rep {i.repetition}  {i.status:<11} {figures}")
    return out
