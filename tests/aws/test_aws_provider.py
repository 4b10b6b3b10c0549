"""The aws provider against moto in server mode: arm cycles, failures, writer flips."""

from __future__ import annotations

from typing import Any

import pytest
from aws_world import Recorder, World, aws_env, settings_for

from loadtrial.clock import FakeClock
from loadtrial.env.aws import create
from loadtrial.env.aws.clients import Clients
from loadtrial.env.journal import MemoryLog
from loadtrial.env.model import Action
from loadtrial.errors import ProviderError

BASE = "m4.large"  # offered in us-east-1a and us-east-1e in moto's data
BIG = "c5.xlarge"  # offered in us-east-1a, not in us-east-1e


def _types(c: Clients, ids: Any) -> dict[str, str]:
    found = c.ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
    return {i["InstanceId"]: i["InstanceType"] for r in found for i in r["Instances"]}


def _registered(c: Clients, tg: str) -> set[str]:
    health = c.elbv2.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"]
    return {d["Target"]["Id"] for d in health}


def _delay(c: Clients, tg: str) -> str:
    attrs = c.elbv2.describe_target_group_attributes(TargetGroupArn=tg)["Attributes"]
    return next(a["Value"] for a in attrs if a["Key"] == "deregistration_delay.timeout_seconds")


def _writer(c: Clients) -> str:
    members = c.rds.describe_db_clusters(DBClusterIdentifier="shop")["DBClusters"][0]
    return next(
        m["DBInstanceIdentifier"] for m in members["DBClusterMembers"] if m["IsClusterWriter"]
    )


def _failover_after_modify(c: Clients, to: str) -> Any:
    """A hook that fails the cluster over (a real API call) right after the resize."""
    fired: list[bool] = []

    def hook(action: Action) -> None:
        if action.name.startswith("rds modify") and action.status == "ok" and not fired:
            fired.append(True)
            c.rds.failover_db_cluster(DBClusterIdentifier="shop", TargetDBInstanceIdentifier=to)

    return hook


def test_full_arm_cycle_records_every_step_and_reverts(clients: Clients, world: World) -> None:
    c, app = clients, world.instances[:2]
    c.route53.change_resource_record_sets(
        HostedZoneId=world.zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": "app1.example.com.",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.9.9.9"}],
                    },
                }
            ]
        },
    )
    settings = settings_for(
        world,
        app={
            "drain_delay": "5s",
            "config_commands": ["systemctl restart php-fpm"],
            "route53": {"zone_id": world.zone_id, "records": {app[0]: "app1.example.com"}},
        },
    )
    sink = Recorder()
    provider = create(aws_env(settings), sink, MemoryLog(), clients=c, clock=FakeClock())
    before = provider.snapshot()
    record = provider.apply({"app_instance_type": BIG, "db_instance_class": "db.r5.2xlarge"})

    assert _types(c, app) == {i: BIG for i in app}
    assert _registered(c, world.tg_arn) >= set(app)
    assert _delay(c, world.tg_arn) == "5"
    during = provider.snapshot()
    assert during[f"aws.app.{app[0]}.instance_type"] == BIG
    assert during["aws.rds.shop.shop-1.db_instance_class"] == "db.r5.2xlarge"
    assert during["aws.rds.shop.writer"] == "shop-1"
    names = sink.names()
    for iid in app:  # rolling: each instance goes through every step, in order
        steps = [n for n in names if iid in n]
        assert [s.split(" ")[0:2] for s in steps] == [
            ["elb", "deregister"],
            ["ec2", "stop"],
            ["ec2", "modify"],
            ["ec2", "start"],
            ["ssm", "run"],
            ["elb", "register"],
        ]
    assert any(
        n == f"route53 upsert app1.example.com A {during[f'aws.app.{app[0]}.private_ip']}"
        for n in names
    )
    assert all(a.status == "ok" for a in sink.actions)
    assert record.actions == tuple(sink.actions)

    provider.revert(record)
    assert _types(c, app) == {i: BASE for i in app}
    assert _delay(c, world.tg_arn) == "300"
    after = provider.snapshot()
    assert after == before
    revert_names = sink.names()[len(names) :]
    assert revert_names[0] == "rds modify shop-1 class db.r5.2xlarge -> db.r5.large"
    assert revert_names[-1] == "revert drain_delay"


