"""The Ray engine when a node is lost mid-run, on a real local Ray cluster of three nodes.

Its own cluster (a node is killed here; the `cluster` fixture of tests/load/conftest.py is
one per module): the head and two worker nodes offering the resource "loadgen", one
generator actor on each worker node. Mid-run the raylet of the
second worker node is killed (SIGKILL, through Ray's cluster utilities, never `ray stop`):
the hard case, where the actor's process outlives its node and keeps running unless its
lease stops it. The test ends that process itself afterwards (it started it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import pytest
from counting_target import CountingTarget
from ray.cluster_utils import Cluster

from loadtrial.load import summarize
from loadtrial.load.distributed import LEASE_S, run_load_ray
from loadtrial.load.model import (
    IntervalStats,
    LoadPlan,
    LoadResult,
    OpenModel,
    RequestSpec,
    Stage,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
RATE, SECONDS, KILL_AFTER_SECOND = 100.0, 16.0, 2


def test_a_lost_node_is_reported_and_its_orphan_stops(
    cluster: Cluster, counting_target: CountingTarget
) -> None:
    # actors go to the resource's nodes sorted by node id: actor 1 is on the second one
    victim = sorted(cluster.worker_nodes, key=lambda n: n.node_id)[1]
    killed_at: list[float] = []

    def kill() -> None:
        killed_at.append(time.monotonic())
        victim.kill_raylet(check_alive=False)

    def on_interval(iv: IntervalStats) -> None:
        if iv.second == KILL_AFTER_SECOND and not killed_at:
            threading.Thread(target=kill, daemon=True).start()

    plan = LoadPlan(
        (RequestSpec("r", "GET", counting_target.url),), OpenModel((Stage(SECONDS, RATE),))
    )
    result = run_load_ray(plan, resource="loadgen", on_interval=on_interval)
    try:
        _check(result, victim.node_id, killed_at[0], counting_target)
    finally:  # the orphan's process outlived its raylet: end it (this test started it)
        with contextlib.suppress(ProcessLookupError):
            os.kill(result.provenance.actors[1].pid, signal.SIGKILL)
        cluster.remove_node(victim, allow_graceful=False)


def _check(result: LoadResult, victim_id: str, killed_at: float, target: CountingTarget) -> None:
    s = summarize(result)
    assert result.provenance.actors[1].node_id == victim_id
    # reported, not silent: the run is invalid with the reason, its seconds partial
    assert not result.valid
    assert any("actor 1" in r and "lost" in r for r in result.invalid_reasons), (
        result.invalid_reasons
    )
    assert result.partial_seconds and result.partial_seconds[0] <= KILL_AFTER_SECOND + 3
    assert any("partial" in r for r in result.invalid_reasons)
    # the other actor's data is kept: its whole share, every second
    assert sum(iv.offered for iv in result.intervals) >= RATE * SECONDS / 2
    # after the loss only the other actor's half of the schedule (a second may hold more
    # when that actor, slowed by the kill, catches up: the total is exact)
    first = result.partial_seconds[0]
    after = sum(iv.offered for iv in result.intervals if iv.second >= first)
    assert after <= RATE / 2 * (SECONDS - first) + 2
    assert s["engine"]["workers"] == 2
    # the orphan (if its process outlived its node) stops itself once its lease runs out
    time.sleep(1.0)
    quiet_from = killed_at + LEASE_S + 3.0
    while time.monotonic() < quiet_from:
        time.sleep(0.2)
    before = target.count()
    time.sleep(2.0)
    assert target.count() == before, "an orphaned actor still loads the target"
