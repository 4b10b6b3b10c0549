"""The app pool: bring instances to a wanted type and target-group membership.

In: Ctx, pool ids, and per instance the wanted type and whether it should be registered.
Out: the pool in that state, read back from AWS. One procedure, `converge`, serves the
forward swap (rolling: one instance at a time; or all at once), `app_node_count`, and the
undo after a failure, because it looks at what *is* before acting: an instance left
stopped by a failed swap is started, one left deregistered is registered again.

Per changed instance: deregister + wait drained, stop + wait stopped, modify type,
start + wait status ok (type offered in its zone, capacity), SSM config commands,
register + wait healthy, Route 53 upsert when its address changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loadtrial.env.aws import ec2, elb, route53, ssm
from loadtrial.env.aws.context import Ctx


@dataclass(frozen=True)
class PoolState:
    """Wanted (or original) type and membership of each pool instance."""

    types: Mapping[str, str]
    registered: Mapping[str, bool]

    def to_json(self) -> dict[str, dict[str, object]]:
        """Return a JSON-able form for ApplyRecord.undo."""
        return {"types": dict(self.types), "registered": dict(self.registered)}


def read_state(ctx: Ctx, ids: Sequence[str]) -> PoolState:
    """Return the pool's current types and membership."""
    found = ec2.describe(ctx, ids)
    members = elb.registered(ctx)
    return PoolState({i: found[i].instance_type for i in ids}, {i: i in members for i in ids})


def target_state(
    ctx: Ctx, ids: Sequence[str], now: PoolState, new_type: str | None, count: int | None
) -> PoolState:
    """Return the state an arm wants: the first `count` of the pool registered (all when
    None), each registered one of `new_type` (unchanged when None)."""
    active = set(ids[:count]) if count is not None else {i for i in ids if now.registered[i]}
    if count is None and not active:
        active = set(ids)
    types = {i: (new_type if new_type and i in active else now.types[i]) for i in ids}
    return PoolState(types, {i: i in active for i in ids})


def converge(ctx: Ctx, ids: Sequence[str], want: PoolState, rolling: bool) -> None:
    """Bring `ids` to `want`; rolling does one instance at a time, joiners first so
    capacity is kept while others leave."""
    order = sorted(ids, key=lambda i: not want.registered[i])
    batches = [[i] for i in order] if rolling else [list(order)]
    for batch in batches:
        _converge_batch(ctx, batch, want)


def _converge_batch(ctx: Ctx, ids: Sequence[str], want: PoolState) -> None:
    found = ec2.settle(ctx, ids)
    members = elb.registered(ctx)
    change = [i for i in ids if found[i].instance_type != want.types[i]]
    leaving = [i for i in ids if i in members and (i in change or not want.registered[i])]
    elb.deregister(ctx, leaving)
    to_stop = [i for i in change if found[i].state != "stopped"]
    if to_stop:
        ec2.stop(ctx, to_stop)
    for iid in change:
        ec2.modify_type(ctx, found[iid], want.types[iid])
    stopped = [i for i in ids if found[i].state == "stopped" and want.registered[i]]
    # an instance that was stopped and is not wanted in the group stays stopped
    resumed = {i for i in change if found[i].state != "stopped" or want.registered[i]}
    to_start = sorted(resumed | set(stopped))
    if to_start:
        ec2.start(ctx, to_start)
        ssm.run_config(ctx, to_start)
        route53.sync(ctx, to_start)
    members = elb.registered(ctx)
    elb.register(ctx, [i for i in ids if want.registered[i] and i not in members])