def test_mid_swap_failure_reverts_the_swapped_instance(clients: Clients, world: World) -> None:
    c, (first, second) = clients, world.instances[:2]
    sink = Recorder()

    def block_second(action: Action) -> None:  # AWS refuses to stop it: a real API error
        if action.name.startswith(f"ec2 start {first}") and action.status == "ok":
            c.ec2.modify_instance_attribute(InstanceId=second, DisableApiStop={"Value": True})

    sink.hooks.append(block_second)
    provider = create(aws_env(settings_for(world)), sink, MemoryLog(), clients=c, clock=FakeClock())
    with pytest.raises(ProviderError, match="every change was reverted"):
        provider.apply({"app_instance_type": BIG})
    assert _types(c, [first, second]) == {first: BASE, second: BASE}
    assert _registered(c, world.tg_arn) >= {first, second}
    failed = [a for a in sink.actions if a.status == "failed"]
    assert failed[0].name.startswith(f"ec2 stop {second}")
    assert "OperationNotPermitted" in failed[0].error
    assert f"ec2 modify {first} type {BIG} -> {BASE}" in sink.names()


def test_type_not_offered_stops_no_instance_and_fails_clearly(
    clients: Clients, world: World
) -> None:
    # the zone check runs before anything is drained or stopped (it used to run at start,
    # after the first instance had been taken out, stopped and resized)
    c, ids = clients, (world.instances[0], world.instances[2])
    offered = c.ec2.describe_instance_type_offerings(
        LocationType="availability-zone",
        Filters=[
            {"Name": "instance-type", "Values": [BIG]},
            {"Name": "location", "Values": ["us-east-1e"]},
        ],
    )
    assert offered["InstanceTypeOfferings"] == [], "precondition: BIG not offered in 1e"
    settings = settings_for(world, app={"instances": list(ids)})
    sink = Recorder()
    provider = create(aws_env(settings), sink, MemoryLog(), clients=c, clock=FakeClock())
    with pytest.raises(ProviderError, match=f"{BIG} is not offered in us-east-1e") as err:
        provider.apply({"app_instance_type": BIG})
    assert "every change was reverted" in err.value.message
    assert _types(c, ids) == {ids[0]: BASE, ids[1]: BASE}
    assert _registered(c, world.tg_arn) >= set(ids)
    state = c.ec2.describe_instances(InstanceIds=[ids[1]])["Reservations"][0]["Instances"][0]
    assert state["State"]["Name"] == "running"
    failed = [a.name for a in sink.actions if a.status == "failed"]
    assert failed == [f"ec2 check {BIG} offered in the pool's zones"]
    assert not [n for n in sink.names() if n.startswith(("elb deregister", "ec2 stop"))]


def test_ctrl_c_during_apply_reverts_then_reraises(clients: Clients, world: World) -> None:
    c, first = clients, world.instances[0]
    sink = Recorder()
    fired: list[bool] = []

    def interrupt(action: Action) -> None:
        if action.name.startswith(f"ec2 modify {first}") and not fired:
            fired.append(True)
            raise KeyboardInterrupt

    sink.hooks.append(interrupt)
    provider = create(aws_env(settings_for(world)), sink, MemoryLog(), clients=c, clock=FakeClock())
    with pytest.raises(KeyboardInterrupt):
        provider.apply({"app_instance_type": BIG})
    assert _types(c, world.instances[:2]) == {i: BASE for i in world.instances[:2]}
    assert first in _registered(c, world.tg_arn)
    assert sink.names()[-1] == "revert app"


def test_all_at_once_swaps_the_pool_in_one_batch(clients: Clients, world: World) -> None:
    c, app = clients, world.instances[:2]
    sink = Recorder()
    settings = settings_for(world, app={"rolling": False})
    provider = create(aws_env(settings), sink, MemoryLog(), clients=c, clock=FakeClock())
    provider.apply({"app_instance_type": BIG})
    assert _types(c, app) == {i: BIG for i in app}
    assert f"ec2 stop {app[0]}, {app[1]} and wait stopped" in sink.names()


def test_node_count_registers_the_first_n_and_reverts(clients: Clients, world: World) -> None:
    c = clients
    settings = settings_for(world, app={"instances": None, "instance_tags": {"role": "app"}})
    settings["app"].pop("instances")
    provider = create(aws_env(settings), Recorder(), MemoryLog(), clients=c, clock=FakeClock())
    record = provider.apply({"app_node_count": 1})
    first = sorted(world.instances)[0]
    assert _registered(c, world.tg_arn) == {first}
    facts = provider.snapshot()
    assert facts["aws.elb.app.node_count"] == "1"
    assert facts["aws.elb.app.node_count_targets"] == first
    provider.revert(record)
    assert _registered(c, world.tg_arn) == set(world.instances)


