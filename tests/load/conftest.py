"""Fixtures of the load engine's tests: tiny real targets on 127.0.0.1, stopped after, and
a real local Ray cluster for the distributed engine's tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from counting_target import CountingTarget
from shop_target import ShopTarget, running_shop

from loadtrial.targets import RunningTarget, TargetConfig, start_target_thread

if TYPE_CHECKING:
    from ray.cluster_utils import Cluster

RAY_STORE_BYTES = 80 * 1024 * 1024  # each node's object store: small, the machine is shared


@pytest.fixture
def fast_target() -> Iterator[RunningTarget]:
    with start_target_thread(TargetConfig("fast")) as target:
        yield target


@pytest.fixture
def counting_target() -> Iterator[CountingTarget]:
    target = CountingTarget()
    target.thread.start()
    try:
        yield target
    finally:
        target.server.shutdown()
        target.server.server_close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A local Ray cluster of three raylets on this machine, one per test module (a module
    may kill a node): the head and two worker nodes, one CPU each, the workers offering the
    custom resource "loadgen", object stores of 80 MB; the driver connected to it. Shut down
    after the module (only the processes it started; never `ray stop`). Where Ray cannot
    start here, the module's tests skip with the reason."""
    import ray  # only the distributed tests pay for importing Ray
    from ray.cluster_utils import Cluster

    try:
        c = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 1, "object_store_memory": RAY_STORE_BYTES,
                            "include_dashboard": False},
        )  # fmt: skip
        for _ in range(2):
            c.add_node(num_cpus=1, object_store_memory=RAY_STORE_BYTES, resources={"loadgen": 1})
        c.wait_for_nodes()
    except Exception as exc:  # no shared memory, no ports, ...: say why and skip
        pytest.skip(f"a local Ray cluster cannot start here: {type(exc).__name__}: {exc}")
    ray.init(address=c.address, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()  # type: ignore[no-untyped-call]


@pytest.fixture
def shop() -> Iterator[ShopTarget]:
    """A small shop on 127.0.0.1 (shop_target.py) for the request and flow tests."""
    with running_shop() as target:
        yield target
