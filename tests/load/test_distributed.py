"""The Ray engine on a real local Ray cluster of three nodes (Ray's cluster utilities).

The head and two worker nodes run as separate raylets on this machine, one CPU each (the
two worker nodes also offer the custom resource "loadgen"): the `cluster` fixture of
tests/load/conftest.py, started once for the module and shut down after. Where Ray cannot
start here the tests skip with the reason.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import ray
from counting_target import CountingTarget
from ray.cluster_utils import Cluster
from rich.console import Console

from loadtrial.cli import main
from loadtrial.errors import LoadtrialError
from loadtrial.load import histogram as hdr
from loadtrial.load import summarize
from loadtrial.load.coordinator import drive
from loadtrial.load.distributed import LEASE_S, run_load_ray, start_actors
from loadtrial.load.model import (
    ClosedModel,
    IntervalStats,
    LoadPlan,
    OpenModel,
    RequestSpec,
    Stage,
)
from loadtrial.load.schedule import iter_chunks
from loadtrial.load.transport import Message, Ready, Tick, Transport
from loadtrial.runner import run_trial
from loadtrial.spec import parse_trial_text
from loadtrial.store import Store
from loadtrial.targets import RunningTarget

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def open_plan(url: str, rate: float, seconds: float, **kw: Any) -> LoadPlan:
    return LoadPlan((RequestSpec("r", "GET", url),), OpenModel((Stage(seconds, rate),)), **kw)


class Recording:
    """A Transport that keeps every Tick it hands on (each actor's own seconds)."""

    def __init__(self, inner: Transport, ticks: list[Tick]) -> None:
        self.inner, self.ticks = inner, ticks

    def send(self, msg: Message) -> None:
        self.inner.send(msg)

    def recv(self, timeout_s: float) -> Message | None:
        msg = self.inner.recv(timeout_s)
        if isinstance(msg, Tick):
            self.ticks.append(msg)
        return msg

    def close(self) -> None:
        self.inner.close()


def generator_only(reasons: tuple[str, ...]) -> bool:
    """A busy shared machine may delay a generator (that rightly invalidates); nothing else
    may."""
    return all(r.startswith(("the generator fell behind", "load worker")) for r in reasons)


def _edge_slack(rate: float, edges: int, *lags_us: int) -> float:
    """How far a second's count of arrivals may stray from `rate`: `edges` arrivals due at
    its edges, plus those a dispatch late by the seconds' longest send lag carried across
    (a busy shared machine delays an engine by milliseconds; a wrong t0 shows as lag too)."""
    return edges + rate * max(lags_us) / 1e6


def test_schedule_split_exactly_and_merged_exactly(
    cluster: Cluster, fast_target: RunningTarget
) -> None:
    plan = open_plan(fast_target.url, 600, 3.0)
    pool, provenance = start_actors(ray, plan, 1, "")
    ticks: list[Tick] = []
    pool.transports = [Recording(t, ticks) for t in pool.transports]  # type: ignore[misc]
    result = drive(pool, plan, start_at=None, on_interval=None, stop=None,
                   provenance=provenance, margin_s=1.0)  # fmt: skip
    # three actors, one per node, the schedule split exactly: every arrival sent once
    assert provenance.workers == 3 and len({a.node_id for a in provenance.actors}) == 3
    assert isinstance(plan.model, OpenModel)
    expected = [len(c) for c in iter_chunks(plan.model)]
    assert expected == [600, 600, 600]
    assert sum(iv.offered for iv in result.intervals) == sum(iv.sent for iv in result.intervals)
    assert sum(iv.sent for iv in result.intervals) == 1800
    # an arrival due just before a second's end may be counted in the next (±1 at each edge),
    # and so may those a late dispatch carried over: as many as the send lag explains
    lag = {iv.second: iv.max_send_lag_us for iv in result.intervals}
    for iv in result.intervals[:3]:
        slack = _edge_slack(600, 3, lag[iv.second], lag.get(iv.second + 1, 0))
        assert abs(iv.offered - 600) <= slack, (iv.second, iv.offered, slack)
    per_actor = {w: sum(t.stats.offered for t in ticks if t.worker == w) for w in range(3)}
    assert per_actor == {0: 600, 1: 600, 2: 600}
    # one t0: every actor sends its third of every second (a late start shifts whole
    # milliseconds of arrivals into the next second, and shows as send lag)
    own = {(t.worker, t.stats.second): t.stats.max_send_lag_us for t in ticks}
    for t in ticks:
        if t.stats.second < 3:
            w, k = t.worker, t.stats.second
            slack = _edge_slack(200, 2, own[(w, k)], own.get((w, k + 1), 0))
            assert abs(t.stats.offered - 200) <= slack, (w, k, t.stats.offered, slack)
    # each merged second is exactly the sum of the actors' histograms of that second
    for iv in result.intervals:
        by_hand = hdr.merge(t.stats.latency_hist for t in ticks if t.stats.second == iv.second)
        assert hdr.decode(iv.latency_hist).get_total_count() == by_hand.get_total_count()
        assert hdr.encode(hdr.decode(iv.latency_hist)) == hdr.encode(by_hand)
    whole = hdr.merge(t.stats.latency_hist for t in ticks)
    s = summarize(result)
    assert s["latency_ms"]["p99"] == round(hdr.quantiles_us(whole, [99.0])[99.0] / 1000, 3)
    assert s["completed"] == s["ok"] == 1800
    # one clock: every actor's offset measured and bounded
    assert all(a.clock_uncertainty_ms <= 10.0 for a in provenance.actors)
    assert s["engine"]["engine"] == "ray" and s["engine"]["nodes"] == 3
    assert generator_only(result.invalid_reasons), result.invalid_reasons


def test_closed_model_on_the_nodes_offering_a_resource(
    cluster: Cluster, fast_target: RunningTarget
) -> None:
    plan = LoadPlan(
        (RequestSpec("r", "GET", fast_target.url),),
        ClosedModel(users=4, duration_s=2.0, think_time_s=0.01),
        connections=4,
    )
    result = run_load_ray(plan, resource="loadgen")
    nodes = ray.nodes()  # type: ignore[no-untyped-call]
    loadgen = {n["NodeID"] for n in nodes if n["Resources"].get("loadgen")}
    assert result.provenance.workers == 2
    assert {a.node_id for a in result.provenance.actors} == loadgen
    s = summarize(result)
    # 4 users (2 per actor), each at most one request per 10 ms: at most 4 · 201 in 2 s
    assert 100 < s["completed"] <= 4 * 201 and s["errors"] == {}


def test_stop_ends_every_actor_and_none_outlives_the_run(
    cluster: Cluster, fast_target: RunningTarget
) -> None:
    stop = threading.Event()

    def on_interval(iv: IntervalStats) -> None:
        stop.set()

    started = time.monotonic()
    result = run_load_ray(open_plan(fast_target.url, 90, 60.0), on_interval=on_interval, stop=stop)
    assert result.interrupted and time.monotonic() - started < 30
    assert sum(iv.completed for iv in result.intervals) >= 90
    pids = [a.pid for a in result.provenance.actors]
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids), "an actor outlived the run"


