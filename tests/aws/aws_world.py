"""Helpers shared by the aws tests: the world's identifiers, settings, a recording sink."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadtrial.env.model import Action
from loadtrial.env.settings import AwsEnv

MANAGED = [{"Key": "loadtrial", "Value": "managed"}]


@dataclass(frozen=True)
class World:
    """Identifiers of what the fixture created."""

    instances: tuple[str, ...]  # two in us-east-1a, the last in us-east-1e
    tg_arn: str
    zone_id: str
    cluster: str = "shop"
    writer: str = "shop-1"
    reader: str = "shop-2"


def settings_for(world: World, **extra: Any) -> dict[str, Any]:
    """Return env settings for the world, with fast waits."""
    base: dict[str, Any] = {
        "app": {"target_group_arn": world.tg_arn, "instances": list(world.instances[:2])},
        "db": {"cluster": world.cluster},
        "waits": {"poll": "1s", "timeout": "30s"},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


class Recorder:
    """An ActionSink that keeps every action and may run a hook on each (real API calls)."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self.hooks: list[Any] = []

    def __call__(self, action: Action) -> None:
        self.actions.append(action)
        for hook in self.hooks:
            hook(action)

    def names(self) -> list[str]:
        return [a.name for a in self.actions]


def attach_to_group(c: Any, iid: str, *, name: str = "web", min_size: int = 0) -> None:
    """Attach `iid` to a new Auto Scaling group (a real one, in moto)."""
    c.autoscaling.create_launch_configuration(
        LaunchConfigurationName=f"{name}-lc", ImageId="ami-12c6146b", InstanceType="m4.large"
    )
    c.autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=name, LaunchConfigurationName=f"{name}-lc", MinSize=0, MaxSize=4,
        DesiredCapacity=0, AvailabilityZones=["us-east-1a"],
    )  # fmt: skip
    c.autoscaling.attach_instances(InstanceIds=[iid], AutoScalingGroupName=name)
    c.autoscaling.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=min_size)


def aws_env(settings: dict[str, Any]) -> AwsEnv:
    """The `env:` settings as the provider's `create` takes them: read into their model."""
    return AwsEnv.model_validate({**settings, "provider": "aws"})