def test_resize_with_failover_shows_the_writer_change(clients: Clients, world: World) -> None:
    c, sink = clients, Recorder()
    sink.hooks.append(_failover_after_modify(c, to="shop-2"))
    provider = create(aws_env(settings_for(world)), sink, MemoryLog(), clients=c, clock=FakeClock())
    assert provider.snapshot()["aws.rds.shop.writer"] == "shop-1"
    record = provider.apply({"db_instance_class": "db.r5.2xlarge"})
    facts = provider.snapshot()
    assert facts["aws.rds.shop.writer"] == "shop-2"
    assert facts["aws.rds.shop.shop-2.role"] == "writer"
    assert facts["aws.rds.shop.shop-1.db_instance_class"] == "db.r5.2xlarge"
    assert "rds writer of shop changed shop-1 -> shop-2" in sink.names()
    provider.revert(record)
    assert _writer(c) == "shop-1"
    assert provider.snapshot()["aws.rds.shop.shop-1.db_instance_class"] == "db.r5.large"


def test_keep_writer_fails_back(clients: Clients, world: World) -> None:
    c, sink = clients, Recorder()
    sink.hooks.append(_failover_after_modify(c, to="shop-2"))
    settings = settings_for(world, db={"keep_writer": True})
    provider = create(aws_env(settings), sink, MemoryLog(), clients=c, clock=FakeClock())
    provider.apply({"db_instance_class": "db.r5.2xlarge"})
    assert _writer(c) == "shop-1"
    names = sink.names()
    assert names.index("rds writer of shop changed shop-1 -> shop-2") < names.index(
        "rds failover shop to shop-1"
    )


def test_untagged_resources_are_refused_before_any_change(clients: Clients, world: World) -> None:
    c, app = clients, world.instances[:2]
    c.ec2.delete_tags(Resources=[app[1]], Tags=[{"Key": "loadtrial"}])
    c.rds.remove_tags_from_resource(
        ResourceName="arn:aws:rds:us-east-1:123456789012:db:shop-2", TagKeys=["loadtrial"]
    )
    sink = Recorder()
    provider = create(aws_env(settings_for(world)), sink, MemoryLog(), clients=c, clock=FakeClock())
    with pytest.raises(ProviderError, match="not tagged loadtrial=managed") as err:
        provider.apply({"app_instance_type": BIG, "db_instance_class": "db.r5.2xlarge"})
    assert app[1] in err.value.message and "db:shop-2" in err.value.message
    assert app[0] not in err.value.message
    assert _types(c, app) == {i: BASE for i in app}
    assert not any("modify" in n for n in sink.names())


def test_custom_managed_tag_is_honoured(clients: Clients, world: World) -> None:
    settings = settings_for(world, managed_tag={"key": "owner", "value": "perf"})
    provider = create(
        aws_env(settings), Recorder(), MemoryLog(), clients=clients, clock=FakeClock()
    )
    with pytest.raises(ProviderError, match="not tagged owner=perf"):
        provider.apply({"app_node_count": 1})


def test_snapshot_reads_the_configured_db_endpoint(clients: Clients, world: World) -> None:
    settings = settings_for(world, db={"endpoint_command": "echo shop.cluster-x.example"})
    facts = create(
        aws_env(settings), Recorder(), MemoryLog(), clients=clients, clock=FakeClock()
    ).snapshot()
    assert facts["aws.app.db_endpoint"] == "shop.cluster-x.example"
    assert facts["aws.rds.shop.endpoint"].startswith("shop.cluster-")
    assert facts["aws.rds.shop.readers"] == "shop-2"
    assert facts["aws.rds.shop.engine_version"] == "15.4"
    assert facts[f"aws.app.{world.instances[0]}.state"] == "running"
    assert facts["aws.elb.app.node_count_healthy"] == "3"
    assert facts["aws.elb.app.not_healthy"] == ""


def test_capacity_message_is_one_clear_sentence(clients: Clients, world: World) -> None:
    ids = [world.instances[2]]
    provider = create(
        aws_env(settings_for(world, app={"instances": ids})),
        Recorder(),
        MemoryLog(),
        clients=clients,
        clock=FakeClock(),
    )
    with pytest.raises(ProviderError) as err:
        provider.apply({"app_instance_type": BIG})
    assert err.value.render() == (
        f"applying the arm failed (instance type {BIG} is not offered in us-east-1e "
        f"(instance {ids[0]})); every change was reverted "
        "(choose a type offered in every zone of the pool)"
    )


