"""Parsing of durations and percentages, and the Problem line format."""

from __future__ import annotations

import pytest

from loadtrial.errors import Problem, SpecError
from loadtrial.units import format_duration, parse_duration_s, parse_fraction


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("500ms", 0.5),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        (7, 7.0),
        ("250us", 0.00025),
        ("12", 12.0),
    ],
)
def test_parse_duration(text: str | int, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "5x", "s", "-3s", "3 sec", True])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration_s(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "frac"), [("0.1%", 0.001), ("5%", 0.05), (0.2, 0.2), ("100%", 1)])
def test_parse_fraction(text: str | float, frac: float) -> None:
    assert parse_fraction(text) == pytest.approx(frac)


@pytest.mark.parametrize("bad", ["abc%", "150%", -0.1, "x"])
def test_parse_fraction_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="percentage"):
        parse_fraction(bad)  # type: ignore[arg-type]


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0.25, 12, 200, 3900)] == ["250ms", "12s", "3m20s", "1h05m"]


def test_problem_renders_file_line_field_hint() -> None:
    p = Problem("load.stages[1].rate", "must be ≥ 0", "use a rate such as 100", "t.yaml", 12)
    assert p.render() == "t.yaml:12: load.stages[1].rate: must be ≥ 0 (use a rate such as 100)"
    err = SpecError([p, Problem("name", "is missing", file="t.yaml")])
    assert err.render().splitlines()[1] == "t.yaml: name: is missing"
    assert err.exit_code == 2
