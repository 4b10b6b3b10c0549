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
    "auto_scaling",
}
_DB_KEYS = {"cluster", "instance", "keep_writer", "endpoint_command"}
_ROUTE53_KEYS = {"zone_id", "records", "address", "ttl"}


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


def _unknown(keys: Mapping[str, Any], allowed: set[str], path: str) -> list[Problem]:
    return [
        Problem(f"{path}.{k}", "unknown setting", f"use one of: {', '.join(sorted(allowed))}")
        for k in keys
        if k not in allowed
    ]


def _mapping(raw: Any, path: str, problems: list[Problem]) -> Mapping[str, Any]:
    """Return `raw` when it is a mapping (None = empty); otherwise record a problem."""
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return raw
    problems.append(Problem(path, "must be a mapping", "see docs/aws.md"))
    return {}


def _bool(raw: Mapping[str, Any], key: str, default: bool, path: str, p: list[Problem]) -> bool:
    value = raw.get(key, default)
    if isinstance(value, bool):
        return value
    p.append(Problem(f"{path}.{key}", f"must be true or false, not {value!r}"))
    return default


def _text(raw: Mapping[str, Any], key: str, path: str, p: list[Problem], default: str = "") -> str:
    value = raw.get(key, default)
    if value is None or isinstance(value, str):
        return value or default
    p.append(Problem(f"{path}.{key}", f"must be text, not {value!r}"))
    return default


def _texts(raw: Mapping[str, Any], key: str, path: str, p: list[Problem]) -> tuple[str, ...]:
    value = raw.get(key) or ()
    if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
        return tuple(value)
    p.append(Problem(f"{path}.{key}", "must be a list of text", f'e.g. {key}: ["..."]'))
    return ()


def _text_map(raw: Any, path: str, p: list[Problem]) -> dict[str, str]:
    found = _mapping(raw, path, p)
    if any(not isinstance(v, str | int) or isinstance(v, bool) for v in found.values()):
        p.append(Problem(path, "values must be text"))
    return {str(k): str(v) for k, v in found.items()}


def _route53(raw: Any, path: str, problems: list[Problem]) -> Route53Settings | None:
    if not isinstance(raw, Mapping) or not raw.get("zone_id"):
        problems.append(Problem(path, "needs zone_id and records", "see docs/aws.md"))
        return None
    problems.extend(_unknown(raw, _ROUTE53_KEYS, path))
    address = str(raw.get("address", "private"))
    if address not in ("private", "public"):
        problems.append(
            Problem(f"{path}.address", f"unknown address {address!r}", "private|public")
        )
    records = _text_map(raw.get("records"), f"{path}.records", problems)
    if not records:
        problems.append(Problem(f"{path}.records", "needs {instance-id: record name}"))
    ttl = raw.get("ttl", 60)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        problems.append(Problem(f"{path}.ttl", f"must be a whole number of seconds, not {ttl!r}"))
        ttl = 60
    return Route53Settings(str(raw["zone_id"]), records, address, ttl)


def _app(raw: Any, problems: list[Problem]) -> AppSettings | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem("env.app", "must be a mapping", "see docs/aws.md"))
        return None
    problems.extend(_unknown(raw, _APP_KEYS, "env.app"))
    arn = _text(raw, "target_group_arn", "env.app", problems)
    if not arn.startswith("arn:"):
        problems.append(Problem("env.app.target_group_arn", "needs the target group's ARN"))
    instances = _texts(raw, "instances", "env.app", problems)
    tags = _text_map(raw.get("instance_tags"), "env.app.instance_tags", problems)
    if bool(instances) == bool(tags):
        problems.append(Problem("env.app", "give exactly one of instances or instance_tags"))
    drain = raw.get("drain_delay")
    drain_s = _duration(drain, "env.app.drain_delay", problems) if drain is not None else None
    r53 = _route53(raw["route53"], "env.app.route53", problems) if "route53" in raw else None
    commands = _texts(raw, "config_commands", "env.app", problems)
    rolling = _bool(raw, "rolling", True, "env.app", problems)
    asg = _text(raw, "auto_scaling", "env.app", problems, "refuse")
    if asg not in ("refuse", "standby"):
        problems.append(Problem("env.app.auto_scaling", f"unknown value {asg!r}",
                                "refuse (the default) or standby"))  # fmt: skip
    return AppSettings(arn, instances, tags, rolling, drain_s, commands, r53, asg)


def _db(raw: Any, problems: list[Problem]) -> DbSettings | None:
    if not isinstance(raw, Mapping) or not raw.get("cluster"):
        problems.append(Problem("env.db", "needs cluster: <DB cluster identifier>"))
        return None
    problems.extend(_unknown(raw, _DB_KEYS, "env.db"))
    return DbSettings(
        _text(raw, "cluster", "env.db", problems),
        _text(raw, "instance", "env.db", problems),
        _bool(raw, "keep_writer", False, "env.db", problems),
        _text(raw, "endpoint_command", "env.db", problems),
    )


def _duration(raw: Any, path: str, problems: list[Problem]) -> float:
    try:
        seconds = parse_duration_s(raw)
    except (TypeError, ValueError) as exc:
        problems.append(Problem(path, str(exc)))
        return 0.0
    if seconds <= 0 and not path.endswith("drain_delay"):
        problems.append(Problem(path, "must be more than 0s"))
    return seconds


def _waits(raw: Any, problems: list[Problem]) -> Waits:
    found = _mapping(raw, "env.waits", problems)
    problems.extend(_unknown(found, {"poll", "timeout", "db_timeout"}, "env.waits"))
    return Waits(
        _duration(found.get("poll", 5.0), "env.waits.poll", problems),
        _duration(found.get("timeout", 1200.0), "env.waits.timeout", problems),
        _duration(found.get("db_timeout", 2700.0), "env.waits.db_timeout", problems),
    )


def parse_settings(settings: Mapping[str, Any]) -> tuple[AwsSettings, list[Problem]]:
    """Return the settings and every problem found (settings are usable only if none)."""
    problems = _unknown({k: v for k, v in settings.items() if k != "provider"}, _TOP_KEYS, "env")
    tag = _mapping(settings.get("managed_tag"), "env.managed_tag", problems)
    problems.extend(_unknown(tag, {"key", "value"}, "env.managed_tag"))
    app = _app(settings["app"], problems) if "app" in settings else None
    db = _db(settings["db"], problems) if "db" in settings else None
    parsed = AwsSettings(
        region=_text(settings, "region", "env", problems),
        endpoint_url=_text(settings, "endpoint_url", "env", problems),
        tag_key=_text(tag, "key", "env.managed_tag", problems, "loadtrial"),
        tag_value=_text(tag, "value", "env.managed_tag", problems, "managed"),
        app=app,
        db=db,
        waits=_waits(settings.get("waits"), problems),
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
