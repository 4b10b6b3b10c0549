"""The `aws` provider's settings and arm parameters, parsed and checked.

In: the trial's `env:` mapping (without `provider`) and each arm's parameters.
Out: frozen `AwsSettings` / `ArmParams`, or every `Problem` at once with field paths such as
"env.app.target_group_arn" or "arms.big.app_node_count".

    env:
      provider: aws
      region: eu-west-1                     # optional; otherwise the standard AWS chain
      managed_tag: {key: loadtrial, value: managed}
      app:
        target_group_arn: arn:aws:elasticloadbalancing:...
        instances: [i-0abc, i-0def]         # or instance_tags: {role: app}
        rolling: true                       # one instance at a time (capacity kept)
        drain_delay: 10s                    # shorten deregistration delay for the trial
        config_commands: ["systemctl restart php-fpm"]   # via SSM after each start
        route53: {zone_id: Z123, records: {i-0abc: app1.example.com}, address: private}
      db:
        cluster: shop
        instance: shop-1                    # member to resize (default: the writer)
        keep_writer: true
        endpoint_command: "ssh app1 grep DB_HOST /etc/app.env"
      waits: {poll: 5s, timeout: 20m}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtrial.errors import Problem
from loadtrial.units import parse_duration_s

PARAMS = ("app_instance_type", "app_node_count", "db_instance_class")
_TOP_KEYS = {"region", "endpoint_url", "managed_tag", "app", "db", "waits"}
_APP_KEYS = {
    "target_group_arn",
    "instances",
    "instance_tags",
    "rolling",
    "drain_delay",
    "config_commands",
    "route53",
}
_DB_KEYS = {"cluster", "instance", "keep_writer", "endpoint_command"}


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


def _unknown(keys: Mapping[str, Any], allowed: set[str], path: str) -> list[Problem]:
    return [
        Problem(f"{path}.{k}", "unknown setting", f"use one of: {', '.join(sorted(allowed))}")
        for k in keys
        if k not in allowed
    ]


def _route53(raw: Any, path: str, problems: list[Problem]) -> Route53Settings | None:
    if not isinstance(raw, Mapping) or not raw.get("zone_id"):
        problems.append(Problem(path, "needs zone_id and records", "see docs/aws.md"))
        return None
    address = str(raw.get("address", "private"))
    if address not in ("private", "public"):
        problems.append(
            Problem(f"{path}.address", f"unknown address {address!r}", "private|public")
        )
    records = raw.get("records", {})
    if not isinstance(records, Mapping) or not records:
        problems.append(Problem(f"{path}.records", "needs {instance-id: record name}"))
        records = {}
    ttl = int(raw.get("ttl", 60))
    return Route53Settings(
        str(raw["zone_id"]), {str(k): str(v) for k, v in records.items()}, address, ttl
    )


def _app(raw: Any, problems: list[Problem]) -> AppSettings | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem("env.app", "must be a mapping", "see docs/aws.md"))
        return None
    problems.extend(_unknown(raw, _APP_KEYS, "env.app"))
    arn = str(raw.get("target_group_arn", ""))
    if not arn.startswith("arn:"):
        problems.append(Problem("env.app.target_group_arn", "needs the target group's ARN"))
    instances = tuple(str(i) for i in raw.get("instances", ()) or ())
    tags = {str(k): str(v) for k, v in (raw.get("instance_tags") or {}).items()}
    if bool(instances) == bool(tags):
        problems.append(Problem("env.app", "give exactly one of instances or instance_tags"))
    drain = raw.get("drain_delay")
    drain_s = _duration(drain, "env.app.drain_delay", problems) if drain is not None else None
    r53 = _route53(raw["route53"], "env.app.route53", problems) if "route53" in raw else None
    commands = tuple(str(c) for c in raw.get("config_commands", ()) or ())
    return AppSettings(arn, instances, tags, bool(raw.get("rolling", True)), drain_s, commands, r53)


def _db(raw: Any, problems: list[Problem]) -> DbSettings | None:
    if not isinstance(raw, Mapping) or not raw.get("cluster"):
        problems.append(Problem("env.db", "needs cluster: <DB cluster identifier>"))
        return None
    problems.extend(_unknown(raw, _DB_KEYS, "env.db"))
    return DbSettings(
        str(raw["cluster"]),
        str(raw.get("instance", "")),
        bool(raw.get("keep_writer", False)),
        str(raw.get("endpoint_command", "")),
    )


def _duration(raw: Any, path: str, problems: list[Problem]) -> float:
    try:
        return parse_duration_s(raw)
    except ValueError as exc:
        problems.append(Problem(path, str(exc)))
        return 0.0


def parse_settings(settings: Mapping[str, Any]) -> tuple[AwsSettings, list[Problem]]:
    """Return the settings and every problem found (settings are usable only if none)."""
    problems = _unknown({k: v for k, v in settings.items() if k != "provider"}, _TOP_KEYS, "env")
    tag = settings.get("managed_tag") or {}
    app = _app(settings["app"], problems) if "app" in settings else None
    db = _db(settings["db"], problems) if "db" in settings else None
    raw_waits = settings.get("waits") or {}
    waits = Waits(
        _duration(raw_waits.get("poll", 5.0), "env.waits.poll", problems),
        _duration(raw_waits.get("timeout", 1200.0), "env.waits.timeout", problems),
    )
    parsed = AwsSettings(
        region=str(settings.get("region", "")),
        endpoint_url=str(settings.get("endpoint_url", "")),
        tag_key=str(tag.get("key", "loadtrial")),
        tag_value=str(tag.get("value", "managed")),
        app=app,
        db=db,
        waits=waits,
    )
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
    dbc = params.get("db_instance_class")
    if dbc is not None and not str(dbc).startswith("db."):
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
