"""The load engine: precise open- and closed-model HTTP load with honest latency.

Door (see model.py for the data):

    run_load(plan, *, start_at=None, on_interval=None, stop=None) -> LoadResult
    summarize(result) -> dict                      the JSON summary
    estimate(plan) -> PlanEstimate                 duration and expected requests
    default_workers(model, connections) -> int     one per core, no more than needed
    check_plan(plan) / plan_problems(plan)         validation before any worker starts

Inside: schedule.py (arrival times, pure), wire.py (encoded requests), client.py
(connections, accounting), recorder.py (per-second histograms), engine.py (one event loop),
worker.py + transport.py (the worker ↔ coordinator contract), coordinator.py (run_load),
watch.py (self-watch), summary.py, analytic.py (the coordinated-omission reference).

The functions load on first use (PEP 562), so importing `loadtrial.load.model` or
`loadtrial.load.histogram`, as most areas do, does not pull in the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loadtrial.load.model import (
    ERROR_KINDS,
    ClosedModel,
    IntervalStats,
    LoadPlan,
    LoadResult,
    OpenModel,
    RequestSpec,
    ResponseChecks,
    Stage,
)

if TYPE_CHECKING:
    from loadtrial.load.local import run_load
    from loadtrial.load.schedule import PlanEstimate, estimate
    from loadtrial.load.summary import summarize
    from loadtrial.load.validate import check_plan, default_workers, plan_problems

_LAZY = {
    "run_load": "local",
    "PlanEstimate": "schedule",
    "estimate": "schedule",
    "summarize": "summary",
    "check_plan": "validate",
    "default_workers": "validate",
    "plan_problems": "validate",
}

__all__ = [
    "ERROR_KINDS",
    "ClosedModel",
    "IntervalStats",
    "LoadPlan",
    "LoadResult",
    "OpenModel",
    "PlanEstimate",
    "RequestSpec",
    "ResponseChecks",
    "Stage",
    "check_plan",
    "default_workers",
    "estimate",
    "plan_problems",
    "run_load",
    "summarize",
]


def __getattr__(name: str) -> Any:
    """Import a door function from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loadtrial.load' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"loadtrial.load.{module}"), name)
    globals()[name] = value
    return value
