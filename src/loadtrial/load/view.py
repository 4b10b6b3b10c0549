"""Terminal rendering of a load: the live line while it runs, the summary table after.

In: merged IntervalStats as they arrive (`LiveView.update`, called in the caller's thread)
and the dict of `summarize`. Out: rich renderables on a console. The live view shows
elapsed/remaining, this second's rate, p50/p99 and the errors so far; it stays silent when
the console is not a terminal (pipes and tests get the table only).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats, LoadPlan
from loadtrial.load.schedule import total_duration_s
from loadtrial.units import format_duration, format_ms


class LiveView:
    """A one-line live status, refreshed once per second of the run."""

    def __init__(self, plan: LoadPlan, console: Console, enabled: bool = True) -> None:
        self.total_s = total_duration_s(plan.model)
        self.console = console
        self.enabled = enabled and console.is_terminal
        self.errors = 0
        self.completed = 0
        self._live: Live | None = None

    def __enter__(self) -> LiveView:
        if self.enabled:
            self._live = Live(Text("starting…"), console=self.console, auto_refresh=False)
            self._live.__enter__()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(t, e, tb)
            self._live = None

    def update(self, iv: IntervalStats) -> None:
        """Account one merged second and redraw."""
        self.errors += sum(iv.errors.values())
        self.completed += iv.completed
        if self._live is not None:
            self._live.update(self.render(iv), refresh=True)

    def render(self, iv: IntervalStats) -> Text:
        """Return the status line for second `iv.second`."""
        q = hdr.quantiles_us(hdr.decode(iv.latency_hist), [50.0, 99.0])
        elapsed = iv.second + 1
        remaining = max(0.0, self.total_s - elapsed)
        left = format_duration(remaining) if remaining > 0 else "0s"
        when = (
            f"({left} left)  "
            if elapsed <= self.total_s + 1e-9
            else "(schedule done, last answers)  "  # a drain second after the schedule
        )
        return Text.assemble(
            (f"{format_duration(min(elapsed, self.total_s))} ", "bold"),
            when,
            (f"{iv.completed}/s", "cyan"),
            f" of {iv.offered} offered  p50 {format_ms(q[50.0])}  p99 {format_ms(q[99.0])}  ",
            (f"errors {self.errors}", "red" if self.errors else "green"),
            f"  late {iv.late}  dropped {iv.dropped}",
        )


def summary_table(summary: dict[str, Any], interrupted: bool = False) -> RenderableType:
    """Return the end-of-run table of a `summarize` dict, followed by a table of the
    requests when the run had more than one request name."""
    whole = _whole_table(summary, interrupted)
    if len(summary["requests"]) < 2:
        return whole
    return Group(whole, requests_table(summary["requests"]))


def requests_table(per_request: dict[str, dict[str, Any]]) -> Table:
    """One row per request name: counts, error rate, errors by kind and latency (ms)."""
    table = Table(title="per request")
    table.add_column("request", no_wrap=True)
    for col in ("finished", "ok", "error rate", "p50", "p90", "p99", "max"):
        table.add_column(col, justify="right")
    table.add_column("errors", no_wrap=True)
    for name, r in per_request.items():
        lat = r["latency_ms"]
        rate = "-" if r["error_rate"] is None else f"{r['error_rate']:.2%}"
        errors = ", ".join(f"{k} {n}" for k, n in r["errors"].items()) or "none"
        table.add_row(
            name, str(r["completed"]), str(r["ok"]), rate,
            *(f"{lat[k]:g}ms" for k in ("p50", "p90", "p99", "max")), errors,
        )  # fmt: skip
    return table


def _whole_table(summary: dict[str, Any], interrupted: bool) -> Table:
    """The table of the whole run."""
    title = f"loadtrial load {summary['target']} ({summary['model']} model)"
    table = Table(title=title + (" — interrupted" if interrupted else ""), show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    s = summary
    table.add_row("duration", f"{s['duration_s']:g} s")
    table.add_row("requests", f"{s['completed']} finished, {s['ok']} ok")
    table.add_row(
        "rate", f"{s['achieved_rate_per_s']:g}/s achieved of {s['offered_rate_per_s']:g}/s offered"
    )
    for key, label in (("latency_ms", "latency"), ("uncorrected_latency_ms", "uncorrected")):
        lat = s[key]
        table.add_row(label, "  ".join(f"{k} {lat[k]:g}ms" for k in lat))
    errors = ", ".join(f"{k} {n}" for k, n in s["errors"].items()) or "none"
    table.add_row("errors", errors)
    table.add_row("late / dropped", f"{s['late']} / {s['dropped']}")
    gen = s["generator"]
    table.add_row(
        "generator", f"cpu {gen['cpu_percent']:g}%  max send lag {gen['max_send_lag_ms']:g}ms"
    )
    verdict = "valid" if s["valid"] else "INVALID: " + "; ".join(s["invalid_reasons"])
    table.add_row("run", Text(verdict, style="green" if s["valid"] else "bold red"))
    return table
