"""Waiter timing on an injected clock (moto changes state instantly, so the waiters'
polling and timeouts are tested here, against real reads, without sleeping)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_world import Recorder, World, aws_env, settings_for

from loadtrial.clock import FakeClock
from loadtrial.env.aws import create
from loadtrial.env.aws.clients import Clients
from loadtrial.env.aws.waiting import Journal, Waiter
from loadtrial.env.journal import MemoryLog
from loadtrial.errors import ProviderError


def test_waiter_polls_at_the_interval_until_the_timeout(clients: Clients, world: World) -> None:
    clock = FakeClock(start=0.0)
    seen: list[float] = []

    def read() -> dict[str, str]:
        seen.append(clock.now())
        resp = clients.elbv2.describe_target_health(TargetGroupArn=world.tg_arn)
        return {
            d["Target"]["Id"]: d["TargetHealth"]["State"] for d in resp["TargetHealthDescriptions"]
        }

    waiter = Waiter(clock, poll_s=5.0, timeout_s=22.0)
    with pytest.raises(ProviderError, match=r"timed out after 22s \(6 polls\) waiting for i-x"):
        waiter.until("i-x to be healthy", read, lambda h: h.get("i-x") == "healthy")
    assert seen == [0.0, 5.0, 10.0, 15.0, 20.0, 22.0]  # last poll at the deadline, not beyond


def test_waiter_returns_the_first_state_that_holds() -> None:
    clock = FakeClock(start=0.0)
    states = iter(["pending", "pending", "running"])
    waiter = Waiter(clock, poll_s=2.0, timeout_s=60.0)
    assert waiter.until("running", lambda: next(states), lambda s: s == "running") == "running"
    assert clock.now() == 4.0


def test_journal_records_ok_and_failed_steps() -> None:
    clock, sink, log = FakeClock(), Recorder(), MemoryLog()
    journal = Journal(sink, clock, log)
    with journal.step("quick", a=1) as detail:
        clock.advance(2.0)
        detail["b"] = 2
    with pytest.raises(ValueError), journal.step("broken"):
        raise ValueError("no")
    ok, failed = sink.actions
    assert (ok.status, ok.ended_at - ok.started_at, dict(ok.detail)) == (
        "ok",
        2.0,
        {"a": 1, "b": 2},
    )
    assert (failed.status, failed.error) == ("failed", "ValueError: no")
    assert journal.actions == sink.actions
    # each step was written to the undo journal before it ran, then settled
    assert [(e.name, e.states) for e in log.entries] == [
        ("quick", ["intended", "done"]),
        ("broken", ["intended", "failed"]),
    ]


def test_provider_wait_times_out_on_the_clock_and_reverts(clients: Clients, world: World) -> None:
    """Someone sets the class back right after our resize: the "really applied" wait never
    holds, so apply times out after env.waits.db_timeout (fake clock) and reverts."""
    sink = Recorder()

    def undo_behind_our_back(action: Any) -> None:
        if action.name.startswith("rds modify shop-1") and action.status == "ok":
            clients.rds.modify_db_instance(
                DBInstanceIdentifier="shop-1", DBInstanceClass="db.r5.large", ApplyImmediately=True
            )

    sink.hooks.append(undo_behind_our_back)
    settings = settings_for(world, waits={"poll": "10s", "timeout": "5s", "db_timeout": "1m"})
    clock = FakeClock(start=0.0)
    provider = create(aws_env(settings), sink, MemoryLog(), clients=clients, clock=clock)
    with pytest.raises(ProviderError, match=r"timed out after 60s \(7 polls\)"):
        provider.apply({"db_instance_class": "db.r5.2xlarge"})
    assert clock.now() == 60.0
    failed = [a for a in sink.actions if a.status == "failed"]
    assert [a.name for a in failed] == [
        "rds wait until shop-1 reports db.r5.2xlarge and cluster available"
    ]
    assert sink.names()[-2:] == ["revert db_class", "revert db_writer"]
