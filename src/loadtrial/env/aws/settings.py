"""The `aws` provider's settings and arm parameters, parsed and checked.

In: the trial's `env:` mapping (without `provider`) — its shape (keys, types, enums) already
checked by its model, `env.settings.AwsEnv`, when the trial was read — and each arm's
parameters. Out: frozen `AwsSettings` / `ArmParams`, and every `Problem` a type cannot
express, at once, with field paths such as "env.app.target_group_arn" or
"arms.big.app_node_count".

    env:
      provider: aws
      region: eu-west-1                     # optional; otherwise the standard AWS chain
      managed_tag: {key: loadtrial, value: managed}
      app:
        target_group_arn: arn:aws:elasticloadbalancing:...
        instances: [i-0abc, i-0def]         # or instance_tags: {role: app}
        rolling: true                       # one instance at a time (capacity kept)
        auto_scaling: refuse                # or standby: members in Standby while resized
        drain_delay: 10s                    # shorten deregistration delay for the trial
        config_commands: ["systemctl restart php-fpm"]   # via SSM after each start
        route53: {zone_id: Z123, records: {i-0abc: app1.example.com}, address: private}
      db:
        cluster: shop
        instance: shop-1                    # member to resize (default: the writer)
        keep_writer: true
        endpoint_command: "ssh app1 grep DB_HOST /etc/app.env"
      waits: {poll: 5s, timeout: 20m, db_timeout: 45m}   # db_timeout: Aurora's waits
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtrial.env.settings import AwsEnv, AwsEnvApp, AwsEnvTag, AwsEnvWaits
from loadtrial.errors import Problem

PARAMS = ("app_instance_type", "app_node_count", "db_instance_class")


@dataclass(frozen=True)
class Route53Settings:
    """Which A record follows which instance's address."""

    zone_id: str
    records: Mapping[str, str]  # instance id -> record name
    address: str = "private"  # "private" | "public"
    ttl: int = 60


@dataclass(frozen=True)
class AppSettings:
    """The app pool behind an ALB target group."""

    target_group_arn: str
    instances: tuple[str, ...] = ()
    instance_tags: Mapping[str, str] = field(default_factory=dict)
    rolling: bool = True
    drain_delay_s: float | None = None
    config_commands: tuple[str, ...] = ()
    route53: Route53Settings | None = None
    auto_scaling: str = "refuse"  # "refuse" | "standby" (for instances in an ASG)


@dataclass(frozen=True)
class DbSettings:
    """The Aurora cluster and the member an arm may resize."""

    cluster: str
    instance: str = ""  # "" = the writer when the arm is applied
    keep_writer: bool = False
    endpoint_command: str = ""


@dataclass(frozen=True)
class Waits:
    """How often to poll AWS and how long to wait for any one state."""

    poll_s: float = 5.0
    timeout_s: float = 1200.0
    db_timeout_s: float = 2700.0  # an Aurora resize or failover often takes 20-40 min


@dataclass(frozen=True)
class AwsSettings:
    """Everything the provider needs besides credentials (those come from the chain)."""

    region: str = ""
    endpoint_url: str = ""
    tag_key: str = "loadtrial"
    tag_value: str = "managed"
    app: AppSettings | None = None
    db: DbSettings | None = None
    waits: Waits = Waits()


@dataclass(frozen=True)
class ArmParams:
    """One arm's AWS parameters (None = leave as found)."""

    app_instance_type: str | None = None
    app_node_count: int | None = None
    db_instance_class: str | None = None


