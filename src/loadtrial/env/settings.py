"""The settings of each provider, as pydantic models: the shape of the trial's `env:`.

In: the trial's `env:` mapping. Out: a frozen model of its provider, picked by `provider`
(`EnvSettings`, a union discriminated on `provider`; no `env:` at all is `provider: none`),
so a wrong type or an unknown key is a located problem of the trial file and `loadtrial
schema` describes every provider. Arm parameters and what a type cannot say (an ARN that is
not one, `{field}`s an arm does not set) are checked by the provider's own `problems`.
A dump (`model_dump(exclude={"provider"})`) holds only the keys the user wrote, the mapping
each provider's `create(settings, …)` reads. No provider module (boto3, the testbed) is
imported here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from loadtrial.observe.settings import Written
from loadtrial.units import Duration

Commands = str | tuple[str, ...]  # one shell command or a list run in order


class NoneSettings(Written):
    """`provider: none`: arms are labels only; nothing is changed."""

    provider: Literal["none"] = "none"


class ShellSettings(Written):
    """`provider: shell`: your commands reshape the system between arms."""

    provider: Literal["shell"]
    apply: Commands | None = None  # templates: {param} is the arm's value, shell-quoted
    revert: Commands | None = None
    facts: dict[str, str] | None = None  # fact name -> command printing its value
    timeout: Duration | None = None  # per command; default 60s
    cwd: str | None = None


class TestbedSettings(Written):
    """`provider: testbed`: arms reshape the built-in testbed."""

    __test__ = False
    provider: Literal["testbed"]
    state: str | None = None  # the testbed's state file; default .loadtrial/testbed/state.json


class AwsManagedTag(Written):
    key: str = "loadtrial"
    value: str = "managed"


class AwsRoute53(Written):
    zone_id: str
    records: dict[str, str]  # instance id -> record name
    address: Literal["private", "public"] = "private"
    ttl: int = Field(default=60, ge=1)


class AwsApp(Written):
    target_group_arn: str
    instances: tuple[str, ...] | None = None
    instance_tags: dict[str, str] | None = None
    rolling: bool = True
    drain_delay: Duration | None = None
    config_commands: tuple[str, ...] | None = None
    route53: AwsRoute53 | None = None
    auto_scaling: Literal["refuse", "standby"] = "refuse"


class AwsDb(Written):
    cluster: str
    instance: str | None = None
    keep_writer: bool = False
    endpoint_command: str | None = None


class AwsWaits(Written):
    poll: Duration | None = None
    timeout: Duration | None = None
    db_timeout: Duration | None = None


class AwsSettings(Written):
    """`provider: aws`: instance swaps behind an ALB, Aurora resizes (docs/aws.md)."""

    provider: Literal["aws"]
    region: str | None = None
    endpoint_url: str | None = None
    managed_tag: AwsManagedTag | None = None
    app: AwsApp | None = None
    db: AwsDb | None = None
    waits: AwsWaits | None = None


EnvSettings = Annotated[
    NoneSettings | ShellSettings | TestbedSettings | AwsSettings,
    Field(discriminator="provider"),
]