def test_an_actor_whose_driver_stops_calling_stops_its_load(
    cluster: Cluster, counting_target: CountingTarget
) -> None:
    pool, provenance = start_actors(ray, open_plan(counting_target.url, 50, 60.0), 1, "loadgen")
    try:
        waiting = set(range(len(pool.transports)))
        deadline = time.monotonic() + 60
        while waiting and time.monotonic() < deadline:
            waiting -= {w for w in waiting if isinstance(pool.transports[w].recv(0.05), Ready)}
        pool.go(time.monotonic() + 0.5)
        calling_until = time.monotonic() + 2.0
        while time.monotonic() < calling_until:  # the driver's calls renew the lease
            pool.refresh()
            time.sleep(0.1)
        assert counting_target.count() >= 50
        time.sleep(LEASE_S + 2.0)  # the driver is silent: each actor stops its engine
        before = counting_target.count()
        time.sleep(2.0)
        assert counting_target.count() == before, "an actor kept loading without a driver"
        assert all(_alive(a.pid) for a in provenance.actors)  # stopped itself, not killed
    finally:
        pool.close()


def test_cli_load_with_ray(cluster: Cluster, fast_target: RunningTarget, tmp_path: Path) -> None:
    import json

    out = tmp_path / "s.json"
    args = ["load", fast_target.url, "--rate", "300", "--duration", "2s", "-o", str(out)]
    code = main([*args, "--ray-address", cluster.address])
    s = json.loads(out.read_text())
    assert s["engine"]["engine"] == "ray" and s["engine"]["workers"] == 3
    assert s["completed"] == s["ok"] == 600
    assert code == 0 or not s["valid"]


def test_a_trial_with_engine_ray(
    cluster: Cluster, fast_target: RunningTarget, tmp_path: Path
) -> None:
    text = f"""
name: on-ray
hypothesis: the cluster sends the trial's schedule
target: {{base_url: "{fast_target.url.rstrip("/")}", allow: [127.0.0.1]}}
load:
  engine: ray
  ray_address: "{cluster.address}"
  stages: [{{rate: 300, duration: 2s}}]
arms: {{a: {{}}}}
repeat: 1
"""
    loaded = parse_trial_text(text, str(tmp_path / "trial.yaml"), env={})
    with Store(tmp_path / "r.db") as store:
        outcome = run_trial(loaded, store=store, live=False, console=Console(file=io.StringIO()))
        assert outcome.trial_id is not None
        run = store.load_trial(outcome.trial_id).runs[0]
    assert [status for _, status in outcome.statuses] == ["complete"]
    assert sum(s.ok for s in run.seconds) == sum(s.offered for s in run.seconds) == 600
    engine = next(e for e in run.events if e.kind == "load_engine")
    assert engine.data["engine"] == "ray" and len(engine.data["actors"]) == 3


def test_no_node_to_place_on_is_one_clear_error_before_any_load(
    cluster: Cluster, counting_target: CountingTarget
) -> None:
    with pytest.raises(LoadtrialError, match="no alive node offering resource 'gpu-lb'"):
        run_load_ray(open_plan(counting_target.url, 50, 1.0), resource="gpu-lb")
    assert counting_target.count() == 0


def test_without_ray_the_engine_is_one_clear_error(fast_target: RunningTarget) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
        "from loadtrial.cli import main\n"
        f"sys.exit(main(['load', {fast_target.url!r}, '--rate', '5', '--duration', '1s', "
        "'--ray']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "pip install 'loadtrial[ray]'" in done.stderr
    assert "Traceback" not in done.stderr


def _alive(pid: int) -> bool:
    """True while the process runs (a zombie waiting for its parent does not)."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False
