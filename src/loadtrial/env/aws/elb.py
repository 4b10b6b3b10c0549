"""The ALB target group: who is registered, register/deregister with waits, drain delay.

In: Ctx (target group ARN from env.app). Out: registered ids, health by id; each change is
one journal step. Draining: AWS keeps a deregistered target `draining` for the group's
deregistration delay; we wait until it is gone (or `unused`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loadtrial.env.aws.context import Ctx

DELAY_KEY = "deregistration_delay.timeout_seconds"


STOPPED = "stopped"  # registered, but its instance is stopped (AWS: unused, InvalidState)


def _state(health: Mapping[str, Any]) -> str:
    state = str(health.get("State", ""))
    if state == "unused" and health.get("Reason") == "Target.InvalidState":
        return STOPPED  # still a member: AWS reads it `unused` only because it is stopped
    return state


def health(ctx: Ctx) -> dict[str, str]:
    """Return instance id -> target health state for every target in the group; a
    registered target whose instance is stopped reads `stopped`, not `unused`."""
    resp = ctx.clients.elbv2.describe_target_health(TargetGroupArn=ctx.app.target_group_arn)
    return {
        str(d["Target"]["Id"]): _state(d.get("TargetHealth", {}))
        for d in resp.get("TargetHealthDescriptions", [])
    }


def registered(ctx: Ctx) -> set[str]:
    """Return the ids registered and not on their way out (stopped ones included)."""
    return {i for i, s in health(ctx).items() if s not in ("draining", "unused")}


def deregister(ctx: Ctx, ids: Sequence[str]) -> None:
    """Deregister `ids` and wait until they have drained."""
    if not ids:
        return
    with ctx.journal.step(f"elb deregister {', '.join(ids)} and wait drained", targets=list(ids)):
        ctx.clients.elbv2.deregister_targets(
            TargetGroupArn=ctx.app.target_group_arn, Targets=[{"Id": i} for i in ids]
        )
        ctx.waiter.until(
            f"{', '.join(ids)} to drain from the target group",
            lambda: health(ctx),
            lambda h: all(h.get(i, "unused") == "unused" for i in ids),
        )


def register(ctx: Ctx, ids: Sequence[str]) -> None:
    """Register `ids` and wait until the load balancer reports them healthy."""
    if not ids:
        return
    with ctx.journal.step(f"elb register {', '.join(ids)} and wait healthy", targets=list(ids)):
        ctx.clients.elbv2.register_targets(
            TargetGroupArn=ctx.app.target_group_arn, Targets=[{"Id": i} for i in ids]
        )
        ctx.waiter.until(
            f"{', '.join(ids)} to be healthy in the target group",
            lambda: health(ctx),
            lambda h: all(h.get(i) == "healthy" for i in ids),
        )


def drain_delay(ctx: Ctx) -> str:
    """Return the group's deregistration delay in seconds, as AWS stores it."""
    attrs = ctx.clients.elbv2.describe_target_group_attributes(
        TargetGroupArn=ctx.app.target_group_arn
    )["Attributes"]
    return next((str(a.get("Value")) for a in attrs if a.get("Key") == DELAY_KEY), "300")


def set_drain_delay(ctx: Ctx, seconds: str) -> None:
    """Set the group's deregistration delay (seconds as a string)."""
    with ctx.journal.step(f"elb set deregistration delay to {seconds}s", value=seconds):
        ctx.clients.elbv2.modify_target_group_attributes(
            TargetGroupArn=ctx.app.target_group_arn,
            Attributes=[{"Key": DELAY_KEY, "Value": seconds}],
        )
