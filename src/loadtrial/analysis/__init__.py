"""analysis: pure functions from stored measurements to typed findings.

Door: `analyze_trial(data, trial) -> tuple[Finding, ...]` and
`verdict_exit_code(findings) -> int`; the pieces (windows, slo, saturation, bottleneck,
compare, claims, confounders, scalability) are importable on their own. See
docs/analysis.md for the rules each step follows.

Exit code (`verdict_exit_code`), in order of precedence:
- 3 (ABORTED) when any run was aborted or interrupted (its data is still analysed);
- 1 (FAILED) when the trial has claims and any is refuted or inconclusive (a claim on an
  arm without a valid run is inconclusive), or when it has no claims and any arm misses
  its SLO or has no valid run to meet it with;
- 0 (OK) otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from loadtrial.errors import ExitCode
from loadtrial.findings import Finding
from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData

if TYPE_CHECKING:
    from loadtrial.analysis.trial import analyze_trial


def __getattr__(name: str) -> Any:
    """Import `analyze_trial` on first use (PEP 562): it pulls in scipy (~1 s), which the
    CLI's start-up and the areas that only need the findings' types should not pay for."""
    if name != "analyze_trial":
        raise AttributeError(f"module 'loadtrial.analysis' has no attribute {name!r}")
    from loadtrial.analysis.trial import analyze_trial

    globals()[name] = analyze_trial
    return analyze_trial


__all__ = ["analyze_trial", "bottlenecks", "verdict_exit_code"]


def verdict_exit_code(findings: Iterable[Finding]) -> int:
    """The process exit code the findings call for (see the module docstring)."""
    items = list(findings)
    if any(f.kind == "validity" and f.status == "aborted" for f in items):
        return int(ExitCode.ABORTED)
    verdicts = [f for f in items if f.kind == "verdict"]
    if verdicts:
        ok = all(f.status == "supported" for f in verdicts)
    else:
        arm_slos = [f for f in items if f.kind == "slo" and f.run_id is None]
        ok = all(f.status == "pass" for f in arm_slos)  # no_data: nothing met the SLO
    return int(ExitCode.OK if ok else ExitCode.FAILED)


def bottlenecks(data: TrialData, trial: Trial) -> dict[str, Finding]:
    """arm -> its `bottleneck` finding (status: the series name, e.g. "db.connections.used",
    or "none"; evidence["tier"]). For callers that only need the attribution (testbed tests)."""
    from loadtrial.analysis.trial import analyze_trial

    return {f.arm: f for f in analyze_trial(data, trial) if f.kind == "bottleneck"}
