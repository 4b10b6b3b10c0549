"""Reading and checking one `observe:` entry, shared by every observer kind.

In: the entry mapping (keys `kind`, `as`, `interval`, `timeout` and the kind's own) and its
field path ("observe[0]"). Out: typed values for `create`, and `Problem`s for `problems`
(every mistake at once, each naming its field, so a typo such as `dns:` for `dsn:` is one
clear sentence rather than a silent default).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from loadtrial.errors import Problem
from loadtrial.units import parse_duration_s

COMMON_KEYS = frozenset({"kind", "as", "as_", "interval", "timeout"})
_TIER = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")

Check = Callable[[Any], str]  # returns "" when the value is fine, else what is wrong


def tier(entry: Mapping[str, Any], default: str) -> str:
    """Return the tier alias (`as:`), or `default` (the kind) when not given."""
    alias = entry.get("as") or entry.get("as_") or ""
    return str(alias) if alias else default


def interval_s(entry: Mapping[str, Any]) -> float | None:
    """Return the entry's own sampling interval in seconds (None: the sampler's)."""
    raw = entry.get("interval")
    return None if raw is None else parse_duration_s(raw)


def timeout_s(entry: Mapping[str, Any], default: float) -> float:
    """Return the entry's network timeout in seconds (`timeout: 2s`)."""
    raw = entry.get("timeout")
    return default if raw is None else parse_duration_s(raw)


def is_str(value: Any) -> str:
    return "" if isinstance(value, str) and value.strip() else "expected a non-empty string"


def is_bool(value: Any) -> str:
    return "" if isinstance(value, bool) else "expected true or false"


def is_number(value: Any) -> str:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return "" if ok else "expected a number"


def is_duration(value: Any) -> str:
    try:
        parse_duration_s(value)
    except (ValueError, TypeError, AttributeError) as exc:
        return str(exc) or "expected a duration such as 2s"
    return ""


def is_str_list(value: Any) -> str:
    ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
    return "" if ok else "expected a list of strings"


def is_regex(value: Any) -> str:
    if not isinstance(value, str):
        return "expected a regular expression (a string)"
    try:
        re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    return ""


def check_entry(
    entry: Mapping[str, Any],
    path: str,
    checks: Mapping[str, Check],
    required: tuple[str, ...] = (),
) -> list[Problem]:
    """Return problems: missing required keys, unknown keys, wrong values, a bad alias."""
    problems: list[Problem] = []
    for key in required:
        if entry.get(key) in (None, ""):
            problems.append(Problem(f"{path}.{key}", f"{key} is required"))
    known = COMMON_KEYS | set(checks)
    for key in entry:
        if key not in known:
            hint = "known keys: " + ", ".join(sorted(k for k in known if k != "as_"))
            problems.append(Problem(f"{path}.{key}", f"unknown key {key!r}", hint))
    for key, check in {**checks, "interval": is_duration, "timeout": is_duration}.items():
        value = entry.get(key)
        if value is not None and (why := check(value)):
            problems.append(Problem(f"{path}.{key}", why))
    alias = entry.get("as") or entry.get("as_")
    if alias and not (isinstance(alias, str) and _TIER.fullmatch(alias)):
        problems.append(
            Problem(f"{path}.as", f"bad tier alias {alias!r}", "use letters, digits, - or _")
        )
    return problems
