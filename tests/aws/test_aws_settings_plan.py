"""Settings and arm checks (every problem at once, with field paths) and the dry-run plan
(pure: it describes calls and makes none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_world import aws_env

from loadtrial.env import provider_problems
from loadtrial.env.aws import plan_calls, problems
from loadtrial.env.journal import MemoryLog
from loadtrial.env.settings import AWS_GOVERNANCE
from loadtrial.errors import ProviderError, SpecError
from loadtrial.spec import parse_trial_text

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/app/93795524aca9cc53"
SETTINGS = {
    "region": "us-east-1",
    "app": {
        "target_group_arn": TG,
        "instance_tags": {"role": "app"},
        "drain_delay": "10s",
        "config_commands": ["systemctl restart php-fpm"],
        "route53": {"zone_id": "Z1", "records": {"i-1": "app1.example.com"}},
    },
    "db": {"cluster": "shop", "keep_writer": True},
}


def test_good_settings_have_no_problems() -> None:
    arms = {
        "small": {"app_instance_type": "t3.small"},
        "big": {
            "app_instance_type": "c5.xlarge",
            "db_instance_class": "db.r5.2xlarge",
            "app_node_count": 3,
        },
    }
    assert problems(SETTINGS, arms) == []
    assert provider_problems("aws", SETTINGS, arms) == []


TRIAL = """\
name: t
target: {base_url: "http://127.0.0.1:8080"}
load: {stages: [{rate: 5, duration: 2s}]}
arms: {a: {app_node_count: 2}}
env:
  provider: aws
"""


def _rendered(env: str) -> list[str]:
    """The problems of a trial file with these `env:` lines, rendered as file:line: ..."""
    with pytest.raises(SpecError) as info:
        parse_trial_text(TRIAL + env, "trial.yaml", {})
    return [p.render() for p in info.value.problems]


def test_a_wrong_shape_is_a_located_problem_of_the_trial_file() -> None:
    # keys and types are the model's (env.settings.AwsEnv): every mistake, with its line
    found = _rendered(
        "  regoin: x\n"
        "  managed_tag: loadtrial\n"
        "  app:\n"
        "    target_group_arn: arn:aws:x\n"
        "    instances: [i-abc]\n"
        "    rolling: 'no'\n"
        "    drain_delay: soon\n"
        "    route53: {zone_id: Z1, records: {i-abc: a.example.com}, ttl: 0, adress: x}\n"
        "  db: {cluster: shop, keep_writer: 'false'}\n"
        "  waits: {poll: often, timout: 5m}\n"
    )
    where = [r.split(" ")[0] for r in found]  # in file order
    assert where == [
        "trial.yaml:7:", "trial.yaml:8:", "trial.yaml:13:", "trial.yaml:14:", "trial.yaml:14:",
        "trial.yaml:16:", "trial.yaml:16:",
    ], found  # fmt: skip
    fields = {r.split(" ")[1].rstrip(":") for r in found}
    assert fields == {
        "env.regoin", "env.managed_tag", "env.app.drain_delay", "env.app.route53.ttl",
        "env.app.route53.adress", "env.waits.poll", "env.waits.timout",
    }  # fmt: skip
    # 'no' and 'false' are read as booleans, as everywhere in the trial file (pydantic)


def test_what_a_type_cannot_say_is_the_providers() -> None:
    settings = {
        "app": {"target_group_arn": "app", "route53": {"zone_id": "Z1", "records": {}}},
        "waits": {"poll": 0.0},
    }
    arms = {"a": {"app_node_count": 0, "db_instance_class": "r5.large", "cpus": 2}}
    fields = {p.field for p in problems(settings, arms)}
    assert fields == {
        "env.app.target_group_arn",
        "env.app",  # neither instances nor instance_tags
        "env.app.route53.records",
        "env.waits.poll",
        "arms.a.app_node_count",
        "arms.a.db_instance_class",
        "arms.a.cpus",
    }
    # the same, through the trial file: located at the lines of the fields
    found = _rendered("  app: {target_group_arn: app, instances: [i-1]}\n")
    assert found == ["trial.yaml:7: env.app.target_group_arn: needs the target group's ARN"]


def test_plan_lists_the_calls_in_order_without_making_any() -> None:
    # no clients, no credentials, no network: plan_calls only reads the settings
    lines = plan_calls(
        SETTINGS, {"app_instance_type": "c5.xlarge", "db_instance_class": "db.r5.2xlarge"}
    )
    text = "\n".join(lines)
    order = [
        "ModifyTargetGroupAttributes",
        "DeregisterTargets",
        "StopInstances",
        "InstanceType=c5.xlarge",
        "StartInstances",
        "ssm.SendCommand",
        "RegisterTargets",
        "route53.ChangeResourceRecordSets",
        "rds.ModifyDBInstance",
        "FailoverDBCluster",
    ]
    positions = [text.index(word) for word in order]
    assert positions == sorted(positions)
    assert "instances tagged role=app" in text and "one at a time" in text
    assert "target group app, hosted zone Z1 are tagged loadtrial=managed" in text
    assert lines[-1].startswith("revert:")


def test_plan_for_an_arm_without_aws_changes() -> None:
    assert plan_calls(SETTINGS, {})[0].startswith("no AWS changes")


def test_the_declared_facts_cover_every_parameter() -> None:
    from loadtrial.env.aws.settings import PARAMS

    assert set(AWS_GOVERNANCE) == set(PARAMS)


def test_clients_from_settings_reach_the_endpoint(client_kwargs: dict[str, Any]) -> None:
    from loadtrial.env.aws.clients import make_clients

    keys = {k: v for k, v in client_kwargs.items() if k.startswith("aws_")}
    c = make_clients("eu-west-1", client_kwargs["endpoint_url"], **keys)
    assert c.ec2.meta.region_name == "eu-west-1"
    assert c.ec2.describe_instances()["Reservations"] == []


def test_no_region_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from loadtrial.env.aws.clients import make_clients

    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ProviderError, match="no AWS region"):
        make_clients()


def test_snapshot_failure_is_a_provider_error(client_kwargs: dict[str, Any]) -> None:
    from loadtrial.env.aws import create
    from loadtrial.env.aws.clients import make_clients

    keys = {k: v for k, v in client_kwargs.items() if k.startswith("aws_")}
    clients = make_clients("us-east-1", client_kwargs["endpoint_url"], **keys)
    settings = {"db": {"cluster": "missing"}}
    provider = create(aws_env(settings), lambda a: None, MemoryLog(), clients=clients)
    with pytest.raises(ProviderError, match="reading the AWS facts failed"):
        provider.snapshot()


def test_plan_through_the_env_door() -> None:
    from loadtrial.env import plan_calls as door_plan_calls

    lines = door_plan_calls("aws", SETTINGS, {"app_node_count": 2})
    assert any("keep the first 2" in line for line in lines)
    assert door_plan_calls("none", {}, {"x": 1}) == []
