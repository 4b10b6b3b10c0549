"""The aws provider during a change, against moto: re-registration when DNS/config fails on
revert, a stopped-but-registered target, capacity errors retried then reverted, batches
within API limits. What moto cannot produce (a start that falls back to stopped, impaired
status checks) is checked on the response shapes AWS documents (docs/aws.md)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_world import Recorder, World, attach_to_group, aws_env, settings_for
from botocore.awsrequest import AWSResponse

from loadtrial.clock import FakeClock
from loadtrial.env.aws import create, ec2, ssm
from loadtrial.env.aws.clients import Clients
from loadtrial.env.aws.context import Ctx
from loadtrial.env.aws.ec2 import StartWatch, status_ok
from loadtrial.env.aws.settings import parse_settings
from loadtrial.env.aws.waiting import Journal, Waiter
from loadtrial.env.journal import MemoryLog
from loadtrial.errors import ProviderError


def _registered(c: Clients, tg: str) -> dict[str, str]:
    health = c.elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in health}


def _types(c: Clients, ids: Any) -> set[str]:
    found = c.ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
    return {i["InstanceType"] for r in found for i in r["Instances"]}


def test_revert_registers_again_when_the_dns_update_fails(clients: Clients, world: World) -> None:
    c, first = clients, world.instances[0]
    r53 = {"zone_id": world.zone_id, "records": {first: "app1.example.com"}}
    settings = settings_for(world, app={"instances": [first], "route53": r53})
    provider = create(aws_env(settings), Recorder(), MemoryLog(), clients=c, clock=FakeClock())
    record = provider.apply({"app_instance_type": "m4.xlarge"})
    # the hosted zone goes away mid-trial: the revert's DNS update will fail
    sets = c.route53.list_resource_record_sets(HostedZoneId=world.zone_id)["ResourceRecordSets"]
    a_record: Any = next(s for s in sets if s["Type"] == "A")
    c.route53.change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": a_record}]},
    )
    c.route53.delete_hosted_zone(Id=world.zone_id)
    with pytest.raises(ProviderError, match="revert could not restore everything"):
        provider.revert(record)
    assert _types(c, [first]) == {"m4.large"}
    assert _registered(c, world.tg_arn)[first] == "healthy"  # back in service all the same


def test_a_stopped_registered_target_is_a_member(clients: Clients, world: World) -> None:
    c, second = clients, world.instances[1]
    c.ec2.stop_instances(InstanceIds=[second])  # stopped behind our back, still registered
    provider = create(
        aws_env(settings_for(world)), Recorder(), MemoryLog(), clients=c, clock=FakeClock()
    )
    facts = provider.snapshot()
    assert facts["aws.elb.app.node_count"] == "3"
    assert f"{second}:stopped" in facts["aws.elb.app.not_healthy"]
    provider.apply({"app_node_count": 1})
    assert second not in _registered(c, world.tg_arn)  # really deregistered, not skipped


def _fail_start(client: Any, times: int) -> list[int]:
    """Make StartInstances answer InsufficientInstanceCapacity `times` times (a botocore
    event on this client; the error is parsed and raised by botocore as for AWS)."""
    calls: list[int] = []

    def answer(**_: Any) -> Any:
        calls.append(1)
        if len(calls) > times:
            return None
        body = {"Error": {"Code": "InsufficientInstanceCapacity", "Message": "no capacity"}}
        return AWSResponse("", 500, {}, None), body

    client.meta.events.register("before-call.ec2.StartInstances", answer)
    return calls


def test_capacity_errors_are_retried_with_backoff(clients: Clients, world: World) -> None:
    calls, clock, sink = _fail_start(clients.ec2, 2), FakeClock(start=0.0), Recorder()
    provider = create(aws_env(settings_for(world)), sink, MemoryLog(), clients=clients, clock=clock)
    provider.apply({"app_instance_type": "m4.xlarge"})
    assert _types(clients, world.instances[:2]) == {"m4.xlarge"}
    assert len(calls) == 4 and clock.now() >= 90.0  # 2 refusals: 30 s then 60 s later
    retries = [a.name for a in sink.actions if "retry in" in a.name]
    assert [n.split(": ")[1] for n in retries] == [
        "InsufficientInstanceCapacity, retry in 30s",
        "InsufficientInstanceCapacity, retry in 60s",
    ]


def test_capacity_that_never_comes_back_reverts(clients: Clients, world: World) -> None:
    first = world.instances[0]
    calls = _fail_start(clients.ec2, 4)  # every try of the swap; the revert's start works
    settings = settings_for(world, app={"instances": [first]})
    provider = create(
        aws_env(settings), Recorder(), MemoryLog(), clients=clients, clock=FakeClock()
    )
    with pytest.raises(ProviderError, match=r"refused to start .* 4 times.*every change was"):
        provider.apply({"app_instance_type": "m4.xlarge"})
    assert len(calls) == 5
    assert _types(clients, [first]) == {"m4.large"}
    assert _registered(clients, world.tg_arn)[first] == "healthy"


def test_start_fails_fast_when_the_instance_falls_back_to_stopped() -> None:
    watch = StartWatch()
    pending = {"i-1": {"State": {"Name": "pending"}}}
    assert watch.check(pending) is False
    kms = {  # the shape EC2 returns for an instance whose KMS key the role may not use
        "i-1": {
            "State": {"Name": "stopped"},
            "StateReason": {
                "Code": "Client.InternalError",
                "Message": "Client.InternalError: Client error on launch",
            },
        }
    }
    with pytest.raises(ProviderError, match=r"i-1 did not start: it is stopped .*Client error"):
        watch.check(kms)
    late = StartWatch()  # AWS may still show `stopped` just after StartInstances: 3 looks
    stopped = {"i-2": {"State": {"Name": "stopped"}}}
    assert late.check(stopped) is False and late.check(stopped) is False
    with pytest.raises(ProviderError, match="i-2 did not start"):
        late.check(stopped)
    with pytest.raises(ProviderError, match="it is terminated"):
        StartWatch().check({"i-3": {"State": {"Name": "terminated"}}})


def test_impaired_status_checks_fail_fast() -> None:
    ok = {"InstanceStatus": {"Status": "ok"}, "SystemStatus": {"Status": "ok"}}
    waiting = {"InstanceStatus": {"Status": "initializing"}, "SystemStatus": {"Status": "ok"}}
    assert status_ok(["i-1"], [{"InstanceId": "i-1", **ok}]) is True
    assert status_ok(["i-1"], [{"InstanceId": "i-1", **waiting}]) is False
    impaired = {"InstanceId": "i-1", "InstanceStatus": {"Status": "impaired"},
                "SystemStatus": {"Status": "ok"}}  # fmt: skip
    with pytest.raises(ProviderError, match="i-1 failed its status checks"):
        status_ok(["i-1"], [impaired])


def test_large_pools_are_asked_in_batches_within_api_limits(clients: Clients, world: World) -> None:
    c = clients
    ids = [
        i["InstanceId"]
        for i in c.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=120, MaxCount=120, InstanceType="m4.large"
        )["Instances"]
    ]
    sizes: dict[str, list[int]] = {"status": [], "ssm": []}
    c.ec2.meta.events.register(
        "provide-client-params.ec2.DescribeInstanceStatus",
        lambda params, **_: sizes["status"].append(len(params["InstanceIds"])),
    )
    c.ssm.meta.events.register(
        "provide-client-params.ssm.SendCommand",
        lambda params, **_: sizes["ssm"].append(len(params["InstanceIds"])),
    )
    parsed, _ = parse_settings(
        settings_for(world, app={"instances": ids, "config_commands": ["true"]})
    )
    clock = FakeClock()
    ctx = Ctx(c, parsed, Waiter(clock, 1.0, 30.0), Journal(lambda a: None, clock, MemoryLog()))
    c.ec2.stop_instances(InstanceIds=ids)
    ec2.start(ctx, ids)
    ssm.run_config(ctx, ids)
    assert sizes == {"status": [100, 20], "ssm": [50, 50, 20]}
    sent = c.ssm.list_commands()["Commands"]
    assert {cmd["TimeoutSeconds"] for cmd in sent} == {30}


def _lifecycle(c: Clients, iid: str) -> str:
    found = c.autoscaling.describe_auto_scaling_instances(InstanceIds=[iid])
    return str(found["AutoScalingInstances"][0]["LifecycleState"])


def test_auto_scaling_members_go_to_standby_while_resized(clients: Clients, world: World) -> None:
    c, iid = clients, world.instances[0]
    attach_to_group(c, iid)
    sink = Recorder()
    settings = settings_for(world, app={"instances": [iid], "auto_scaling": "standby"})
    provider = create(aws_env(settings), sink, MemoryLog(), clients=c, clock=FakeClock())
    record = provider.apply({"app_instance_type": "m4.xlarge"})
    steps = [n.split(" ")[:3] for n in sink.names() if n.startswith(("asg", "ec2 stop"))]
    assert steps == [["asg", "web:", "enter"], ["ec2", "stop", iid], ["asg", "web:", "exit"]]
    assert (_lifecycle(c, iid), _types(c, [iid])) == ("InService", {"m4.xlarge"})
    # a kill half-way through the next swap leaves it in Standby and stopped: the undo
    # (what `recover` replays) brings it back into service
    c.autoscaling.enter_standby(InstanceIds=[iid], AutoScalingGroupName="web",
                                ShouldDecrementDesiredCapacity=True)  # fmt: skip
    c.ec2.stop_instances(InstanceIds=[iid])
    provider.revert(record)
    assert (_lifecycle(c, iid), _types(c, [iid])) == ("InService", {"m4.large"})
    assert _registered(c, world.tg_arn)[iid] == "healthy"
