"""A parser for the Prometheus text exposition format (0.0.4; OpenMetrics text reads too).

In: the body of a /metrics page. Out: `Metric`s (name, labels, value) and the declared
`# TYPE` of each family. Lines it cannot read are skipped and counted, because one odd
line from an exporter must not cost every other metric. Written here (about 80 lines)
rather than adding prometheus_client as a dependency.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
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


def parse(text: str) -> Exposition:
    """Parse a whole exposition page."""
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
        metric = parse_line(line)
        if metric is None:
            skipped += 1
        else:
            metrics.append(metric)
    return Exposition(tuple(metrics), types, skipped)


def parse_line(line: str) -> Metric | None:
    """Parse one sample line; None when it is malformed."""
    name_match = _NAME.match(line)
    if name_match is None:
        return None
    name, rest = name_match.group(0), line[name_match.end() :]
    labels: list[tuple[str, str]] = []
    if rest.startswith("{"):
        end = _labels_end(rest)
        if end < 0:
            return None
        body, rest = rest[1:end], rest[end + 1 :]
        pos = 0
        while pos < len(body):
            lab = _LABEL.match(body, pos)
            if lab is None:
                if body[pos:].strip():
                    return None  # something that is not `name="value"`
                break
            labels.append((lab.group(1), _unescape(lab.group(2))))
            pos = lab.end()
    return _finish(name, labels, rest)


def _finish(name: str, labels: list[tuple[str, str]], rest: str) -> Metric | None:
    """Read the value after the labels (a timestamp after it is ignored)."""
    fields = rest.split()
    if not fields:
        return None
    value = _number(fields[0])
    return None if value is None else Metric(name, tuple(labels), value)


def _labels_end(rest: str) -> int:
    """Return the index of the `}` closing the label set, minding quoted values."""
    quoted, escaped = False, False
    for i, ch in enumerate(rest):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "}" and not quoted:
            return i
    return -1


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
