"""The plan of a trial: every arm × repetition, in an order that resists drift.

In: a `Trial` (arms, repeat, order, seed) and optionally the arms to keep. Out: a tuple of
`PlannedRun`s and the estimated duration. Orders: `interleaved` (A B C, A B C ...),
`randomized` (each round of arms shuffled with the trial's seed: balanced and
reproducible), `sequential` (A A A, B B B ...).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadtrial.errors import UserError
from loadtrial.load.schedule import total_duration_s
from loadtrial.spec.convert import to_load_plan
from loadtrial.spec.model import Trial
from loadtrial.units import format_duration


@dataclass(frozen=True)
class PlannedRun:
    """One run to do: which arm, which repetition (1-based), where in the plan (0-based)."""

    arm: str
    repetition: int
    order_index: int
    params: Mapping[str, Any]


def make_plan(trial: Trial, only_arms: Sequence[str] = ()) -> tuple[PlannedRun, ...]:
    """Return the runs of `trial` in its order; `only_arms` keeps just those arms."""
    unknown = [a for a in only_arms if a not in trial.arms]
    if unknown:
        known = ", ".join(trial.arms)
        raise UserError(f"no arm named {unknown[0]!r} in the trial", hint=f"arms are: {known}")
    arms = [a for a in trial.arms if not only_arms or a in only_arms]
    pairs = _order(arms, trial.repeat, trial.order, trial.seed)
    return tuple(
        PlannedRun(arm, rep, i, dict(trial.arms[arm])) for i, (arm, rep) in enumerate(pairs)
    )


def _order(arms: list[str], repeat: int, order: str, seed: int) -> list[tuple[str, int]]:
    if order == "sequential":
        return [(a, r) for a in arms for r in range(1, repeat + 1)]
    rng = random.Random(seed)
    out: list[tuple[str, int]] = []
    for r in range(1, repeat + 1):
        round_ = list(arms)
        if order == "randomized":
            rng.shuffle(round_)
        out += [(a, r) for a in round_]
    return out


def run_duration_s(trial: Trial) -> float:
    """Seconds of load in one run (the load engine's own sum of its schedule)."""
    return float(total_duration_s(to_load_plan(trial).model))


def estimate_s(trial: Trial, plan: Sequence[PlannedRun]) -> float:
    """Estimated wall time of the plan: load time plus pauses (apply/revert not known)."""
    if not plan:
        return 0.0
    return len(plan) * run_duration_s(trial) + (len(plan) - 1) * trial.pause_between_runs


def describe(trial: Trial, plan: Sequence[PlannedRun]) -> list[str]:
    """Lines for `loadtrial plan`: one per run, then the total."""
    run_s = run_duration_s(trial)
    lines = [f"trial {trial.name}: {len(plan)} runs, order {trial.order}"]
    for p in plan:
        params = ", ".join(f"{k}={v}" for k, v in p.params.items()) or "-"
        lines.append(
            f"  {p.order_index + 1:>3}. {p.arm:<20} rep {p.repetition}  "
            f"{format_duration(run_s):>7}  {params}"
        )
    total = format_duration(estimate_s(trial, plan))
    lines.append(f"estimated duration: {total} (load and pauses; arm changes not included)")
    return lines


def provider_calls(trial: Trial, plan: Sequence[PlannedRun]) -> list[str]:
    """Lines for `run --dry-run`: what the provider would do for each arm, without doing it."""
    from loadtrial.env import plan_calls

    settings = trial.env.model_dump(exclude={"provider"})
    lines: list[str] = []
    seen: set[str] = set()
    for p in plan:
        if p.arm in seen:
            continue
        seen.add(p.arm)
        calls = plan_calls(trial.env.provider, settings, p.params)
        if calls:
            lines.append(f"arm {p.arm}: {trial.env.provider} provider would:")
            lines += [f"    {c}" for c in calls]
    return lines
