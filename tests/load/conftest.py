"""Fixtures of the load engine's tests: tiny real targets on 127.0.0.1, stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from counting_target import CountingTarget

from loadtrial.targets import RunningTarget, TargetConfig, start_target_thread


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
