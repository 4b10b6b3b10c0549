"""run_load_ray: the same load from generator actors on a Ray cluster, merged exactly.

In: a LoadPlan, a cluster address ("" = RAY_ADDRESS or the local cluster), actors per
node, optionally a custom resource that marks the generator nodes, and the same
`start_at` / `on_interval` / `stop` as `run_load`. Out: a LoadResult like a local run's,
plus its provenance (nodes, actors, clock offsets).

- Placement: `actors_per_node` actors on every alive node (with `resource`, only on nodes
  that offer it), each pinned to its node and holding one CPU.
- Schedule: actor w of n is worker w of n: open-model arrival k goes to the actor with
  k ≡ w (mod n), closed-model users and the connection cap are split the same way; the
  union of the actors' schedules is the plan's schedule.
- One clock: the driver measures each actor's wall-clock offset (best of several round
  trips) and refuses to start when the uncertainty exceeds MAX_CLOCK_UNCERTAINTY_MS;
  every actor gets second 0 as the same absolute instant, corrected for its offset.
- Data: each actor's engine emits per-second encoded HDR histograms and counters, fetched
  by the driver every REFRESH_S and merged per second exactly as local workers' are.
- Faults: an actor whose call fails or stays unanswered for OVERDUE_S is lost: its seconds
  from then on are partial, the run is invalid with the reason, the others' data is kept.
  The driver's calls are each actor's lease (actor.py): an unreachable actor stops itself.
  Ctrl-C (or `stop`) stops every actor; every actor is killed when the run ends.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from loadtrial.errors import LoadtrialError, UserError
from loadtrial.load.actor import GeneratorActor
from loadtrial.load.coordinator import check_target, drive
from loadtrial.load.model import (
    ActorPlacement,
    EngineProvenance,
    IntervalStats,
    LoadPlan,
    LoadResult,
)
from loadtrial.load.transport import Go, Message, Stop, decode, encode

INSTALL_HINT = "install it with: pip install 'loadtrial[ray]'"
START_TIMEOUT_S = 60.0  # actors must be placed and answer in this long
LEASE_S = 5.0  # an actor not called for this long stops its engine
OVERDUE_S = 10.0  # a call unanswered this long: the actor (or its node) is lost
REFRESH_S = 0.1  # the driver fetches the actors' messages this often
CLOCK_ROUNDS = 7
MAX_CLOCK_UNCERTAINTY_MS = 10.0
START_MARGIN_S = 1.0  # t0 this long after every actor is ready: Go must reach them all


def import_ray() -> Any:
    """Return the ray module; UserError with the install hint when it is missing."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise UserError("the ray engine needs Ray, which is not installed", INSTALL_HINT) from None


class _ActorLink:
    """The driver's end of one actor: outgoing and incoming messages, its pending call."""

    def __init__(self, handle: Any, worker: int, where: str) -> None:
        self.handle, self.worker, self.where = handle, worker, where
        self.outbox: list[bytes] = []
        self.inbox: deque[bytes] = deque()
        self.pending: Any = None  # ObjectRef of the exchange in flight
        self.sent_at = 0.0
        self.lost = ""  # why it is lost ("" while it answers)


