"""Parsing and formatting of the units users write: durations, rates, percentages, sizes.

In: strings such as "30s", "500ms", "2m", "1h30m", "0.1%", "1.5k". Out: floats in the
unit the name says (seconds, fraction, count). Bad input raises ValueError with a message
fit to show a user (the caller adds file, line and field). `Duration` and `Fraction` are
the same parsers as pydantic field types, for every model of the file boundary (spec,
observer and provider settings).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(us|µs|ms|s|m|h)")
_DURATION_SCALE_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration_s(value: str | float | int) -> float:
    """Return seconds for "250ms", "30s", "2m", "1h30m" or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(f"expected a duration such as 500ms, 30s, 2m or 1h, got {value!r}")
            seconds = sum(float(n) * _DURATION_SCALE_S[u] for n, u in parts)
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds


def parse_fraction(value: str | float | int) -> float:
    """Return a fraction for "0.1%" (0.001), "5%" (0.05) or a bare fraction 0.05."""
    if isinstance(value, bool):
        raise ValueError(f"expected a percentage such as 0.1%, got {value!r}")
    if isinstance(value, int | float):
        frac = float(value)
    else:
        text = value.strip()
        try:
            frac = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected a percentage such as 0.1% or 5%, got {value!r}") from None
    if not 0.0 <= frac <= 1.0:
        raise ValueError(f"a percentage must lie between 0% and 100%, got {value!r}")
    return frac


def format_duration(seconds: float) -> str:
    """Return a short human form: 850ms, 12.5s, 3m20s, 1h05m."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s".replace(".0s", "s")
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_ms(micros: float) -> str:
    """Return a latency given in microseconds as milliseconds with sensible precision."""
    ms = micros / 1000.0
    if ms < 10:
        return f"{ms:.2f}ms"
    if ms < 1000:
        return f"{ms:.0f}ms"
    return f"{ms / 1000:.2f}s"


def _duration(value: Any) -> float:
    return parse_duration_s(value)


def _fraction(value: Any) -> float:
    return parse_fraction(value)


# Written as "30s", "500ms", "2m" or a number of seconds; held as float seconds.
Duration = Annotated[
    float,
    BeforeValidator(_duration),
    WithJsonSchema(
        {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "examples": ["30s"]}]}
    ),
]
# Written as "0.1%" or a fraction; held as a float fraction.
Fraction = Annotated[
    float,
    BeforeValidator(_fraction),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1}, {"type": "string"}]}),
]
