"""Reading one `observe:` entry, shared by every observer kind.

In: the entry mapping as the user wrote it (keys `kind`, `as`, `interval`, `timeout` and the
kind's own), its shape already checked by its model in `observe.settings` (types, unknown
keys, required keys). Out: typed values for `create`, and for `problems` the checks a type
cannot express (a regular expression that does not compile), each naming its field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from loadtrial.errors import Problem
from loadtrial.units import parse_duration_s


def tier(entry: Mapping[str, Any], default: str) -> str:
    """Return the tier alias (`as:`), or `default` (the kind) when not given."""
    alias = entry.get("as") or ""
    return str(alias) if alias else default


def interval_s(entry: Mapping[str, Any]) -> float | None:
    """Return the entry's own sampling interval in seconds (None: the sampler's)."""
    raw = entry.get("interval")
    return None if raw is None else parse_duration_s(raw)


def timeout_s(entry: Mapping[str, Any], default: float) -> float:
    """Return the entry's network timeout in seconds (`timeout: 2s`)."""
    raw = entry.get("timeout")
    return default if raw is None else parse_duration_s(raw)


def is_regex(value: Any) -> str:
    if not isinstance(value, str):
        return "expected a regular expression (a string)"
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return ""


def regex_problems(entry: Mapping[str, Any], path: str, keys: tuple[str, ...]) -> list[Problem]:
    """A problem for each of `keys` whose value does not compile as a regular expression."""
    return [
        Problem(f"{path}.{key}", why)
        for key in keys
        if entry.get(key) is not None and (why := is_regex(entry[key]))
    ]