def test_node_count_starts_a_stopped_instance_and_revert_stops_it(
    clients: Clients, world: World
) -> None:
    c, spare = clients, sorted(world.instances)[0]
    c.elbv2.deregister_targets(TargetGroupArn=world.tg_arn, Targets=[{"Id": spare}])
    c.ec2.stop_instances(InstanceIds=[spare])
    settings = settings_for(world, app={"instances": sorted(world.instances)})
    provider = create(aws_env(settings), Recorder(), MemoryLog(), clients=c, clock=FakeClock())
    record = provider.apply({"app_node_count": 3})
    assert _registered(c, world.tg_arn) == set(world.instances)
    assert provider.snapshot()[f"aws.app.{spare}.state"] == "running"
    provider.revert(record)
    assert _registered(c, world.tg_arn) == set(world.instances) - {spare}
    assert provider.snapshot()[f"aws.app.{spare}.state"] == "stopped"


def test_route53_zone_must_be_managed_and_missing_address_is_skipped(
    clients: Clients, world: World
) -> None:
    c, first = clients, world.instances[0]
    r53 = {"zone_id": world.zone_id, "records": {first: "app1.example.com"}, "address": "public"}
    settings = settings_for(world, app={"instances": [first], "route53": r53})
    sink = Recorder()
    provider = create(aws_env(settings), sink, MemoryLog(), clients=c, clock=FakeClock())
    record = provider.apply({"app_instance_type": BIG})  # moto gives no public address here
    skipped = [a for a in sink.actions if a.status == "skipped"]
    assert [a.name for a in skipped] == [f"route53 app1.example.com: {first} has no public address"]
    provider.revert(record)
    c.route53.change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=world.zone_id, RemoveTagKeys=["loadtrial"]
    )
    with pytest.raises(ProviderError, match=f"hosted zone {world.zone_id}"):
        provider.apply({"app_instance_type": BIG})


def test_revert_goes_on_past_a_failing_step_and_names_it(clients: Clients, world: World) -> None:
    c, first = clients, world.instances[0]
    settings = settings_for(world, app={"instances": [first], "drain_delay": "5s"})
    provider = create(aws_env(settings), Recorder(), MemoryLog(), clients=c, clock=FakeClock())
    record = provider.apply({"app_instance_type": BIG, "db_instance_class": "db.r5.2xlarge"})
    c.ec2.modify_instance_attribute(InstanceId=first, DisableApiStop={"Value": True})
    with pytest.raises(
        ProviderError, match=r"revert could not restore everything: app: .*OperationNotPermitted"
    ):
        provider.revert(record)
    facts = provider.snapshot()
    assert facts["aws.rds.shop.shop-1.db_instance_class"] == "db.r5.large"  # before the failure
    assert facts["aws.elb.app.deregistration_delay_s"] == "300"  # after the failure
    assert facts[f"aws.app.{first}.instance_type"] == BIG  # the one AWS refused


def test_missing_resources_name_the_setting_to_check(clients: Clients, world: World) -> None:
    # a wrong target group ARN used to be refused as "not tagged loadtrial=managed"
    wrong_tg = world.tg_arn.rsplit("/", 1)[0] + "/0000000000000000"
    cases = [
        (
            {"app": {"target_group_arn": wrong_tg}},
            {"app_node_count": 1},
            "env.app.target_group_arn",
        ),
        ({"db": {"cluster": "shopx"}}, {"db_instance_class": "db.r5.xlarge"}, "env.db.cluster"),
        (
            {"app": {"instances": ["i-0000000000000000a"]}},
            {"app_node_count": 1},
            "env.app.instances",
        ),
    ]
    for extra, params, setting in cases:
        sink = Recorder()
        provider = create(
            aws_env(settings_for(world, **extra)),
            sink,
            MemoryLog(),
            clients=clients,
            clock=FakeClock(),
        )
        with pytest.raises(ProviderError) as err:
            provider.apply(params)
        assert f"(check {setting} and env.region)" in err.value.message
        assert "not tagged" not in err.value.message
        assert not [a for a in sink.actions if a.name.startswith(("elb ", "ec2 ", "rds "))]
