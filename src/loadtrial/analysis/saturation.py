"""USE per resource: utilisation, sustained saturation and errors of each observed series.

In: a run's `Series` (values on the run clock, with a capacity where the observer knows
one) and the run's steady window. Out: one `ResourceUse` per series that has a capacity or
counts errors, and `saturation` findings for the ones that saturated or erred.

Conventions: utilisation = value / capacity (a series in unit "ratio" without capacity is
taken against 1, "percent" against 100). Saturated = utilisation ≥ 90 % for ≥ 3 s in a
row. An error series is one whose name mentions refused / rejected / error / too_many /
timeout (e.g. `db.connect.refused`); errors "began" at its first increase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loadtrial.analysis.windows import Window
from loadtrial.findings import Evidence, Finding, ResourceErrors, ResourceSaturated
from loadtrial.observe.model import is_use
from loadtrial.store.model import Series

FloatArray = npt.NDArray[np.float64]
SATURATED_UTIL = 0.90
SUSTAINED_S = 3.0
ERROR_WORDS = ("refused", "rejected", "error", "too_many", "timeout", "dropped")
# load averages smooth a whole machine's run queue over minutes: no timing at 1 s, no owner
SMOOTHED_SUFFIXES = (".load.1m", ".load.5m", ".load.15m")


@dataclass(frozen=True)
class ResourceUse:
    """USE figures of one series in one run (times in run seconds)."""

    name: str  # series name, "db.connections.used"
    tier: str
    capacity: float | None
    peak_util: float  # NaN for an error-only series
    mean_util: float  # over the steady window
    saturated_at_s: float | None  # start of the first sustained saturation
    saturated_s: float  # total seconds at or above the saturation level
    saturated_share: float  # share of the steady window's samples at or above it
    is_error: bool
    errors_at_s: float | None  # first increase of an error series
    error_total: float
    util_per_s: FloatArray  # utilisation (or error values) on integer run seconds
    unit: str = ""  # the series' unit: "count", "ratio", "percent", ...

    @property
    def of_capacity(self) -> str:
        """ " of 17" for a count against its limit; "" for a ratio or percentage, whose
        capacity (1, 100 × cores) says nothing a percentage does not."""
        return of_capacity(self.capacity, self.unit)

    @property
    def resource(self) -> str:
        """The name without its tier: "connections.used"."""
        return self.name.split(".", 1)[1] if "." in self.name else self.name


def of_capacity(capacity: float | None, unit: str) -> str:
    """ " of 17", or "" when the capacity is a unit's own scale (ratio, percent) or unknown."""
    if capacity is None or unit in ("ratio", "percent"):
        return ""
    return f" of {capacity:g}"


def capacity_of(series: Series) -> float | None:
    """The capacity to divide by, following the module's conventions."""
    if series.capacity is not None and series.capacity > 0:
        return float(series.capacity)
    return {"ratio": 1.0, "percent": 100.0}.get(series.unit)


def is_error_series(name: str) -> bool:
    """True when the series counts failures rather than use."""
    low = name.lower()
    return any(word in low for word in ERROR_WORDS)


def per_second(t_s: FloatArray, values: FloatArray, n_seconds: int) -> FloatArray:
    """Values on integer run seconds 0..n-1 (last sample at or before; NaN before any)."""
    out = np.full(n_seconds, np.nan)
    if t_s.size == 0 or n_seconds == 0:
        return out
    order = np.argsort(t_s, kind="stable")
    t, v = t_s[order], values[order]
    idx = np.searchsorted(t, np.arange(n_seconds) + 0.999, side="right") - 1
    ok = idx >= 0
    out[ok] = v[idx[ok]]
    return out


