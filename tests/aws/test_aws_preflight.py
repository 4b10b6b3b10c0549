"""Preflight against moto: each unsafe case is refused with one clear line, all of them in
one report, before anything changes. What moto cannot emulate (SSM ping status, pending
Aurora modifications) is checked on the response shapes AWS documents (see docs/aws.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from aws_world import World, attach_to_group, settings_for

from loadtrial.cli import main
from loadtrial.env.aws import preflight
from loadtrial.env.aws.clients import Clients
from loadtrial.env.aws.preflight import (
    Credentials,
    aurora_problems,
    credential_problems,
    ssm_problems,
)
from loadtrial.store import Store

FOREVER = Credentials("iam-role", None)


def _check(world: World, clients: Clients, arms: dict[str, Any], **extra: Any) -> list[str]:
    found = preflight(settings_for(world, **extra), arms, 600.0, clients=clients,
                      credentials=FOREVER)  # fmt: skip
    return [f"{p.field}: {p.message}" for p in found]


def test_a_compatible_swap_passes(clients: Clients, world: World) -> None:
    assert _check(world, clients, {"big": {"app_instance_type": "m4.xlarge"}}) == []


def test_incompatible_types_are_refused_one_line_each(clients: Clients, world: World) -> None:
    a, b = world.instances[:2]
    found = _check(world, clients, {
        "graviton": {"app_instance_type": "m6g.large"},
        "ena": {"app_instance_type": "c5.xlarge"},
        "typo": {"app_instance_type": "m4.hugex"},
    })  # fmt: skip
    graviton = [
        f"arms.graviton.app_instance_type: {text}"
        for i in (a, b)
        for text in (
            f"{i} runs x86_64 but m6g.large supports arm64",
            f"m6g.large requires ENA, which is not enabled on {i}",
            f"{i} boots legacy-bios but m6g.large supports uefi",
        )
    ]
    assert found == [
        *graviton,
        f"arms.ena.app_instance_type: c5.xlarge requires ENA, which is not enabled on {a}",
        f"arms.ena.app_instance_type: c5.xlarge requires ENA, which is not enabled on {b}",
        "arms.typo.app_instance_type: m4.hugex is not an instance type this region offers",
    ]


def test_a_type_not_offered_in_an_instance_zone(clients: Clients, world: World) -> None:
    found = _check(world, clients, {"big": {"app_instance_type": "c5.xlarge"}},
                   app={"instances": [world.instances[2]]})  # fmt: skip
    assert f"c5.xlarge is not offered in us-east-1e (instance {world.instances[2]})" in "\n".join(
        found
    )


def test_auto_scaling_members_and_spot_instances_are_refused(
    clients: Clients, world: World
) -> None:
    c, iid = clients, world.instances[0]
    attach_to_group(c, iid)
    spot = c.ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="m4.large",
        InstanceMarketOptions={"MarketType": "spot"},
    )["Instances"][0]["InstanceId"]  # fmt: skip
    found = _check(world, clients, {"big": {"app_instance_type": "m4.xlarge"}},
                   app={"instances": [iid, spot]})  # fmt: skip
    assert found == [
        f"env.app.instances: {iid} is in Auto Scaling group web: stopping it makes the group "
        "replace it",
        f"env.app.instances: {spot} is a Spot instance: its type cannot be changed by "
        "stop/modify/start",
    ]


def test_credentials_that_expire_before_the_trial_ends() -> None:
    now = 1_000_000.0
    soon = Credentials("env", now + 600)
    assert [p.message for p in credential_problems(soon, 1800, now)] == [
        "the AWS credentials (env) expire in 10 min, the trial needs about 45 min with its reverts"
    ]
    assert credential_problems(Credentials("env", now + 7200), 1800, now) == []
    assert credential_problems(Credentials("sso", now + 600), 1800, now) == []  # renews itself


def test_missing_credentials_are_one_problem(
    clients: Clients, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(key, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bad = boto3.client("sts", endpoint_url=clients.sts.meta.endpoint_url, region_name="us-east-1")
    broken = Clients(clients.ec2, clients.elbv2, clients.rds, clients.route53, clients.ssm,
                     clients.autoscaling, bad)  # fmt: skip
    found = _check(world, broken, {"big": {"app_instance_type": "m4.xlarge"}})
    assert found == ["env: cannot check credentials: NoCredentialsError: Unable to locate "
                     "credentials"]  # fmt: skip


def test_ssm_agents_not_online_shape_documented_by_aws() -> None:
    # DescribeInstanceInformation is not implemented by moto; this is the shape AWS returns
    listed = [{"InstanceId": "i-1", "PingStatus": "Online"},
              {"InstanceId": "i-2", "PingStatus": "ConnectionLost"}]  # fmt: skip
    assert [p.message for p in ssm_problems(["i-1", "i-2", "i-3"], listed)] == [
        "the SSM agent of i-2 is ConnectionLost, not Online",
        "i-3 is not managed by SSM (no agent, or no instance profile allowing it)",
    ]


def test_aurora_pending_modifications_shape_documented_by_aws() -> None:
    # moto applies every modification at once; AWS queues them in PendingModifiedValues
    cluster = {"DBClusterIdentifier": "shop", "Status": "available"}
    queued = {"DBInstanceIdentifier": "shop-1", "DBInstanceStatus": "available",
              "PendingModifiedValues": {"DBInstanceClass": "db.r5.4xlarge"}}  # fmt: skip
    busy = {"DBInstanceIdentifier": "shop-2", "DBInstanceStatus": "modifying"}
    assert [p.message for p in aurora_problems(cluster, [queued, busy])] == [
        "shop-1 has pending modifications ['DBInstanceClass'] that applying the arm would "
        "push through",
        "shop-2 is modifying, not available",
    ]


def test_the_cli_reports_every_problem_at_once_and_changes_nothing(
    clients: Clients, world: World, moto_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    trial = tmp_path / "trial.yaml"
    settings = settings_for(world, region="us-east-1", endpoint_url=moto_url)
    trial.write_text(yaml.safe_dump({
        "name": "unsafe", "target": {"base_url": "http://127.0.0.1:9"},
        "load": {"stages": [{"rate": 1, "duration": "1s"}]},
        "env": {"provider": "aws", **settings},
        "arms": {"arm64": {"app_instance_type": "m6g.large"}},
    }))  # fmt: skip
    started = time.time()
    assert main(["run", str(trial), "--store", str(tmp_path / "r.db")]) == 2
    err = capsys.readouterr().err
    assert "preflight: 6 problem(s), nothing was changed" in err
    assert err.count(f"{trial}:") == 6 and "runs x86_64 but m6g.large supports arm64" in err
    with Store(tmp_path / "r.db") as store:
        assert store.list_trials() == () and store.journal_entries() == ()
    found = clients.ec2.describe_instances(InstanceIds=list(world.instances[:2]))
    assert {i["State"]["Name"] for r in found["Reservations"] for i in r["Instances"]} == {
        "running"
    }
    assert time.time() - started < 30


def test_standby_needs_room_below_the_desired_capacity(clients: Clients, world: World) -> None:
    iid = world.instances[0]
    attach_to_group(clients, iid, min_size=1)  # desired 1, min 1: no room for Standby
    arms = {"big": {"app_instance_type": "m4.xlarge"}}
    found = _check(world, clients, arms, app={"instances": [iid], "auto_scaling": "standby"})
    assert found == [
        "env.app.auto_scaling: group web has desired 1, min 1: 1 instance(s) cannot go to Standby"
    ]
    clients.autoscaling.update_auto_scaling_group(AutoScalingGroupName="web", MinSize=0)
    assert _check(world, clients, arms, app={"instances": [iid], "auto_scaling": "standby"}) == []
