"""Plan orders: interleaved, randomized (seeded, balanced), sequential; --arm filtering."""

from __future__ import annotations

import pytest

from loadtrial.errors import UserError
from loadtrial.runner import describe, estimate_s, make_plan
from loadtrial.spec import parse_trial_text

BASE = """\
name: p
target: {base_url: "http://127.0.0.1:1"}
load: {stages: [{rate: 1, duration: 10s}]}
arms: {a: {n: 1}, b: {n: 2}, c: {n: 3}}
repeat: 3
pause_between_runs: 5s
"""


def _plan(order: str, seed: int = 0) -> list[tuple[str, int]]:
    trial = parse_trial_text(BASE + f"order: {order}\nseed: {seed}\n").trial
    return [(p.arm, p.repetition) for p in make_plan(trial)]


def test_interleaved() -> None:
    assert [a for a, _ in _plan("interleaved")] == list("abcabcabc")
    assert [r for _, r in _plan("interleaved")] == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_sequential() -> None:
    assert [a for a, _ in _plan("sequential")] == list("aaabbbccc")


def test_randomized_is_seeded_and_balanced() -> None:
    first, again, other = _plan("randomized", 7), _plan("randomized", 7), _plan("randomized", 8)
    assert first == again and first != other
    for rnd in range(3):  # every round holds each arm once
        assert sorted(a for a, r in first if r == rnd + 1) == ["a", "b", "c"]


def test_only_arms_and_unknown_arm() -> None:
    trial = parse_trial_text(BASE).trial
    plan = make_plan(trial, ["c"])
    assert next((p.arm, p.order_index, dict(p.params)) for p in plan) == ("c", 0, {"n": 3})
    assert len(plan) == 3
    with pytest.raises(UserError, match="no arm named 'z'"):
        make_plan(trial, ["z"])


def test_estimate_counts_load_and_pauses() -> None:
    trial = parse_trial_text(BASE).trial
    plan = make_plan(trial)
    assert estimate_s(trial, plan) == 9 * 10 + 8 * 5
    lines = describe(trial, plan)
    assert lines[-1].startswith("estimated duration: 2m10s") and len(lines) == 11
