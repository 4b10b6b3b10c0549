"""EC2 instances of the app pool: read them, stop, change type, start, with waits.

In: Ctx and instance ids. Out: `Instance` records read back from EC2; each change is one
journal step. A type the instance's Availability Zone does not offer, or a capacity error
from StartInstances, raises `CapacityError` so the caller can restore the old type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from loadtrial.env.aws.context import Ctx, batches, error_code
from loadtrial.errors import ProviderError

CAPACITY_CODES = frozenset(
    {
        "InsufficientInstanceCapacity",
        "InsufficientCapacity",
        "InsufficientHostCapacity",
        "InstanceLimitExceeded",
        "VcpuLimitExceeded",
        "Unsupported",
    }
)


CAPACITY_BACKOFF_S = (30.0, 60.0, 120.0)  # pauses before retrying a capacity error


class CapacityError(ProviderError):
    """AWS cannot run the requested instance type for this instance now."""


@dataclass(frozen=True)
class Instance:
    """One EC2 instance as EC2 reports it."""

    instance_id: str
    instance_type: str
    state: str
    az: str
    private_ip: str
    public_ip: str


def _instance(raw: Mapping[str, Any]) -> Instance:
    return Instance(
        instance_id=str(raw["InstanceId"]),
        instance_type=str(raw.get("InstanceType", "")),
        state=str(raw.get("State", {}).get("Name", "")),
        az=str(raw.get("Placement", {}).get("AvailabilityZone", "")),
        private_ip=str(raw.get("PrivateIpAddress", "") or ""),
        public_ip=str(raw.get("PublicIpAddress", "") or ""),
    )


def describe_raw(ctx: Ctx, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """Return id -> EC2's description for `ids` (all of them, or ProviderError)."""
    found: dict[str, Mapping[str, Any]] = {}
    for batch in batches(ids, 1000):  # DescribeInstances takes at most 1000 ids
        resp = ctx.clients.ec2.describe_instances(InstanceIds=batch)
        for r in resp["Reservations"]:
            found.update({str(raw["InstanceId"]): raw for raw in r.get("Instances", [])})
    missing = [i for i in ids if i not in found]
    if missing:
        raise ProviderError(f"EC2 instances not found: {', '.join(missing)}")
    return found


def describe(ctx: Ctx, ids: Sequence[str]) -> dict[str, Instance]:
    """Return id -> Instance for `ids` (all of them, or ProviderError)."""
    return {iid: _instance(raw) for iid, raw in describe_raw(ctx, ids).items()}


def pool_ids(ctx: Ctx) -> tuple[str, ...]:
    """Return the app pool's instance ids: as listed, or by tag (sorted), not terminated."""
    app = ctx.app
    if app.instances:
        return app.instances
    filters: list[Any] = [{"Name": f"tag:{k}", "Values": [v]} for k, v in app.instance_tags.items()]
    filters.append(
        {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}
    )
    ids: list[str] = []
    for page in ctx.clients.ec2.get_paginator("describe_instances").paginate(Filters=filters):
        ids.extend(i["InstanceId"] for r in page["Reservations"] for i in r.get("Instances", []))
    if not ids:
        raise ProviderError(f"no instances match env.app.instance_tags {dict(app.instance_tags)}")
    return tuple(sorted(ids))


def _wait_state(ctx: Ctx, ids: Sequence[str], state: str) -> None:
    ctx.waiter.until(
        f"{', '.join(ids)} to be {state}",
        lambda: describe(ctx, ids),
        lambda found: all(i.state == state for i in found.values()),
    )


def settle(ctx: Ctx, ids: Sequence[str]) -> dict[str, Instance]:
    """Wait out pending/stopping transitions; return the settled instances."""
    found = describe(ctx, ids)
    moving = {"pending": "running", "stopping": "stopped"}
    for iid, inst in found.items():
        if inst.state in moving:
            _wait_state(ctx, [iid], moving[inst.state])
    return describe(ctx, ids)


def stop(ctx: Ctx, ids: Sequence[str]) -> None:
    """Stop `ids` and wait until EC2 reports them stopped."""
    with ctx.journal.step(f"ec2 stop {', '.join(ids)} and wait stopped", instances=list(ids)):
        ctx.clients.ec2.stop_instances(InstanceIds=list(ids))
        _wait_state(ctx, ids, "stopped")


def modify_type(ctx: Ctx, inst: Instance, new_type: str) -> None:
    """Change a stopped instance's type."""
    name = f"ec2 modify {inst.instance_id} type {inst.instance_type} -> {new_type}"
    with ctx.journal.step(name, instance=inst.instance_id, old=inst.instance_type, new=new_type):
        ctx.clients.ec2.modify_instance_attribute(
            InstanceId=inst.instance_id, InstanceType={"Value": new_type}
        )


def offered_in(ctx: Ctx, instance_type: str, zone: str) -> bool:
    """True when `zone` offers `instance_type` (DescribeInstanceTypeOfferings)."""
    resp = ctx.clients.ec2.describe_instance_type_offerings(
        LocationType="availability-zone",
        Filters=[
            {"Name": "instance-type", "Values": [instance_type]},
            {"Name": "location", "Values": [zone]},
        ],
    )
    return bool(resp.get("InstanceTypeOfferings"))


