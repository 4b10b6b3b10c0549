"""What the user sees while a trial runs: arm, repetition, progress, ETA, rate/p99/errors.

In: the runner's events (a run starts, a second is measured, a run ends, a note).
Out: a rich live panel refreshed once per second on a terminal, or one plain line per
event otherwise (CI logs, `live=False`). Refreshes happen in the caller's thread only.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table

from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats
from loadtrial.units import format_duration, format_ms


@dataclass(frozen=True)
class RunHeader:
    """Which run is starting and where the trial stands."""

    arm: str
    repetition: int
    index: int  # 0-based position in the plan
    total: int
    run_s: float  # planned seconds of load in this run
    eta_s: float  # estimated seconds left in the whole trial, this run included


def second_line(stats: IntervalStats) -> str:
    """'rate 98/s  p99 12.30ms  errors 0 (0.0%)' for one second."""
    hist = histogram.decode(stats.latency_hist)
    p99 = histogram.quantiles_us(hist, [99.0])[99.0]
    errors = sum(stats.errors.values())
    share = errors / stats.completed if stats.completed else 0.0
    return f"rate {stats.completed}/s  p99 {format_ms(p99)}  errors {errors} ({share:.1%})"


class View:
    """Plain lines; the base of the live view."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._header: RunHeader | None = None

    def start_run(self, header: RunHeader) -> None:
        """A run begins."""
        self._header = header
        self.console.print(
            f"run {header.index + 1}/{header.total}: arm {header.arm} rep {header.repetition}"
            f" ({format_duration(header.run_s)}, trial ETA {format_duration(header.eta_s)})"
        )

    def second(self, stats: IntervalStats) -> None:
        """One second was measured (plain view: silent, to keep logs short)."""

    def end_run(self, status: str, reason: str) -> None:
        """A run ended."""
        self.console.print(
            f"  -> {status}" + (f": {reason}" if reason else ""), markup=False, highlight=False
        )

    def note(self, text: str) -> None:
        """A message for the user (abort, env change, revert)."""
        self.console.print(f"  {text}", markup=False, highlight=False)

    def close(self) -> None:
        """Release the terminal."""


class LiveView(View):
    """A rich panel updated once per measured second."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._live = Live(console=console, auto_refresh=False, transient=False)
        self._live.start()
        self._last = "waiting for the first second"
        self._second = 0

    def start_run(self, header: RunHeader) -> None:
        self._header = header
        self._last, self._second = "starting", 0
        self._refresh()

    def second(self, stats: IntervalStats) -> None:
        self._last, self._second = second_line(stats), stats.second + 1
        self._refresh()

    def end_run(self, status: str, reason: str) -> None:
        super().end_run(status, reason)

    def note(self, text: str) -> None:
        self._live.console.print(f"  {text}", markup=False, highlight=False)

    def _refresh(self) -> None:
        h = self._header
        if h is None:
            return
        # Counted in measured seconds of load, not wall time: applying the arm and the
        # workers' start take time the estimate leaves out, and would make it run ahead.
        left = max(0.0, h.eta_s - min(self._second, h.run_s))
        table = Table.grid(padding=(0, 2))
        table.add_row("run", f"{h.index + 1}/{h.total}", "arm", h.arm, "rep", str(h.repetition))
        table.add_row(
            "second",
            f"{min(self._second, round(h.run_s))}/{h.run_s:.0f}",
            "trial ETA",
            format_duration(left),
            "",
            "",
        )
        table.add_row("now", self._last, "", "", "", "")
        self._live.update(table, refresh=True)

    def close(self) -> None:
        self._live.stop()


def make_view(console: Console, live: bool) -> View:
    """The live panel on a terminal when asked for, plain lines otherwise."""
    return LiveView(console) if live and console.is_terminal else View(console)
