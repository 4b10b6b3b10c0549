"""The app pool: bring instances to a wanted type and target-group membership.

In: Ctx, pool ids, and per instance the wanted type and whether it should be registered.
Out: the pool in that state, read back from AWS. One procedure, `converge`, serves the
forward swap (rolling: one instance at a time; or all at once), `app_node_count`, and the
undo after a failure, because it looks at what *is* before acting: an instance left
stopped by a failed swap is started, one left deregistered is registered again.

Per changed instance: (with `auto_scaling: standby`) enter Standby, deregister + wait
drained, stop + wait stopped, modify type, start + wait status ok (type offered in its
zone, capacity), SSM config commands, register + wait healthy, back InService, Route 53
upsert when its address changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from loadtrial.env.aws import asg, ec2, elb, route53, ssm
from loadtrial.env.aws.context import Ctx


@dataclass(frozen=True)
class PoolState:
    """Wanted (or original) type, membership and running state of each pool instance."""

    types: Mapping[str, str]
    registered: Mapping[str, bool]
    running: Mapping[str, bool] = field(default_factory=dict)  # absent: running if registered

    def runs(self, iid: str, state: str) -> bool:
        """Whether `iid` should be running (registered ones always; others as they are)."""
        if iid in self.running:
            return self.running[iid] or self.registered[iid]
        return self.registered[iid] or state != "stopped"

    def to_json(self) -> dict[str, dict[str, object]]:
        """Return a JSON-able form for ApplyRecord.undo."""
        return {
            "types": dict(self.types),
            "registered": dict(self.registered),
            "running": dict(self.running),
        }


def read_state(ctx: Ctx, ids: Sequence[str]) -> PoolState:
    """Return the pool's current types, membership and running state."""
    found = ec2.describe(ctx, ids)
    members = elb.registered(ctx)
    return PoolState(
        {i: found[i].instance_type for i in ids},
        {i: i in members for i in ids},
        {i: found[i].state not in ("stopped", "stopping") for i in ids},
    )


def target_state(
    ctx: Ctx, ids: Sequence[str], now: PoolState, new_type: str | None, count: int | None
) -> PoolState:
    """Return the state an arm wants: the first `count` of the pool registered and running
    (all registered ones when None), each registered one of `new_type` (unchanged: None)."""
    active = set(ids[:count]) if count is not None else {i for i in ids if now.registered[i]}
    if count is None and not active:
        active = set(ids)
    types = {i: (new_type if new_type and i in active else now.types[i]) for i in ids}
    running = {i: i in active or now.running.get(i, True) for i in ids}
    return PoolState(types, {i: i in active for i in ids}, running)


def converge(
    ctx: Ctx, ids: Sequence[str], want: PoolState, rolling: bool, *, undoing: bool = False
) -> None:
    """Bring `ids` to `want`; rolling does one instance at a time, joiners first so
    capacity is kept while others leave. `undoing`: an instance is registered again even
    when its config commands or DNS update fail (back in service beats out of it)."""
    order = sorted(ids, key=lambda i: not want.registered[i])
    batches = [[i] for i in order] if rolling else [list(order)]
    for batch in batches:
        _converge_batch(ctx, batch, want, undoing)


def _converge_batch(ctx: Ctx, ids: Sequence[str], want: PoolState, undoing: bool) -> None:
    found = ec2.settle(ctx, ids)
    members = elb.registered(ctx)
    run = {i: want.runs(i, found[i].state) for i in ids}
    change = [i for i in ids if found[i].instance_type != want.types[i]]
    halt = [i for i in ids if found[i].state != "stopped" and (i in change or not run[i])]
    asg.enter_standby(ctx, halt)
    elb.deregister(ctx, [i for i in ids if i in members and (i in halt or not want.registered[i])])
    if halt:
        ec2.stop(ctx, halt)
    for iid in change:
        ec2.modify_type(ctx, found[iid], want.types[iid])
    to_start = [i for i in ids if run[i] and (i in halt or found[i].state == "stopped")]
    if to_start:
        ec2.start(ctx, to_start)
        try:
            ssm.run_config(ctx, to_start)
            route53.sync(ctx, to_start)
        except Exception:
            if undoing:
                _into_service(ctx, ids, want, run)
            raise
    _into_service(ctx, ids, want, run)


def _into_service(ctx: Ctx, ids: Sequence[str], want: PoolState, run: Mapping[str, bool]) -> None:
    """Register the instances that should be, and bring running ones out of Standby."""
    members = elb.registered(ctx)
    elb.register(ctx, [i for i in ids if want.registered[i] and i not in members])
    asg.exit_standby(ctx, [i for i in ids if run[i]])
