"""Route 53: keep an instance's A record pointing at its current address.

In: Ctx with env.app.route53 (zone, instance id -> record name, private|public address)
and the instances just started. Out: an UPSERT (and a wait for INSYNC) only where the
record differs from the address EC2 reports now. Revert re-syncs rather than writing back
the old value: after a stop/start the old public address may belong to someone else.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtrial.env.aws import ec2
from loadtrial.env.aws.context import Ctx


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def current_value(ctx: Ctx, zone_id: str, name: str) -> str:
    """Return the A record's first value, or "" when there is none."""
    resp = ctx.clients.route53.list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=_fqdn(name), StartRecordType="A", MaxItems="1"
    )
    for rrset in resp.get("ResourceRecordSets", []):
        if rrset["Name"] == _fqdn(name) and rrset["Type"] == "A":
            values = rrset.get("ResourceRecords", [])
            return str(values[0]["Value"]) if values else ""
    return ""


def sync(ctx: Ctx, ids: Sequence[str]) -> None:
    """Upsert the record of each of `ids` whose address changed; wait until INSYNC."""
    r53 = ctx.app.route53
    if r53 is None:
        return
    for inst in ec2.describe(ctx, [i for i in ids if i in r53.records]).values():
        name = r53.records[inst.instance_id]
        address = inst.public_ip if r53.address == "public" else inst.private_ip
        if not address:
            ctx.journal.record(
                f"route53 {name}: {inst.instance_id} has no {r53.address} address", "skipped"
            )
            continue
        old = current_value(ctx, r53.zone_id, name)
        if old == address:
            continue
        with ctx.journal.step(f"route53 upsert {name} A {address}", old=old, new=address):
            change = ctx.clients.route53.change_resource_record_sets(
                HostedZoneId=r53.zone_id,
                ChangeBatch={
                    "Changes": [
                        {
                            "Action": "UPSERT",
                            "ResourceRecordSet": {
                                "Name": _fqdn(name),
                                "Type": "A",
                                "TTL": r53.ttl,
                                "ResourceRecords": [{"Value": address}],
                            },
                        }
                    ]
                },
            )
            _wait_insync(ctx, change["ChangeInfo"]["Id"])


def _wait_insync(ctx: Ctx, change_id: str) -> None:
    ctx.waiter.until(
        f"route53 change {change_id} to be INSYNC",
        lambda: ctx.clients.route53.get_change(Id=change_id)["ChangeInfo"]["Status"],
        lambda status: status == "INSYNC",
    )
