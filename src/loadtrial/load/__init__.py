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
"""

from loadtrial.load.coordinator import run_load
from loadtrial.load.model import (
    ERROR_KINDS,
    ClosedModel,
    IntervalStats,
    LoadPlan,
    LoadResult,
    OpenModel,
    RequestSpec,
    Stage,
)
from loadtrial.load.schedule import PlanEstimate, estimate
from loadtrial.load.summary import summarize
from loadtrial.load.validate import check_plan, default_workers, plan_problems

__all__ = [
    "ERROR_KINDS",
    "ClosedModel",
    "IntervalStats",
    "LoadPlan",
    "LoadResult",
    "OpenModel",
    "PlanEstimate",
    "RequestSpec",
    "Stage",
    "check_plan",
    "default_workers",
    "estimate",
    "plan_problems",
    "run_load",
    "summarize",
]
