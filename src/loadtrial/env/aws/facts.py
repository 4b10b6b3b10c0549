"""Snapshot facts of the AWS environment, read back from AWS, as flat string keys.

In: Ctx. Out: a flat mapping. Key names are stable (the analysis compares them between
arms; a writer change shows up as a confounder). Each key an arm parameter changes contains
every word of that parameter's name (`app_instance_type` -> `aws.app.<id>.instance_type`),
which is how the analysis knows the difference was declared:

    aws.region
    aws.app.<instance-id>.instance_type | .state | .az | .private_ip
    volatile.aws.app.<instance-id>.public_ip      changes on every stop/start in AWS
    aws.elb.<target-group-name>.node_count        registered targets (not draining)
    aws.elb.<target-group-name>.node_count_targets   their ids, sorted, comma-separated
    aws.elb.<target-group-name>.node_count_healthy   how many of them are healthy
    aws.elb.<target-group-name>.not_healthy       "<id>:<state>,..." of the others ("" = none)
    aws.elb.<target-group-name>.deregistration_delay_s
    aws.rds.<cluster>.writer | .readers | .engine_version | .endpoint | .reader_endpoint
    aws.rds.<cluster>.status
    aws.rds.<cluster>.<instance>.db_instance_class | .role | .engine_version | .status
    aws.app.db_endpoint                           stdout of env.db.endpoint_command
"""

from __future__ import annotations

import subprocess

from loadtrial.env.aws import aurora, ec2, elb
from loadtrial.env.aws.context import Ctx


# Which fact keys each arm parameter is expected to change (fnmatch patterns), so the
# analysis does not call them confounders.
def target_group_name(arn: str) -> str:
    """Return the name part of a target group ARN (…:targetgroup/<name>/<id>)."""
    parts = arn.split(":targetgroup/", 1)
    return parts[1].split("/", 1)[0] if len(parts) == 2 else arn


def app_facts(ctx: Ctx) -> dict[str, str]:
    """Return the pool's instance facts and the target group's membership and health."""
    facts: dict[str, str] = {}
    for iid, inst in ec2.describe(ctx, ec2.pool_ids(ctx)).items():
        prefix = f"aws.app.{iid}"
        facts[f"{prefix}.instance_type"] = inst.instance_type
        facts[f"{prefix}.state"] = inst.state
        facts[f"{prefix}.az"] = inst.az
        facts[f"{prefix}.private_ip"] = inst.private_ip
        facts[f"volatile.{prefix}.public_ip"] = inst.public_ip
    tg = f"aws.elb.{target_group_name(ctx.app.target_group_arn)}"
    health = elb.health(ctx)
    members = sorted(i for i, s in health.items() if s not in ("draining", "unused"))
    facts[f"{tg}.node_count"] = str(len(members))
    facts[f"{tg}.node_count_targets"] = ",".join(members)
    facts[f"{tg}.node_count_healthy"] = str(sum(health[i] == "healthy" for i in members))
    others = sorted(f"{i}:{s}" for i, s in health.items() if s != "healthy")
    facts[f"{tg}.not_healthy"] = ",".join(others)
    facts[f"{tg}.deregistration_delay_s"] = elb.drain_delay(ctx)
    return facts


def db_facts(ctx: Ctx) -> dict[str, str]:
    """Return the cluster's roles, endpoints, classes and versions."""
    cluster = aurora.describe_cluster(ctx)
    prefix = f"aws.rds.{cluster.cluster_id}"
    facts = {
        f"{prefix}.writer": cluster.writer,
        f"{prefix}.readers": ",".join(m for m in cluster.members if m != cluster.writer),
        f"{prefix}.engine_version": cluster.engine_version,
        f"{prefix}.endpoint": cluster.endpoint,
        f"{prefix}.reader_endpoint": cluster.reader_endpoint,
        f"{prefix}.status": cluster.status,
    }
    for name in cluster.members:
        raw = aurora.describe_instance(ctx, name)
        facts[f"{prefix}.{name}.db_instance_class"] = str(raw.get("DBInstanceClass", ""))
        facts[f"{prefix}.{name}.role"] = "writer" if name == cluster.writer else "reader"
        facts[f"{prefix}.{name}.engine_version"] = str(raw.get("EngineVersion", ""))
        facts[f"{prefix}.{name}.status"] = str(raw.get("DBInstanceStatus", ""))
    return facts


def configured_endpoint(command: str, timeout_s: float = 30.0) -> str:
    """Return the stripped stdout of the user's command (run by the shell), or a reason."""
    try:
        done = subprocess.run(
            command, shell=True, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return f"<unavailable: timed out after {timeout_s:.0f}s>"
    if done.returncode != 0:
        return f"<unavailable: exit {done.returncode}: {done.stderr.strip()[:200]}>"
    return done.stdout.strip()


def snapshot(ctx: Ctx) -> dict[str, str]:
    """Return every fact the settings make observable."""
    facts = {"aws.region": ctx.clients.ec2.meta.region_name}
    if ctx.settings.app is not None:
        facts.update(app_facts(ctx))
    if ctx.settings.db is not None:
        facts.update(db_facts(ctx))
        if ctx.settings.db.endpoint_command:
            facts["aws.app.db_endpoint"] = configured_endpoint(ctx.settings.db.endpoint_command)
    return facts
