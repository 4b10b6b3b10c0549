"""Auto Scaling: keep a group from replacing the instances a swap stops (`auto_scaling:
standby`).

In: Ctx and pool instance ids. Out: before a stop, the group's members among them in
Standby (EnterStandby, desired capacity decremented, so the group neither replaces them nor
launches others); once they run again, back InService (ExitStandby, which restores the
desired capacity). Both wait until DescribeAutoScalingInstances shows the new state. Each
call looks at what is, so the undo after a kill (an instance left in Standby) puts it back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from loadtrial.env.aws.context import Ctx, batches


def members(ctx: Ctx, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """Return id -> DescribeAutoScalingInstances entry for the ids in a group."""
    found: dict[str, Mapping[str, Any]] = {}
    for batch in batches(ids, 50):  # DescribeAutoScalingInstances takes at most 50 ids
        resp = ctx.clients.autoscaling.describe_auto_scaling_instances(InstanceIds=batch)
        found.update({str(m["InstanceId"]): m for m in resp.get("AutoScalingInstances", [])})
    return found


def _by_group(found: Mapping[str, Mapping[str, Any]], state: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for iid, m in found.items():
        if m.get("LifecycleState") == state:
            groups[str(m["AutoScalingGroupName"])].append(iid)
    return groups


def _wait(ctx: Ctx, ids: Sequence[str], state: str) -> None:
    ctx.waiter.until(
        f"{', '.join(ids)} to be {state} in their Auto Scaling group",
        lambda: members(ctx, ids),
        lambda found: all(found[i].get("LifecycleState") == state for i in ids if i in found),
    )


def enter_standby(ctx: Ctx, ids: Sequence[str]) -> None:
    """Put the InService group members among `ids` in Standby (with standby only)."""
    if ctx.app.auto_scaling != "standby" or not ids:
        return
    for group, gids in _by_group(members(ctx, ids), "InService").items():
        with ctx.journal.step(f"asg {group}: enter standby {', '.join(gids)}", group=group):
            ctx.clients.autoscaling.enter_standby(
                InstanceIds=gids, AutoScalingGroupName=group, ShouldDecrementDesiredCapacity=True
            )
            _wait(ctx, gids, "Standby")


def exit_standby(ctx: Ctx, ids: Sequence[str]) -> None:
    """Put the group members among `ids` left in Standby back InService."""
    if ctx.app.auto_scaling != "standby" or not ids:
        return
    for group, gids in _by_group(members(ctx, ids), "Standby").items():
        with ctx.journal.step(f"asg {group}: exit standby {', '.join(gids)}", group=group):
            ctx.clients.autoscaling.exit_standby(InstanceIds=gids, AutoScalingGroupName=group)
            _wait(ctx, gids, "InService")
