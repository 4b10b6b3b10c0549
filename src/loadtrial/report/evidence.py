"""Tolerant readers of a finding's evidence, so the report never breaks on a new shape.

In: a Finding's `evidence` mapping (JSON-able, keys chosen by the analysis). Out: the few
things the report places specially (an effect and its interval, a time range, an onset, a
snapshot key, USL terms), each None when absent; everything else is rendered generically.
Several spellings are accepted because the analysis lands in parallel with this code.
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


def first_number(ev: Mapping[str, Any], *keys: str) -> float | None:
    """Return the first of `keys` whose value is a finite number."""
    for key in keys:
        found = number(ev.get(key))
        if found is not None:
            return found
    return None


def pair(value: Any) -> tuple[float, float] | None:
    """Return (a, b) from a two-number list/tuple or a {low, high} mapping."""
    if isinstance(value, Mapping):
        a = first_number(value, "low", "lo", "start", "start_s", "from")
        b = first_number(value, "high", "hi", "end", "end_s", "to")
    elif isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        a, b = number(value[0]), number(value[1])
    else:
        return None
    return (a, b) if a is not None and b is not None else None


def effect(ev: Mapping[str, Any]) -> tuple[float | None, float | None, float | None]:
    """Return (effect, ci_low, ci_high) of a verdict or comparison finding.

    A relative change with its interval is preferred (readable across metrics), then an
    absolute difference with its bootstrap interval, then a generic `effect`/`ci`.
    """
    for value_key, ci_key in (("relative", "relative_ci"), ("difference", "boot_ci")):
        value, ci = number(ev.get(value_key)), pair(ev.get(ci_key))
        if value is not None:
            return value, ci[0] if ci else None, ci[1] if ci else None
    value = first_number(ev, "effect", "relative_change", "diff", "delta")
    ci = pair(ev.get("ci")) or pair(ev.get("ci95")) or pair(ev.get("interval"))
    low = ci[0] if ci else first_number(ev, "ci_low", "low", "lower")
    high = ci[1] if ci else first_number(ev, "ci_high", "high", "upper")
    return value, low, high


def effect_unit(ev: Mapping[str, Any]) -> str:
    """Return the unit the effect is expressed in ("relative …" for a relative change)."""
    unit = ev.get("effect_unit") or ev.get("unit") or ""
    unit = unit if isinstance(unit, str) else ""
    if number(ev.get("relative")) is not None and "effect_unit" not in ev:
        metric = ev.get("metric")
        return "relative" + (f" {metric}" if isinstance(metric, str) else "")
    return unit


def time_range(ev: Mapping[str, Any]) -> tuple[float, float] | None:
    """Return the (start_s, end_s) a saturation or violation covers, if stated."""
    for key in ("time_range", "range", "window", "t_range", "interval_s"):
        found = pair(ev.get(key))
        if found:
            return found
    start = first_number(
        ev, "start_s", "from_s", "t_start", "start", "saturated_at_s", "errors_at_s", "onset_s"
    )
    end = first_number(ev, "end_s", "to_s", "t_end", "end")
    if start is None:
        return None
    if end is None:
        lasted = first_number(ev, "saturated_s", "duration_s")
        end = start + lasted if lasted is not None else start
    return start, end


def onset(ev: Mapping[str, Any]) -> float | None:
    """Return the onset (run-clock seconds) of a bottleneck or saturation."""
    found = first_number(ev, "onset_s", "onset", "onset_t_s", "t_s", "start_s")
    if found is None and isinstance(ev.get("onset"), Mapping):
        found = first_number(ev["onset"], "t_s", "at", "time", "start_s")
    return found


def series_names(ev: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the metric series a finding points at (names like "db.connections.used")."""
    names: list[str] = []
    for key in ("series", "metric", "metrics", "resource_series", "name"):
        value = ev.get(key)
        if isinstance(value, str):
            names.append(value)
        elif isinstance(value, Sequence):
            names.extend(v for v in value if isinstance(v, str))
    tier, resource = ev.get("tier"), ev.get("resource")
    if isinstance(tier, str) and isinstance(resource, str):
        names.append(resource if resource.startswith(tier + ".") else f"{tier}.{resource}")
    return tuple(dict.fromkeys(names))


def confounder_keys(f: FindingView) -> tuple[str, ...]:
    """Return the snapshot keys a confounder finding names."""
    keys: list[str] = []
    for key in ("key", "fact", "keys", "facts"):
        value = f.evidence.get(key)
        if isinstance(value, str):
            keys.append(value)
        elif isinstance(value, Sequence):
            keys.extend(v for v in value if isinstance(v, str))
    return tuple(keys) or (f.subject,)


def usl_points(ev: Mapping[str, Any]) -> list[tuple[float, float]]:
    """Return the (N, throughput) points of a scalability finding."""
    raw = ev.get("points") or ev.get("data") or []
    out: list[tuple[float, float]] = []
    if isinstance(raw, Sequence):
        for item in raw:
            p = pair(item)
            if p is None and isinstance(item, Mapping):
                n = first_number(item, "n", "N", "x", "nodes", "users", "rate", "load")
                x = first_number(item, "throughput", "x_per_s", "y", "value", "tput")
                p = (n, x) if n is not None and x is not None else None
            if p:
                out.append(p)
    return out


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