def _app(raw: AwsEnvApp, problems: list[Problem]) -> AppSettings:
    if not raw.target_group_arn.startswith("arn:"):
        problems.append(Problem("env.app.target_group_arn", "needs the target group's ARN"))
    instances, tags = raw.instances or (), raw.instance_tags or {}
    if bool(instances) == bool(tags):
        problems.append(Problem("env.app", "give exactly one of instances or instance_tags"))
    r53 = raw.route53
    route53 = (
        None if r53 is None else Route53Settings(r53.zone_id, r53.records, r53.address, r53.ttl)
    )
    if r53 is not None and not r53.records:
        problems.append(Problem("env.app.route53.records", "needs {instance-id: record name}"))
    return AppSettings(
        raw.target_group_arn, tuple(instances), tags, raw.rolling, raw.drain_delay,
        tuple(raw.config_commands or ()), route53, raw.auto_scaling,
    )  # fmt: skip


def _waits(raw: AwsEnvWaits, problems: list[Problem]) -> Waits:
    """How often and how long to wait; each given one must be more than 0s."""
    waits = Waits(
        5.0 if raw.poll is None else raw.poll,
        1200.0 if raw.timeout is None else raw.timeout,
        2700.0 if raw.db_timeout is None else raw.db_timeout,
    )
    for key, seconds in (("poll", waits.poll_s), ("timeout", waits.timeout_s),
                         ("db_timeout", waits.db_timeout_s)):  # fmt: skip
        if seconds <= 0:
            problems.append(Problem(f"env.waits.{key}", "must be more than 0s"))
    return waits


def parse_settings(settings: Mapping[str, Any] | AwsEnv) -> tuple[AwsSettings, list[Problem]]:
    """Return the settings and every problem their model cannot express (settings are
    usable only if none). `settings` is a valid `AwsEnv`, or its dump as the doors other
    than `create` hand it over (a malformed mapping raises pydantic's ValidationError: the
    trial file's reader reports those)."""
    env = (
        settings
        if isinstance(settings, AwsEnv)
        else AwsEnv.model_validate({**settings, "provider": "aws"})
    )
    problems: list[Problem] = []
    tag = env.managed_tag or AwsEnvTag()
    db = env.db
    parsed = AwsSettings(
        region=env.region or "",
        endpoint_url=env.endpoint_url or "",
        tag_key=tag.key,
        tag_value=tag.value,
        app=None if env.app is None else _app(env.app, problems),
        db=None if db is None else DbSettings(
            db.cluster, db.instance or "", db.keep_writer, db.endpoint_command or ""
        ),
        waits=_waits(env.waits or AwsEnvWaits(), problems),
    )  # fmt: skip
    return parsed, problems


def parse_params(params: Mapping[str, Any], path: str) -> tuple[ArmParams, list[Problem]]:
    """Return one arm's parameters and every problem with them (`path` = "arms.<name>")."""
    problems = [
        Problem(f"{path}.{k}", "not an aws parameter", f"use one of: {', '.join(PARAMS)}")
        for k in params
        if k not in PARAMS
    ]
    count = params.get("app_node_count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        problems.append(Problem(f"{path}.app_node_count", "must be a whole number >= 1"))
        count = None
    itype = params.get("app_instance_type")
    if itype is not None and (not isinstance(itype, str) or "." not in itype):
        problems.append(Problem(f"{path}.app_instance_type", "must look like c5.xlarge"))
    dbc = params.get("db_instance_class")
    if dbc is not None and (not isinstance(dbc, str) or not dbc.startswith("db.")):
        problems.append(Problem(f"{path}.db_instance_class", "must look like db.r5.large"))
    return ArmParams(
        None if itype is None else str(itype), count, None if dbc is None else str(dbc)
    ), problems


def check(settings: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Return every problem with the settings and with each arm's parameters."""
    parsed, problems = parse_settings(settings)
    for name, raw in arms.items():
        params, arm_problems = parse_params(raw, f"arms.{name}")
        problems.extend(arm_problems)
        needs_app = params.app_instance_type is not None or params.app_node_count is not None
        if needs_app and parsed.app is None:
            problems.append(Problem(f"arms.{name}", "app parameters need env.app"))
        if params.db_instance_class is not None and parsed.db is None:
            problems.append(Problem(f"arms.{name}.db_instance_class", "needs env.db.cluster"))
    return problems