class RayPool:
    """The coordinator's Pool over Ray actors (see coordinator.Pool)."""

    def __init__(self, ray: Any, links: list[_ActorLink], offsets_s: list[float]) -> None:
        self.ray, self.links, self.offsets_s = ray, links, offsets_s
        self.last_refresh = 0.0
        self.transports: Sequence[_RayTransport] = [
            _RayTransport(self, i) for i in range(len(links))
        ]

    def go(self, t0: float) -> None:
        """Send each actor t0 as the same instant on its own wall clock."""
        t0_wall = time.time() + (t0 - time.monotonic())
        for link, offset in zip(self.links, self.offsets_s, strict=True):
            link.outbox.append(encode(Go(t0_wall + offset)))
        self.refresh(force=True)

    def broadcast(self, msg: Stop) -> None:
        for link in self.links:
            if not link.lost:
                link.outbox.append(encode(msg))
        self.refresh(force=True)

    def refresh(self, force: bool = False) -> None:
        """Start an exchange with every idle actor; collect the finished ones."""
        now = time.monotonic()
        if not force and now - self.last_refresh < REFRESH_S:
            return
        self.last_refresh = now
        for link in self.links:
            if not link.lost and link.pending is None:
                outgoing, link.outbox = link.outbox, []
                link.pending, link.sent_at = link.handle.exchange.remote(outgoing), now
        pending = [link.pending for link in self.links if link.pending is not None]
        if pending:
            ready, _ = self.ray.wait(pending, num_returns=len(pending), timeout=0.02)
            done = set(ready)
            for link in self.links:
                if link.pending is not None and link.pending in done:
                    self._collect(link)
                elif link.pending is not None and now - link.sent_at > OVERDUE_S:
                    self._lose(link, f"no answer for {OVERDUE_S:g} s")

    def _collect(self, link: _ActorLink) -> None:
        ref, link.pending = link.pending, None
        try:
            link.inbox.extend(self.ray.get(ref))
        except Exception as exc:  # the actor died or its node is gone: ray's many errors
            self._lose(link, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")

    def _lose(self, link: _ActorLink, why: str) -> None:
        link.pending = None
        link.lost = f"actor {link.worker} on {link.where} lost: {why}"

    def close(self) -> None:
        """Stop every reachable actor, then kill all (no actor outlives the run)."""
        stops = [link.handle.stop.remote() for link in self.links if not link.lost]
        with contextlib.suppress(Exception):
            self.ray.wait(stops, num_returns=len(stops), timeout=8.0)
        for link in self.links:
            with contextlib.suppress(Exception):
                self.ray.kill(link.handle, no_restart=True)


class _RayTransport:
    """A Transport to one actor, backed by the pool's periodic exchanges."""

    def __init__(self, pool: RayPool, index: int) -> None:
        self.pool, self.link = pool, pool.links[index]

    def send(self, msg: Message) -> None:
        self.link.outbox.append(encode(msg))

    def recv(self, timeout_s: float) -> Message | None:
        deadline = time.monotonic() + timeout_s
        while not self.link.inbox:
            if self.link.lost:
                raise EOFError(self.link.lost)
            self.pool.refresh()
            if self.link.inbox or time.monotonic() >= deadline:
                break
            time.sleep(min(0.005, max(0.0, deadline - time.monotonic())))
        return decode(self.link.inbox.popleft()) if self.link.inbox else None

    def close(self) -> None:
        """Nothing to release (the pool kills the actors)."""


def run_load_ray(
    plan: LoadPlan,
    *,
    address: str = "",
    actors_per_node: int = 1,
    resource: str = "",
    start_at: float | None = None,
    on_interval: Callable[[IntervalStats], None] | None = None,
    stop: threading.Event | None = None,
) -> LoadResult:
    """Run a plan's load from Ray actors and return what was measured (blocking)."""
    check_target(plan)
    if actors_per_node < 1:
        raise UserError(f"actors per node must be at least 1, got {actors_per_node}")
    ray = import_ray()
    started_ray = _connect(ray, address)
    try:
        pool, provenance = start_actors(ray, plan, actors_per_node, resource)
        return drive(pool, plan, start_at=start_at, on_interval=on_interval, stop=stop,
                     provenance=provenance, margin_s=START_MARGIN_S)  # fmt: skip
    finally:
        if started_ray:
            ray.shutdown()


def _connect(ray: Any, address: str) -> bool:
    """Connect to the cluster (unless already connected); True when this call did."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address or "auto", log_to_driver=False, logging_level=logging.ERROR)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "RAY_ADDRESS or a local cluster"
        raise LoadtrialError(
            f"cannot connect to the Ray cluster at {where}: {str(exc).splitlines()[0]}",
            "start one with `ray start --head` or pass its address (host:6379)",
        ) from None
    return True


def pick_nodes(nodes: list[dict[str, Any]], resource: str) -> list[dict[str, Any]]:
    """The alive nodes with a CPU (and `resource`, when given), in a stable order."""
    alive = [n for n in nodes if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= 1]
    if resource:
        alive = [n for n in alive if n["Resources"].get(resource, 0) > 0]
    return sorted(alive, key=lambda n: str(n["NodeID"]))


def start_actors(
    ray: Any, plan: LoadPlan, per_node: int, resource: str
) -> tuple[RayPool, EngineProvenance]:
    """Place the actors, wait until each answers, measure their clocks."""
    nodes = pick_nodes(ray.nodes(), resource)
    if not nodes:
        which = f" offering resource {resource!r}" if resource else " with a CPU"
        raise LoadtrialError(f"the Ray cluster has no alive node{which}", "add a node")
    links = _place(ray, plan, nodes, len(nodes) * per_node)
    try:
        wheres = ray.get([link.handle.where.remote() for link in links], timeout=START_TIMEOUT_S)
        offsets = _clock_offsets(ray, links)
    except BaseException as exc:  # Ctrl-C included: no actor outlives a failed start
        for link in links:
            with contextlib.suppress(Exception):
                ray.kill(link.handle, no_restart=True)
        if isinstance(exc, LoadtrialError) or not isinstance(exc, Exception):
            raise
        raise LoadtrialError(
            f"could not start {len(links)} generator actors on {len(nodes)} Ray node(s): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            f"each actor needs one free CPU on its node; {START_TIMEOUT_S:g} s allowed",
        ) from None
    placements = tuple(
        ActorPlacement(w, str(nodes[w % len(nodes)]["NodeID"]),
                       str(nodes[w % len(nodes)]["NodeManagerAddress"]), int(wheres[w]["pid"]),
                       round(off * 1e3, 3), round(unc * 1e3, 3))
        for w, (off, unc) in enumerate(offsets)
    )  # fmt: skip
    address = str(ray.get_runtime_context().gcs_address)
    node_ids = tuple(str(n["NodeID"]) for n in nodes)
    provenance = EngineProvenance("ray", len(links), address, node_ids, placements)
    return RayPool(ray, links, [off for off, _ in offsets]), provenance


def _place(ray: Any, plan: LoadPlan, nodes: list[dict[str, Any]], workers: int) -> list[_ActorLink]:
    """Create actor w of `workers` on node w mod len(nodes), pinned there, one CPU each."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(GeneratorActor)
    links: list[_ActorLink] = []
    for w in range(workers):
        node = nodes[w % len(nodes)]
        strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        handle = remote.options(scheduling_strategy=strategy).remote(plan, w, workers, LEASE_S)
        links.append(_ActorLink(handle, w, f"node {node['NodeManagerAddress']}"))
    return links


def _clock_offsets(ray: Any, links: list[_ActorLink]) -> list[tuple[float, float]]:
    """Each actor's (wall-clock offset, uncertainty) in seconds, from the best of several
    round trips: offset = its clock − the driver's at the round trip's midpoint."""
    best: list[tuple[float, float]] = [(0.0, float("inf"))] * len(links)
    for _ in range(CLOCK_ROUNDS):
        for i, link in enumerate(links):
            sent = time.time()
            theirs = ray.get(link.handle.clock.remote(), timeout=START_TIMEOUT_S)
            back = time.time()
            half = (back - sent) / 2
            if half < best[i][1]:
                best[i] = (theirs - (sent + half), half)
    worst = max(range(len(links)), key=lambda i: best[i][1])
    if best[worst][1] * 1e3 > MAX_CLOCK_UNCERTAINTY_MS:
        raise LoadtrialError(
            f"cannot bound the clock of actor {worst} ({links[worst].where}) within "
            f"{MAX_CLOCK_UNCERTAINTY_MS:g} ms: its best round trip took "
            f"{2e3 * best[worst][1]:.1f} ms",
            "the driver and the generator nodes need a fast, quiet network between them",
        )
    return best
