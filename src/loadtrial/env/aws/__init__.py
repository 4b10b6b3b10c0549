"""The `aws` environment provider: instance swaps behind an ALB, Aurora resizes.

Door (as in loadtrial.env):

    create(settings, sink, log, *, clients=None, clock=None) -> AwsProvider
    env_key(settings) -> str                      # "aws:<region>:<target group>:<cluster>"
    problems(settings, arms) -> list[Problem]
    plan_calls(settings, params) -> list[str]     # --dry-run: the AWS calls, none made
    preflight(settings, arms, estimate_s) -> list[Problem]   # before any change (preflight.py)

Arm parameters: `app_instance_type`, `app_node_count`, `db_instance_class`. Settings and
fact keys are documented in settings.py, facts.py and docs/aws.md; which facts each
parameter governs is declared with the settings model (`env.settings.AWS_GOVERNANCE`).
Credentials come from boto3's standard chain only; `clients` and `clock` are injected by
tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadtrial.clock import Clock, SystemClock
from loadtrial.env.aws import preflight as checks
from loadtrial.env.aws.clients import Clients, current_credentials, make_clients
from loadtrial.env.aws.context import Ctx
from loadtrial.env.aws.plan import plan_calls
from loadtrial.env.aws.provider import AwsProvider
from loadtrial.env.aws.settings import check, parse_params, parse_settings
from loadtrial.env.aws.waiting import Journal, Waiter
from loadtrial.env.journal import MemoryLog
from loadtrial.env.model import ActionSink, StepLog
from loadtrial.env.settings import AwsEnv
from loadtrial.errors import Problem, UserError

__all__ = [
    "AwsProvider",
    "Clients",
    "create",
    "env_key",
    "plan_calls",
    "preflight",
    "problems",
]


def create(
    settings: AwsEnv,
    sink: ActionSink,
    log: StepLog,
    *,
    clients: Clients | None = None,
    clock: Clock | None = None,
) -> AwsProvider:
    """Return the provider for the trial's `env:` settings; actions go to `sink`."""
    parsed, found = parse_settings(settings)
    if found:
        raise UserError("; ".join(p.render() for p in found), hint="see docs/aws.md")
    if clients is None:
        clients = make_clients(parsed.region, parsed.endpoint_url)
    return AwsProvider(parsed, sink, log, clients=clients, clock=clock or SystemClock())


def env_key(settings: Mapping[str, Any]) -> str:
    """The resources an aws trial may change: region (or endpoint), target group, cluster."""
    parsed, _ = parse_settings(settings)
    where = parsed.endpoint_url or parsed.region or "default-region"
    group = parsed.app.target_group_arn if parsed.app is not None else "-"
    cluster = parsed.db.cluster if parsed.db is not None else "-"
    return f"aws:{where}:{group}:{cluster}"


def problems(settings: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Return every problem with the settings and the arms' aws parameters."""
    return check(settings, arms)


def preflight(
    settings: Mapping[str, Any],
    arms: Mapping[str, Mapping[str, Any]],
    estimate_s: float,
    *,
    clients: Clients | None = None,
    credentials: checks.Credentials | None = None,
    clock: Clock | None = None,
) -> list[Problem]:
    """Every reason the arms could not be applied safely, asked of AWS before any change
    (reads and DryRun calls only); [] when there is none."""
    parsed, found = parse_settings(settings)
    if found:
        return found
    if clients is None:
        clients = make_clients(parsed.region, parsed.endpoint_url)
    clock = clock or SystemClock()
    # reads only: nothing here is journaled for undo, so the log stays in memory
    ctx = Ctx(clients, parsed, Waiter(clock, parsed.waits.poll_s, parsed.waits.timeout_s),
              Journal(lambda a: None, clock, MemoryLog()))  # fmt: skip
    params = {name: parse_params(raw, f"arms.{name}")[0] for name, raw in arms.items()}
    creds = credentials or checks.Credentials(*current_credentials(parsed.region))
    return checks.check(ctx, params, estimate_s, creds, clock.wall)
