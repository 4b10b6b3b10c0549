"""The report's what-if self-check: each measured arm predicted from the other arms.

In: `TrialData` and its `Trial` (for `whatif_rows`), then the rows (for `section`). Out:
frozen `WhatifRow`s in the report document and an HTML table beside the measured figures.
A prediction whose error exceeds its stated uncertainty is marked and says so; arms no
model could be measured on are listed with the reason. See docs/whatif.md.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData

REPLICATIONS = 2  # the report's check is a glance; `loadtrial whatif --self-check` does 3
MAX_REQUESTS = 5000  # per replication: a report of a 2000/s trial stays a few seconds


@dataclass(frozen=True)
class WhatifRow:
    """One arm predicted from another (figures: value, low, high), or an arm not modelled."""

    arm: str
    from_arm: str
    throughput_per_s: tuple[float, float, float] | None
    p99_s: tuple[float, float, float] | None
    error_rate: tuple[float, float, float] | None
    bottleneck: str
    measured_throughput_per_s: float | None
    measured_p99_s: float | None
    measured_error_rate: float | None
    holds: bool
    summary: str


def whatif_rows(data: TrialData, trial: Trial) -> tuple[WhatifRow, ...]:
    """Self-check rows for a trial with two or more arms (none for one arm)."""
    if len({r.info.arm for r in data.runs}) < 2:
        return ()
    from loadtrial.whatif.selfcheck import self_check

    result = self_check(data, trial, replications=REPLICATIONS, max_requests=MAX_REQUESTS)
    rows = []
    for c in result.checks:
        p, m = c.prediction, c.measured
        rows.append(
            WhatifRow(
                arm=c.arm,
                from_arm=c.from_arm,
                throughput_per_s=(p.throughput_per_s.value, p.throughput_per_s.low,
                                  p.throughput_per_s.high),
                p99_s=(p.p99_s.value, p.p99_s.low, p.p99_s.high),
                error_rate=(p.error_rate.value, p.error_rate.low, p.error_rate.high),
                bottleneck=p.bottleneck,
                measured_throughput_per_s=m.throughput_per_s,
                measured_p99_s=m.p99_s,
                measured_error_rate=m.error_rate,
                holds=c.holds,
                summary=c.sentence(),
            )
        )  # fmt: skip
    for arm, why in result.unmodelled.items():
        rows.append(WhatifRow(arm, "", None, None, None, "", None, None, None, True,
                              f"no model measured on {arm}: {why}"))  # fmt: skip
    return tuple(rows)


def _cell(fig: tuple[float, float, float] | None, measured: float | None, fmt: str) -> str:
    if fig is None or measured is None:
        return "<td></td>"
    value, low, high = fig
    off = "" if low <= measured <= high else ' class="bad" style="color: var(--bad)"'
    return (
        f"<td{off}>{format(value, fmt)} <small>[{format(low, fmt)}–{format(high, fmt)}]</small>"
        f"<br>measured {format(measured, fmt)}</td>"
    )


def section(rows: Sequence[WhatifRow]) -> str:
    """The self-check as an HTML card ("" when there is nothing to show)."""
    if not rows:
        return ""
    checked = [r for r in rows if r.from_arm]
    body = "".join(
        f"<tr><td>{html.escape(r.arm)}</td><td>{html.escape(r.from_arm)}</td>"
        f"{_cell(r.throughput_per_s, r.measured_throughput_per_s, '.1f')}"
        f"{_cell(r.p99_s, r.measured_p99_s, '.2f')}"
        f"{_cell(r.error_rate, r.measured_error_rate, '.1%')}"
        f"<td>{html.escape(r.bottleneck)}</td>"
        f"<td>{'within' if r.holds else '<b>outside: do not trust</b>'}</td></tr>"
        for r in checked
    )
    notes = "".join(f"<li>{html.escape(r.summary)}</li>" for r in rows if not r.from_arm)
    misses = sum(not r.holds for r in checked)
    lead = (
        f"{misses} of {len(checked)} predictions fell outside their stated uncertainty."
        if misses
        else f"All {len(checked)} predictions held within their stated uncertainty."
    )
    table = (
        "<table><thead><tr><th>arm</th><th>predicted from</th><th>ok/s</th><th>p99 (s)</th>"
        "<th>errors</th><th>bottleneck</th><th>model</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
        if checked
        else ""
    )
    return (
        '<section id="whatif" class="card"><h2>What-if self-check</h2>'
        f'<p class="sentence">Each arm predicted from the other arms\' measurements '
        f"(loadtrial whatif) beside what it measured. {html.escape(lead)}</p>"
        f"{table}{f'<ul>{notes}</ul>' if notes else ''}</section>"
    )
