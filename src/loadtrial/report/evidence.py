"""Readers of a finding's evidence: the few figures the report places specially.

In: a Finding's `evidence` mapping, with the keys the analysis writes (one spelling each:
docs/analysis.md). Out: an effect and its interval, a time range, an onset, series names,
a snapshot key, USL points, each None or empty when absent (a finding of another shape
never breaks the report); everything else is rendered generically.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from loadtrial.findings import Finding
from loadtrial.report.model import Band, FindingView


def number(value: Any) -> float | None:
    """Return `value` as a finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def pair(value: Any) -> tuple[float, float] | None:
    """Return (a, b) from a two-number list or tuple (the analysis' intervals and points)."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        a, b = number(value[0]), number(value[1])
        return (a, b) if a is not None and b is not None else None
    return None


def effect(ev: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(relative change, its 95 % interval) of a comparison or of a claim judged from one
    (`relative`, `relative_ci`); Nones for a claim without a comparison (meets_slo)."""
    value, ci = number(ev.get("relative")), pair(ev.get("relative_ci"))
    return value, ci[0] if ci else None, ci[1] if ci else None


def effect_unit(ev: Mapping[str, Any]) -> str:
    """ "relative <metric>" for a relative change, else ""."""
    if number(ev.get("relative")) is None:
        return ""
    metric = ev.get("metric")
    return "relative" + (f" {metric}" if isinstance(metric, str) else "")


def time_range(ev: Mapping[str, Any]) -> tuple[float, float] | None:
    """(start_s, end_s) a saturation covers (`saturated_at_s` + `saturated_s`), or the
    moment errors began (`errors_at_s`)."""
    start = number(ev.get("saturated_at_s"))
    if start is not None:
        return start, start + (number(ev.get("saturated_s")) or 0.0)
    began = number(ev.get("errors_at_s"))
    return (began, began) if began is not None else None


def onset(ev: Mapping[str, Any]) -> float | None:
    """The onset of latency/errors (run-clock seconds) a bottleneck was timed against."""
    return number(ev.get("onset_s"))


def series_names(ev: Mapping[str, Any]) -> tuple[str, ...]:
    """The series a saturation (`series`) or a bottleneck (`resource`) points at."""
    names = [ev[k] for k in ("series", "resource") if isinstance(ev.get(k), str)]
    return tuple(dict.fromkeys(names))


def confounder_keys(f: FindingView) -> tuple[str, ...]:
    """The snapshot key a confounder finding names (`fact`)."""
    fact = f.evidence.get("fact")
    return (fact,) if isinstance(fact, str) else (f.subject,)


def usl_points(ev: Mapping[str, Any]) -> list[tuple[float, float]]:
    """The (N, throughput) points of a scalability finding (`points`)."""
    raw = ev.get("points")
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        return []
    return [p for p in (pair(item) for item in raw) if p is not None]


def view(f: Finding) -> FindingView:
    """Return a JSON-able view of a finding (evidence made safe for json.dumps)."""
    return FindingView(
        kind=str(f.kind),
        subject=f.subject,
        summary=f.summary,
        status=f.status,
        arm=f.arm,
        run_id=f.run_id,
        evidence=jsonable(f.evidence),
    )


def jsonable(value: Any, depth: int = 0) -> Any:
    """Return `value` with numpy scalars/arrays, tuples and odd keys made JSON-able."""
    if depth > 8:
        return str(value)
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars
        return jsonable(tolist(), depth + 1)
    if isinstance(value, Sequence | set | frozenset):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


def band_of(f: FindingView, label: str) -> Band | None:
    """Return the shaded range of a saturation finding, if its evidence gives one."""
    rng = time_range(f.evidence)
    return Band(rng[0], rng[1], label) if rng else None
