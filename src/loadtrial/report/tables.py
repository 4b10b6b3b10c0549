"""HTML of the report's tables: arms pooled over repetitions, and every finding.

In: a `Report`. Out: HTML fragments (str); every user or server string goes through `esc`.
"""

from __future__ import annotations

from collections.abc import Iterable

from loadtrial.report.evidence import fields
from loadtrial.report.model import ArmRow, Estimate, FindingView, Report, RequestCell
from loadtrial.report.sections import esc, est_ms, evidence_list, pill


def arms_table(r: Report) -> str:
    """Per arm, pooled over repetitions."""
    rows = "".join(_arm_row(a) for a in r.arms)
    measured = any(a.requests for a in r.arms)
    chart = '<div class="chart" id="chart-arms" data-chart="arms"></div>' if measured else ""
    return (
        '<section id="arms" class="card"><h2>Arms</h2>'
        f'<p class="muted">Pooled over repetitions, {esc(_window_note(r))}. Percentiles of the '
        "merged HDR histograms (latency from the intended send time); 95 % intervals from the "
        "spread between repetitions.</p>"
        '<div class="table-wrap"><table class="arms"><thead><tr><th>arm · parameters</th>'
        "<th>runs</th><th>ok/s</th><th>p50</th><th>p90</th><th>p99</th>"
        "<th>errors</th><th>SLO</th><th>validity</th></tr></thead>"
        f"<tbody>{rows}</tbody></table></div>{_validity_notes(r)}"
        f"{chart}</section>"
    )


def requests_table(r: Report) -> str:
    """Arms × requests: each request name's figures in each arm (2+ names only)."""
    if not r.requests:
        return ""
    arms = list(dict.fromkeys(c.arm for c in r.requests))
    by_name: dict[str, list[RequestCell]] = {}
    for c in r.requests:  # built request by request, arms in the arms table's order
        by_name.setdefault(c.request, []).append(c)
    rows = "".join(
        f'<tr><th scope="row">{esc(name)}</th>{"".join(_request_cell(c) for c in cells)}</tr>'
        for name, cells in by_name.items()
    )
    head = "".join(f'<th colspan="4">{esc(a)}</th>' for a in arms)
    sub = "<th>ok/s</th><th>p50</th><th>p99</th><th>errors</th>" * len(arms)
    return (
        '<section id="requests" class="card"><h2>Requests</h2>'
        '<p class="muted">Each request name alone, pooled over the arm\'s valid runs and their '
        "steady windows, by the same estimates as the arms table (errors include failed "
        "checks, <code>check:&lt;name&gt;</code>).</p>"
        '<div class="table-wrap"><table class="arms requests"><thead>'
        f'<tr><th rowspan="2">request</th>{head}</tr><tr>{sub}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _request_cell(c: RequestCell) -> str:
    """One request's four cells in one arm."""
    t = c.throughput_per_s
    tput = "—" if t.value is None else f'<span class="num">{t.value:.1f}/s</span>'
    lat = "".join(f"<td>{est_ms(c.latency_ms.get(k, Estimate(None)))}</td>" for k in ("p50", "p99"))
    rate = "—" if c.error_rate is None else f"{c.error_rate:.2%}"
    kinds = "".join(
        f'<span class="kind">{esc(k)}&nbsp;{n}</span>' for k, n in c.errors_by_kind.items()
    )
    return f'<td>{tput}</td>{lat}<td><span class="num">{esc(rate)}</span>{kinds}</td>'


def _validity_notes(r: Report) -> str:
    """Runs flagged (invalid: left out of the figures; aborted; failed) or kept with
    reservations, with the analysis' reasons."""
    items = [f'<li class="doubt">{esc(v)}</li>' for a in r.arms for v in a.validity]
    items += [f"<li>{esc(n)}</li>" for a in r.arms for n in a.notes]
    if not items:
        return ""
    return f'<div class="validity-notes"><h3>* Validity</h3><ul>{"".join(items)}</ul></div>'


def _window_note(r: Report) -> str:
    """Which seconds the arm figures cover."""
    if any(run.window_s for run in r.runs):
        return "over each run's steady window as chosen by the analysis (greyed outside it below)"
    return "warm-up excluded"


def _arm_row(a: ArmRow) -> str:
    """One arm's row."""
    params = " ".join(f"{k}={v}" for k, v in a.params.items())
    t = a.throughput_per_s
    tput = "—" if t.value is None else f'<span class="num">{t.value:.1f}/s</span>'
    if t.low is not None and t.high is not None:
        tput += f'<span class="ci">{t.low:.1f} – {t.high:.1f}</span>'
    lat = "".join(
        f"<td>{est_ms(a.latency_ms.get(k, Estimate(None)))}</td>" for k in ("p50", "p90", "p99")
    )
    rate = "—" if a.error_rate is None else f"{a.error_rate:.2%}"
    kinds = "".join(
        f'<span class="kind">{esc(k)}&nbsp;{n}</span>' for k, n in a.errors_by_kind.items()
    )
    valid = f"{a.valid_runs}/{a.runs} valid"
    slo_detail = a.slo_detail.removeprefix(f"arm {a.arm} ")
    doubts = f'<div class="doubt">{len(a.validity)} flagged*</div>' if a.validity else ""
    doubts += f'<div class="detail">{len(a.notes)} with reservations*</div>' if a.notes else ""
    return (
        f'<tr><th scope="row">{esc(a.arm)}<div class="params">{esc(params)}</div></th>'
        f"<td>{a.runs}</td><td>{tput}</td>{lat}"
        f'<td><span class="num">{esc(rate)}</span>{kinds}</td>'
        f'<td class="slo">{pill(a.slo)}<div class="detail">{esc(slo_detail)}</div></td>'
        f"<td>{esc(valid)}{doubts}</td></tr>"
    )


def _where(f: FindingView) -> str:
    """The arm and run a finding is about, as a small second line."""
    bits = ([f"arm {f.arm}"] if f.arm else []) + ([f"run {f.run_id}"] if f.run_id else [])
    return f'<div class="detail">{esc(" · ".join(bits))}</div>' if bits else ""


def findings_list(findings: Iterable[FindingView]) -> str:
    """Every finding, generically (the report never drops a finding it does not know).

    Folded by default: an appendix for the curious, left out of print.
    """
    items = list(findings)
    rows = "".join(
        f"<tr><td>{esc(f.kind)}</td><td>{esc(f.subject)}{_where(f)}</td>"
        f"<td>{pill(f.status) if f.status else ''}</td>"
        f"<td>{esc(f.summary)}{evidence_list(fields(f.evidence))}</td></tr>"
        for f in items
    )
    if not rows:
        return ""
    return (
        '<section id="findings" class="card"><details class="all-findings"><summary>'
        f'<h2>All findings ({len(items)})</h2></summary><div class="table-wrap">'
        '<table class="findings"><thead><tr><th>kind</th><th>subject</th><th>status</th>'
        f"<th>finding</th></tr></thead><tbody>{rows}</tbody></table></div></details></section>"
    )
