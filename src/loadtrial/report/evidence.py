"""Readers of a finding's evidence: the few figures the report places specially.

In: a finding's typed evidence (loadtrial.findings: one class per kind and shape). Out: an
effect and its interval, a time range, an onset, series names, a snapshot key, USL points,
each None or empty when the evidence is of another shape; everything else is rendered
generically from `evidence_json` (the same keys `analyze --json` prints). Also `doc`: a
report dataclass as JSON-able data, evidence flattened to those keys (the page's charts
and `report --format json` read them).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from loadtrial.findings import (
    BottleneckEvidence,
    ComparisonEvidence,
    ConfounderEvidence,
    Evidence,
    Finding,
    ResourceErrors,
    ResourceSaturated,
    SloEvidence,
    UslFit,
    UslNotFitted,
    VerdictEvidence,
    evidence_json,
)
from loadtrial.report.model import Band, FindingView


def number(value: object) -> float | None:
    """Return `value` as a finite float, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def effect(e: Evidence | None) -> tuple[float | None, float | None, float | None]:
    """(relative change, its 95 % interval) of a comparison or of a claim judged from one;
    Nones for a claim without one (meets_slo), for other evidence and for no estimate."""
    found = e.effect if isinstance(e, VerdictEvidence | ComparisonEvidence) else None
    if found is None:
        return None, None, None
    low, high = found.relative_ci
    return number(found.relative), number(low), number(high)


def effect_unit(e: Evidence | None) -> str:
    """ "relative <metric>" for a claim with a relative change, else ""."""
    if not isinstance(e, VerdictEvidence) or e.effect is None:
        return ""
    if number(e.effect.relative) is None:
        return ""
    return "relative" + (f" {e.effect.metric}" if e.effect.metric else "")


def time_range(e: Evidence) -> tuple[float, float] | None:
    """(start_s, end_s) a saturation covers, or the moment a resource's errors began."""
    if isinstance(e, ResourceSaturated):
        return e.saturated_at_s, e.saturated_at_s + e.saturated_s
    if isinstance(e, ResourceErrors):
        return e.errors_at_s, e.errors_at_s
    return None


def onset(e: Evidence) -> float | None:
    """The onset of latency/errors (run-clock seconds) a bottleneck was timed against."""
    return number(e.onset_s) if isinstance(e, BottleneckEvidence) else None


def series_names(e: Evidence) -> tuple[str, ...]:
    """The series a saturation or a bottleneck (its saturated resource) points at."""
    if isinstance(e, ResourceSaturated | ResourceErrors):
        return (e.series,)
    if isinstance(e, BottleneckEvidence) and e.limit is not None:
        return (e.limit.resource,)
    return ()


def confounder_keys(f: FindingView) -> tuple[str, ...]:
    """The snapshot key a confounder finding names (its fact)."""
    return (f.evidence.fact,) if isinstance(f.evidence, ConfounderEvidence) else (f.subject,)


def usl_points(e: Evidence) -> list[tuple[float, float]]:
    """The (N, throughput) points of a scalability finding."""
    if isinstance(e, UslFit | UslNotFitted):
        return [p for p in e.points if all(math.isfinite(x) for x in p)]
    return []


def window(e: Evidence) -> tuple[float, float] | None:
    """The steady window a run's slo finding was measured on."""
    if isinstance(e, SloEvidence) and e.window and e.window.end_s > e.window.start_s:
        return float(e.window.start_s), float(e.window.end_s)
    return None


def view(f: Finding) -> FindingView:
    """Return the report's view of a finding."""
    return FindingView(
        kind=str(f.kind),
        subject=f.subject,
        summary=f.summary,
        status=f.status,
        arm=f.arm,
        run_id=f.run_id,
        evidence=f.evidence,
    )


def fields(e: Evidence | None) -> dict[str, Any]:
    """The evidence as JSON-able key/values (empty for none), for generic display."""
    out = jsonable(evidence_json(e)) if e is not None else {}
    return out if isinstance(out, dict) else {}


def doc(value: object) -> Any:
    """A report dataclass (or anything in one) as JSON-able data; evidence becomes the
    flat object of `evidence_json`, as `dataclasses.asdict` cannot do."""
    if isinstance(value, Evidence):
        return fields(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: doc(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): doc(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [doc(v) for v in value]
    return value


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
    """Return the shaded range of a saturation finding."""
    rng = time_range(f.evidence)
    return Band(rng[0], rng[1], label) if rng else None