def _first_sustained(
    t: FloatArray, hot: npt.NDArray[np.bool_], window: Window
) -> tuple[float | None, float]:
    """Start of the first stretch of `hot` samples lasting ≥ SUSTAINED_S that reaches into
    the analysed window (it may have begun in a ramp just before it; one that ended in the
    warm-up does not count), and the hot time inside the window."""
    if t.size == 0:
        return None, 0.0
    step = float(np.median(np.diff(t))) if t.size > 1 else 1.0
    first: float | None = None
    start: int | None = None
    for i, flag in enumerate([*hot.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            long = float(t[i - 1] - t[start]) + step >= SUSTAINED_S
            overlaps = float(t[i - 1]) >= window.start_s and float(t[start]) < window.end_s
            if first is None and long and overlaps:
                first = float(t[start])
            start = None
    inside = (t >= window.start_s) & (t < window.end_s)
    return first, float((hot & inside).sum()) * step


def _error_began(t: FloatArray, v: FloatArray) -> float | None:
    """First time an error series shows errors (a rate > 0, or a counter increase)."""
    if v.size == 0:
        return None
    monotonic = bool(np.all(np.diff(v) >= 0))
    base = float(v[0]) if monotonic and v[0] > 0 else 0.0
    hits = np.flatnonzero(v > base)
    return float(t[hits[0]]) if hits.size else None


def error_total(t: FloatArray, v: FloatArray, unit: str) -> float:
    """How many errors a series counted: a counter's increase; a rate (unit `per_s`)
    integrated over each sample's interval (rate × seconds since the previous sample,
    which gives back the counter's increments exactly); else the sum of the samples."""
    if v.size == 0:
        return 0.0
    if unit == "per_s":
        dt = np.diff(t, prepend=t[0] - (float(np.median(np.diff(t))) if t.size > 1 else 1.0))
        return float(np.nansum(v * dt))
    if v.size > 1 and bool(np.all(np.diff(v) >= 0)):
        return float(v[-1] - v[0])
    return float(np.nansum(v))


def count_text(total: float) -> str:
    """An error total as a person reads it: whole numbers from 10 up, 3 digits below."""
    return f"{total:,.0f}" if abs(total) >= 10 else f"{total:.3g}"


def resource_use(series: Series, window: Window, n_seconds: int) -> ResourceUse | None:
    """USE figures of one series, or None when it has neither a capacity nor errors."""
    t = np.asarray(series.t_s, dtype=np.float64)
    v = np.asarray(series.values, dtype=np.float64)
    if is_error_series(series.name):
        began = _error_began(t, v)
        total = error_total(t, v, series.unit)
        grid = per_second(t, v, n_seconds)
        return ResourceUse(
            series.name,
            series.tier,
            None,
            float("nan"),
            float("nan"),
            None,
            0.0,
            0.0,
            True,
            began,
            total,
            grid,
        )
    cap = capacity_of(series)
    if cap is None or v.size == 0:
        return None
    util = v / cap
    sat_at, sat_s = _first_sustained(t, util >= SATURATED_UTIL, window)
    in_win = (t >= window.start_s) & (t < window.end_s)
    seen = util[in_win] if in_win.any() else util  # the analysed window decides
    share = float(np.mean(util[in_win] >= SATURATED_UTIL)) if in_win.any() else 0.0
    grid = per_second(t, util, n_seconds)
    return ResourceUse(
        series.name,
        series.tier,
        cap,
        float(np.max(seen)),
        float(np.mean(seen)),
        sat_at,
        sat_s,
        share,
        False,
        None,
        0.0,
        grid,
        series.unit,
    )


def run_resources(series: Sequence[Series], window: Window, n_seconds: int) -> list[ResourceUse]:
    """USE figures of every usable series of one run.

    Limits and health counts are skipped; `x.percent` is skipped when `x.util` exists
    (observers report CPU both ways, one resource).
    """
    names = {s.name for s in series}
    keep = [
        s
        for s in series
        if is_use(s.name)
        and not s.name.endswith(SMOOTHED_SUFFIXES)
        and not (s.name.endswith(".percent") and s.name[: -len("percent")] + "util" in names)
    ]
    out = [resource_use(s, window, n_seconds) for s in keep]
    return [u for u in out if u is not None]


def saturation_findings(uses: Sequence[ResourceUse], arm: str, run_id: int) -> list[Finding]:
    """`saturation` findings for resources that saturated or reported errors."""
    out: list[Finding] = []
    for u in uses:
        if u.is_error and u.errors_at_s is not None:
            text = (
                f"{u.name}: errors from t={u.errors_at_s:.0f}s (total {count_text(u.error_total)})"
            )
            ev: Evidence = ResourceErrors(u.errors_at_s, round(u.error_total, 3), u.name, u.tier)
            out.append(Finding("saturation", u.name, text, "errors", ev, arm, run_id))
        elif u.saturated_at_s is not None:
            text = (
                f"{u.name} saturated from t={u.saturated_at_s:.0f}s: peak {u.peak_util:.0%}"
                f"{u.of_capacity}, {u.saturated_s:.0f}s at ≥ {SATURATED_UTIL:.0%}"
            )
            ev = ResourceSaturated(
                u.saturated_at_s, u.peak_util, u.mean_util, u.capacity, u.saturated_s, u.name,
                u.tier,
            )  # fmt: skip
            out.append(Finding("saturation", u.name, text, "saturated", ev, arm, run_id))
    return out
