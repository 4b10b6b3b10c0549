"""`run_load`: a plan's load on this machine, one worker in the caller's thread or several in
spawned processes.

In: a LoadPlan (its host checked by address first), optional start time, per-second
callback and stop event. Out: the LoadResult. One worker runs in the caller's thread
(inline.py: no second Python thread competing for the GIL) unless `processes=True` asks
for its own process (the trial runner does: its observers' threads would delay it);
more workers always run in spawned processes driven by the coordinator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from loadtrial.load.coordinator import START_MARGIN_S, Workers, check_target, drive
from loadtrial.load.inline import run_inline
from loadtrial.load.model import EngineProvenance, IntervalStats, LoadPlan, LoadResult


def run_load(
    plan: LoadPlan,
    *,
    start_at: float | None = None,
    on_interval: Callable[[IntervalStats], None] | None = None,
    stop: threading.Event | None = None,
    processes: bool = False,
) -> LoadResult:
    """Run a plan's load and return what was measured (blocking; Ctrl-C/stop-safe).

    One worker runs in the caller's thread (inline.py) unless `processes=True` runs it
    in its own process (see the module doc); more run in spawned processes.
    """
    check_target(plan)
    workers = max(1, plan.workers)
    if workers == 1 and not processes:
        return run_inline(plan, start_at=start_at, on_interval=on_interval, stop=stop)
    pool = Workers(plan, workers)
    provenance = EngineProvenance("local", workers)
    return drive(pool, plan, start_at=start_at, on_interval=on_interval, stop=stop,
                 provenance=provenance, margin_s=START_MARGIN_S)  # fmt: skip
