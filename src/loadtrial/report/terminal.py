"""The terminal summary: the verdict section of the report, in rich.

In: a `Report` and a rich Console. Out: printed lines (hypothesis, overall verdict, each
claim with its status and effect, confounders in red, the bottleneck sentence, a compact
arms table). User strings are printed as Text, never parsed as rich markup.
"""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from loadtrial.report.model import Estimate, Report
from loadtrial.report.sections import effect_text, grouped_confounders, ms
from loadtrial.report.verdict import story

STYLE = {
    "supported": "bold green",
    "pass": "bold green",
    "refuted": "bold red",
    "fail": "bold red",
    "mixed": "bold yellow",
    "inconclusive": "bold yellow",
}


def _status(word: str) -> Text:
    """A status word in its colour."""
    return Text(word.upper(), style=STYLE.get(word, "dim"))


def _claims(r: Report) -> Table:
    """One row per claim."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column()
    for c in r.claims:
        body = Text(c.text, style="bold")
        if c.rests_on_confounder:
            body.append("  rests on a confounder", style="bold red")
        if c.summary:
            body.append("\n" + c.summary)
        eff = "" if "95% CI" in c.summary else effect_text(c)  # quoted by the sentence
        if eff:
            body.append("\n" + eff, style="dim")
        table.add_row(_status(c.status), body)
    if not r.claims:
        table.add_row(Text("—", style="dim"), Text("no claims declared"))
    return table


def _arms(r: Report) -> Table:
    """Arms pooled over repetitions."""
    table = Table(box=None, pad_edge=False, header_style="dim")
    # the SLO may judge one request while the figures are the whole run's: say which
    slo = f"SLO ({r.slo_request})" if r.slo_request else "SLO"
    for col in ("arm", "ok/s", "p50", "p99", "errors", slo):
        table.add_column(col, justify="left" if col in ("arm", slo) else "right")
    for a in r.arms:
        t = a.throughput_per_s.value
        table.add_row(
            Text(a.arm),
            "—" if t is None else f"{t:.1f}",
            ms(a.latency_ms.get("p50", Estimate(None)).value),
            ms(a.latency_ms.get("p99", Estimate(None)).value),
            "—" if a.error_rate is None else f"{a.error_rate:.2%}",
            _status(a.slo),
        )
    return table


def print_report_summary(r: Report, console: Console) -> None:
    """Print the verdict section of `r`."""
    parts: list[Table | Text] = [
        Text(r.hypothesis or "(no hypothesis stated)", style="italic"),
        Text(""),
    ]
    told = story(r)
    for key, value in told:
        parts.append(Text(f"{key}: ", style="bold").append(Text(value)))
    parts += [Text(""), _claims(r)] if told else [_claims(r)]
    for fact, why in grouped_confounders(r.confounders).items():
        parts.append(Text(f"⚠ confounder {fact}: {'; '.join(why)}", style="bold red"))
    if r.bottleneck is not None:
        parts += [Text(""), Text("Bottleneck: ", style="bold").append(Text(r.bottleneck.summary))]
    if r.arms:
        parts += [Text(""), _arms(r)]
    title = Text.assemble("verdict: ", _status(r.overall), "  ", Text(r.title, style="bold"))
    console.print(Panel(Group(*parts), title=title, title_align="left", expand=False))
