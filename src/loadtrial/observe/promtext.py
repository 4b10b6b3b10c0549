"""A parser for the Prometheus text exposition format (0.0.4; OpenMetrics text reads too).

In: the body of a /metrics page. Out: `Metric`s (name, labels, value) and the declared
`# TYPE` of each family. Lines it cannot read are skipped and counted, because one odd
line from an exporter must not cost every other metric. Written here (about 80 lines)
rather than adding prometheus_client as a dependency.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from dataclasses import dataclass, field

_LINE = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)')
_NAME_END = re.compile(r"[{\s]")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_SPECIAL = {"+inf": math.inf, "inf": math.inf, "-inf": -math.inf, "nan": math.nan}


@dataclass(frozen=True)
class Metric:
    """One sample line: `name{labels} value`."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class Exposition:
    """A parsed page: samples, family types and how many lines were unreadable."""

    metrics: tuple[Metric, ...]
    types: dict[str, str] = field(default_factory=dict)
    skipped: int = 0


def parse(text: str, wanted: Collection[str] | None = None) -> Exposition:
    """Parse a whole exposition page; with `wanted`, keep only those metric names (the
    other lines are skipped before their labels are read, which is most of the cost)."""
    metrics: list[Metric] = []
    types: dict[str, str] = {}
    skipped = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3].strip().lower()
            continue
        if wanted is not None and _NAME_END.split(line, 1)[0] not in wanted:
            continue
        metric = parse_line(line)
        if metric is None:
            skipped += 1
        else:
            metrics.append(metric)
    return Exposition(tuple(metrics), types, skipped)


def parse_line(line: str) -> Metric | None:
    """Parse one sample line; None when it is malformed."""
    found = _LINE.match(line)
    if found is None:
        return None
    name, body, value_text = found.group(1), found.group(2), found.group(3)
    labels: tuple[tuple[str, str], ...] = ()
    if body and body.strip():
        pairs = _LABEL.findall(body)
        if not pairs or _LABEL.sub("", body).strip(" ,"):
            return None  # something that is not `name="value"`
        labels = tuple((k, _unescape(v) if "\\" in v else v) for k, v in pairs)
    value = _number(value_text)
    return None if value is None else Metric(name, labels, value)


def _unescape(value: str) -> str:
    return re.sub(r'\\[\\"n]', lambda m: _ESCAPES[m.group(0)], value)


def _number(text: str) -> float | None:
    special = _SPECIAL.get(text.lower())
    if special is not None:
        return special
    try:
        return float(text)
    except ValueError:
        return None
