"""Aurora: resize a cluster member, wait until it really applied, verify who is writer.

In: Ctx with env.db (cluster, member, keep_writer). Out: the member at the wanted class,
read back; each step a journal action. AWS keeps reporting `available` and the old class
for a while after ModifyDBInstance, so "done" means: the class reads back as wanted, no
pending modification at all, instance and cluster `available` (waits use
env.waits.db_timeout, 45 min by default). The undo judges the same way, so a resize
interrupted half-way (or a change still queued) is waited out, never taken as restored.
Then the roles are read again: a resize may promote another member. With keep_writer,
FailoverDBCluster with TargetDBInstanceIdentifier makes the intended writer the writer again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from loadtrial.env.aws.context import Ctx
from loadtrial.errors import ProviderError


@dataclass(frozen=True)
class Cluster:
    """An Aurora cluster as RDS reports it."""

    cluster_id: str
    arn: str
    status: str
    engine_version: str
    endpoint: str
    reader_endpoint: str
    writer: str
    members: tuple[str, ...]


def describe_cluster(ctx: Ctx) -> Cluster:
    """Return the configured cluster with its members and current writer."""
    raw = ctx.clients.rds.describe_db_clusters(DBClusterIdentifier=ctx.db.cluster)["DBClusters"][0]
    members = raw.get("DBClusterMembers", [])
    writers = [str(m["DBInstanceIdentifier"]) for m in members if m.get("IsClusterWriter")]
    return Cluster(
        cluster_id=ctx.db.cluster,
        arn=str(raw.get("DBClusterArn", "")),
        status=str(raw.get("Status", "")),
        engine_version=str(raw.get("EngineVersion", "")),
        endpoint=str(raw.get("Endpoint", "")),
        reader_endpoint=str(raw.get("ReaderEndpoint", "")),
        writer=writers[0] if writers else "",
        members=tuple(sorted(str(m["DBInstanceIdentifier"]) for m in members)),
    )


def describe_instance(ctx: Ctx, instance_id: str) -> Mapping[str, Any]:
    """Return RDS's description of one DB instance."""
    found = ctx.clients.rds.describe_db_instances(DBInstanceIdentifier=instance_id)
    return found["DBInstances"][0]


def member(ctx: Ctx, cluster: Cluster) -> str:
    """Return the member an arm resizes: env.db.instance, else the current writer."""
    chosen = ctx.db.instance or cluster.writer
    if chosen not in cluster.members:
        raise ProviderError(
            f"{chosen or 'no writer'} is not a member of cluster {cluster.cluster_id}",
            hint=f"set env.db.instance to one of: {', '.join(cluster.members)}",
        )
    return chosen


def applied(raw: Mapping[str, Any], wanted: str) -> bool:
    """True when a DescribeDBInstances entry runs as `wanted`, available, nothing pending."""
    return (
        raw.get("DBInstanceClass") == wanted
        and not raw.get("PendingModifiedValues")
        and raw.get("DBInstanceStatus") == "available"
    )


def set_class(ctx: Ctx, instance_id: str, wanted: str) -> None:
    """Modify `instance_id` to `wanted` (if it differs) and wait until it really applied;
    when it already reads `wanted`, still wait for no pending change (a resize back may be
    in flight)."""
    raw = describe_instance(ctx, instance_id)
    old = str(raw.get("DBInstanceClass", ""))
    if old == wanted:
        if not applied(raw, wanted):
            with ctx.journal.step(f"rds wait until {instance_id} is {wanted} with nothing "
                                  "pending"):  # fmt: skip
                _wait_applied(ctx, instance_id, wanted)
        return
    with ctx.journal.step(
        f"rds modify {instance_id} class {old} -> {wanted}",
        instance=instance_id,
        old=old,
        new=wanted,
    ):
        ctx.clients.rds.modify_db_instance(
            DBInstanceIdentifier=instance_id, DBInstanceClass=wanted, ApplyImmediately=True
        )
    with ctx.journal.step(f"rds wait until {instance_id} reports {wanted} and cluster available"):
        _wait_applied(ctx, instance_id, wanted)


def _wait_applied(ctx: Ctx, instance_id: str, wanted: str) -> None:
    ctx.db_waiter.until(
        f"{instance_id} to run as {wanted} with no pending modification",
        lambda: describe_instance(ctx, instance_id),
        lambda raw: applied(raw, wanted),
    )
    wait_cluster(ctx)


def wait_cluster(ctx: Ctx) -> Cluster:
    """Wait until the cluster and all its members are available; return the cluster."""
    cluster = ctx.db_waiter.until(
        f"cluster {ctx.db.cluster} to be available",
        lambda: describe_cluster(ctx),
        lambda c: c.status == "available",
    )
    for name in cluster.members:
        _wait_available(ctx, name)
    return cluster


def _wait_available(ctx: Ctx, instance_id: str) -> None:
    ctx.db_waiter.until(
        f"{instance_id} to be available",
        lambda: describe_instance(ctx, instance_id),
        lambda raw: raw.get("DBInstanceStatus") == "available",
    )


def read_roles(ctx: Ctx, expected_writer: str) -> Cluster:
    """Re-read the roles and record whether the writer is still `expected_writer`."""
    cluster = wait_cluster(ctx)
    status = "ok"
    name = f"rds writer of {cluster.cluster_id} is {cluster.writer}"
    if cluster.writer != expected_writer:
        name = f"rds writer of {cluster.cluster_id} changed {expected_writer} -> {cluster.writer}"
    ctx.journal.record(name, status, writer=cluster.writer, expected=expected_writer)
    return cluster


def ensure_writer(ctx: Ctx, writer: str) -> None:
    """Fail over to `writer` if another member is writer now; wait until it took over."""
    cluster = describe_cluster(ctx)
    if cluster.writer == writer:
        return
    with ctx.journal.step(
        f"rds failover {cluster.cluster_id} to {writer}",
        old_writer=cluster.writer,
        new_writer=writer,
    ):
        ctx.clients.rds.failover_db_cluster(
            DBClusterIdentifier=cluster.cluster_id, TargetDBInstanceIdentifier=writer
        )
        ctx.db_waiter.until(
            f"{writer} to become writer of {cluster.cluster_id}",
            lambda: describe_cluster(ctx),
            lambda c: c.writer == writer and c.status == "available",
        )
        wait_cluster(ctx)
