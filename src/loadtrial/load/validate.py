"""Checks of a LoadPlan before any worker starts, and the default number of workers.

In: a LoadPlan (from CLI flags or a trial file). Out: nothing, or a UserError naming every
problem at once; `default_workers(...)` gives one worker per core, never more than the
schedule needs.
"""

from __future__ import annotations

import math
import os
import re
import ssl
from pathlib import Path

from loadtrial.errors import UserError
from loadtrial.load.model import ClosedModel, LoadPlan, OpenModel
from loadtrial.load.schedule import peak_rate_per_s

# One engine comfortably paces this many arrivals per second on one core (see bench/).
RATE_PER_WORKER = 20_000

# RFC 9110 token characters: what a method or a header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# HEAD answers carry a Content-Length but no body; the response parser would wait for it.
_UNSUPPORTED_METHODS = ("HEAD", "CONNECT")


def plan_problems(plan: LoadPlan) -> list[str]:
    """Return every problem of a plan as a sentence (empty when fine)."""
    out: list[str] = []
    if not plan.requests:
        out.append("the plan has no requests")
    if any(r.weight < 1 for r in plan.requests):
        out.append("request weights must be at least 1")
    out.extend(_request_problems(plan))
    out.extend(_tls_problems(plan))
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


def _request_problems(plan: LoadPlan) -> list[str]:
    """Methods and header names the engine cannot send as given."""
    out: list[str] = []
    for method in sorted({r.method for r in plan.requests}):
        if not _TOKEN.fullmatch(method):
            out.append(f"method {method!r} is not a valid HTTP method")
        elif method.upper() in _UNSUPPORTED_METHODS:
            out.append(f"method {method.upper()} is not supported (use GET)")
    names = {name for r in plan.requests for name, _ in r.headers}
    for name in sorted(n for n in names if not _TOKEN.fullmatch(n)):
        out.append(f"header name {name!r} is not valid (letters, digits and -, no spaces)")
    values = {value for r in plan.requests for _, value in r.headers}
    if any("\r" in v or "\n" in v for v in values):
        out.append("a header value contains a line break")
    return out


def _tls_problems(plan: LoadPlan) -> list[str]:
    """A CA file that cannot be read as PEM certificates."""
    if not plan.ca_file:
        return []
    if not Path(plan.ca_file).is_file():
        return [f"CA file {plan.ca_file} does not exist"]
    try:
        ssl.create_default_context(cafile=plan.ca_file)
    except (ssl.SSLError, OSError) as exc:
        return [f"CA file {plan.ca_file} holds no readable PEM certificate ({exc})"]
    return []


def _stage_problems(i: int, duration: float, rate: float | None, ramp: float | None) -> list[str]:
    out = []
    if not duration > 0 or not math.isfinite(duration):
        out.append(f"stage {i + 1}: duration must be positive, got {duration}s")
    for name, value in (("rate", rate), ("ramp_to", ramp)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            out.append(f"stage {i + 1}: {name} must be a number ≥ 0, got {value}")
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
        peak = peak_rate_per_s(model)
        need = math.ceil(peak / RATE_PER_WORKER) if math.isfinite(peak) else 1
    else:
        need = model.users
    return max(1, min(cores, need, connections))
