"""Checks of a LoadPlan before any worker starts, and the default number of workers.

In: a LoadPlan (from CLI flags or a trial file). Out: nothing, or a UserError naming every
problem at once; `default_workers(...)` gives one worker per core, never more than the
schedule needs.
"""

from __future__ import annotations

import math
import os

from loadtrial.errors import UserError
from loadtrial.load.model import ClosedModel, LoadPlan, OpenModel
from loadtrial.load.schedule import peak_rate_per_s

# One engine comfortably paces this many arrivals per second on one core (see bench/).
RATE_PER_WORKER = 20_000


def plan_problems(plan: LoadPlan) -> list[str]:
    """Return every problem of a plan as a sentence (empty when fine)."""
    out: list[str] = []
    if not plan.requests:
        out.append("the plan has no requests")
    if any(r.weight < 1 for r in plan.requests):
        out.append("request weights must be at least 1")
    if plan.timeout_s <= 0:
        out.append(f"timeout must be positive, got {plan.timeout_s}s")
    if plan.connections < 1:
        out.append(f"connections must be at least 1, got {plan.connections}")
    if plan.workers < 1:
        out.append(f"workers must be at least 1, got {plan.workers}")
    model = plan.model
    if isinstance(model, OpenModel):
        if not model.stages:
            out.append("an open-model load needs at least one stage")
        for i, st in enumerate(model.stages):
            out.extend(_stage_problems(i, st.duration_s, st.rate_per_s, st.ramp_to_per_s))
    else:
        if model.users < 1:
            out.append(f"users must be at least 1, got {model.users}")
        if model.duration_s <= 0:
            out.append(f"duration must be positive, got {model.duration_s}s")
        if model.ramp_up_s < 0 or model.think_time_s < 0:
            out.append("ramp-up and think time cannot be negative")
    return out


def _stage_problems(i: int, duration: float, rate: float | None, ramp: float | None) -> list[str]:
    out = []
    if duration <= 0:
        out.append(f"stage {i + 1}: duration must be positive, got {duration}s")
    for name, value in (("rate", rate), ("ramp_to", ramp)):
        if value is not None and (value < 0 or not math.isfinite(value)):
            out.append(f"stage {i + 1}: {name} cannot be negative, got {value}")
    return out


def check_plan(plan: LoadPlan) -> None:
    """Raise UserError listing every problem of the plan."""
    problems = plan_problems(plan)
    if problems:
        raise UserError("; ".join(problems), "fix the load settings")


def default_workers(model: OpenModel | ClosedModel, connections: int, cores: int = 0) -> int:
    """Return one worker per core, but no more than the schedule or connections need."""
    cores = cores or os.cpu_count() or 1
    if isinstance(model, OpenModel):
        need = math.ceil(peak_rate_per_s(model) / RATE_PER_WORKER)
    else:
        need = model.users
    return max(1, min(cores, need, connections))