def _check_offered(ctx: Ctx, inst: Instance) -> None:
    if not offered_in(ctx, inst.instance_type, inst.az):
        raise CapacityError(
            f"instance type {inst.instance_type} is not offered in {inst.az} "
            f"(instance {inst.instance_id})",
            hint="choose a type offered in every zone of the pool",
        )


def check_offered(ctx: Ctx, wanted: Mapping[str, str]) -> None:
    """Raise CapacityError, before anything is stopped, when an instance's zone does not
    offer the type it is to get (`wanted`: instance id -> type; unchanged ones skipped)."""
    found = describe(ctx, list(wanted))
    changing = [i for i in found.values() if i.instance_type != wanted[i.instance_id]]
    if not changing:
        return
    kinds = sorted({wanted[i.instance_id] for i in changing})
    with ctx.journal.step(f"ec2 check {', '.join(kinds)} offered in the pool's zones"):
        for inst in changing:
            _check_offered(ctx, replace(inst, instance_type=wanted[inst.instance_id]))


def start(ctx: Ctx, ids: Sequence[str]) -> None:
    """Start `ids` (checking their type is offered in their zone) and wait for status ok;
    fail fast when one falls back to stopped or is impaired, instead of waiting it out."""
    with ctx.journal.step(f"ec2 start {', '.join(ids)} and wait status ok", instances=list(ids)):
        for inst in describe(ctx, ids).values():
            _check_offered(ctx, inst)
        _start_retrying(ctx, ids)
        ctx.waiter.until(
            f"{', '.join(ids)} to be running", lambda: describe_raw(ctx, ids), StartWatch().check
        )
        ctx.waiter.until(
            f"{', '.join(ids)} status checks ok",
            lambda: _statuses(ctx, ids),
            lambda found: status_ok(ids, found),
        )


def _start_retrying(ctx: Ctx, ids: Sequence[str]) -> None:
    """StartInstances; a capacity error is retried after CAPACITY_BACKOFF_S, then raised as
    CapacityError (the caller reverts)."""
    for attempt, pause_s in enumerate((*CAPACITY_BACKOFF_S, None), start=1):
        try:
            ctx.clients.ec2.start_instances(InstanceIds=list(ids))
            return
        except Exception as exc:
            if error_code(exc) not in CAPACITY_CODES:
                raise
            if pause_s is None:
                raise CapacityError(
                    f"AWS refused to start {', '.join(ids)} {attempt} times: {exc}",
                    hint="try another type or zone, or later",
                ) from exc
            ctx.journal.record(f"ec2 start {', '.join(ids)}: {error_code(exc)}, retry in "
                               f"{pause_s:.0f}s", "failed", str(exc))  # fmt: skip
            ctx.waiter.clock.sleep(pause_s)


_FELL_BACK = frozenset({"stopped", "stopping", "shutting-down", "terminated"})
STOPPED_LOOKS = 3  # AWS may show the old `stopped` for a moment after StartInstances


@dataclass
class StartWatch:
    """Watches instances after StartInstances: `check` is True once all run, and raises
    ProviderError with EC2's StateReason (e.g. a KMS key the role may not use) for one seen
    pending that fell back to stopped/terminated, or still stopped on the third look."""

    seen: set[str] = field(default_factory=set)
    stopped_looks: dict[str, int] = field(default_factory=dict)

    def check(self, raw: Mapping[str, Mapping[str, Any]]) -> bool:
        """True when every instance in `raw` (DescribeInstances entries by id) runs."""
        for iid, inst in raw.items():
            state = str(inst.get("State", {}).get("Name", ""))
            if state in ("pending", "running"):
                self.seen.add(iid)
            elif state in _FELL_BACK and self._gave_up(iid, state):
                reason = inst.get("StateReason", {}).get("Message") or "no reason given"
                raise ProviderError(
                    f"{iid} did not start: it is {state} ({reason})",
                    hint="see the instance's state reason in the EC2 console",
                )
        return all(str(i.get("State", {}).get("Name")) == "running" for i in raw.values())

    def _gave_up(self, iid: str, state: str) -> bool:
        if iid in self.seen or state != "stopped":
            return True
        self.stopped_looks[iid] = self.stopped_looks.get(iid, 0) + 1
        return self.stopped_looks[iid] >= STOPPED_LOOKS


def _statuses(ctx: Ctx, ids: Sequence[str]) -> list[Mapping[str, Any]]:
    found: list[Mapping[str, Any]] = []
    for batch in batches(ids, 100):  # DescribeInstanceStatus takes at most 100 ids
        resp = ctx.clients.ec2.describe_instance_status(InstanceIds=batch, IncludeAllInstances=True)
        found.extend(resp.get("InstanceStatuses", []))
    return found


def status_ok(ids: Sequence[str], statuses: Sequence[Mapping[str, Any]]) -> bool:
    """True when every instance's instance and system checks are ok; ProviderError at once
    when one is impaired (it will not heal by waiting)."""
    ok: set[str] = set()
    for s in statuses:
        checks = {k: s.get(k, {}).get("Status") for k in ("InstanceStatus", "SystemStatus")}
        if "impaired" in checks.values():
            raise ProviderError(
                f"{s['InstanceId']} failed its status checks ({checks})",
                hint="see the instance's status checks and system log in the EC2 console",
            )
        if all(v == "ok" for v in checks.values()):
            ok.add(str(s["InstanceId"]))
    return all(i in ok for i in ids)
