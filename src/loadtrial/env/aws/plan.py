"""Dry run: the AWS calls an arm would make, described without making any.

In: the trial's `env:` settings and one arm's parameters. Out: lines such as
"elbv2.DeregisterTargets  i-0abc from targetgroup/app" for the runner's `--dry-run`.
Nothing here talks to AWS, so instances chosen by tag are described by their tag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadtrial.env.aws.facts import target_group_name
from loadtrial.env.aws.settings import (
    AppSettings,
    ArmParams,
    DbSettings,
    parse_params,
    parse_settings,
)


def _app_lines(app: AppSettings, params: ArmParams, tag: str) -> list[str]:
    tg = target_group_name(app.target_group_arn)
    pool = ", ".join(app.instances) or "instances tagged " + ", ".join(
        f"{k}={v}" for k, v in app.instance_tags.items()
    )
    zone = (
        f", hosted zone {app.route53.zone_id}" if app.route53 and params.app_instance_type else ""
    )
    lines = [
        f"ec2.DescribeInstances / elbv2.DescribeTags  check {pool}, target group {tg}{zone}"
        f" are tagged {tag}"
    ]
    if app.drain_delay_s is not None:
        lines.append(
            f"elbv2.ModifyTargetGroupAttributes  {tg} deregistration delay "
            f"-> {app.drain_delay_s:.0f}s (restored on revert)"
        )
    if params.app_node_count is not None:
        lines.append(
            f"elbv2.RegisterTargets/DeregisterTargets  keep the first {params.app_node_count}"
            f" of [{pool}] registered in {tg}, wait healthy/drained"
        )
    if params.app_instance_type is not None:
        how = "one at a time (rolling)" if app.rolling else "all at once"
        each = [
            f"elbv2.DeregisterTargets + wait drained  ({tg})",
            "ec2.StopInstances + wait stopped",
            f"ec2.ModifyInstanceAttribute  InstanceType={params.app_instance_type}",
            "ec2.DescribeInstanceTypeOfferings + ec2.StartInstances + wait status ok",
        ]
        if app.config_commands:
            each.append(f"ssm.SendCommand AWS-RunShellScript {list(app.config_commands)} + wait")
        each.append(f"elbv2.RegisterTargets + wait healthy  ({tg})")
        if app.route53 is not None:
            each.append(
                f"route53.ChangeResourceRecordSets UPSERT A in {app.route53.zone_id} "
                "if the address changed"
            )
        lines.append(f"for each instance of [{pool}] whose type differs, {how}:")
        lines.extend(f"  {line}" for line in each)
    return lines


def _db_lines(db: DbSettings, params: ArmParams, tag: str) -> list[str]:
    member = db.instance or "the current writer"
    lines = [
        f"rds.DescribeDBClusters / ListTagsForResource  check {db.cluster} and members are "
        f"tagged {tag}",
        f"rds.ModifyDBInstance  {member} DBInstanceClass={params.db_instance_class} "
        "ApplyImmediately=true",
        f"rds.DescribeDBInstances  poll until {member} reports {params.db_instance_class}",
        f"rds.DescribeDBClusters  wait {db.cluster} available, read writer/reader roles",
    ]
    if db.keep_writer:
        lines.append(
            f"rds.FailoverDBCluster  TargetDBInstanceIdentifier=<writer before> "
            f"if {db.cluster}'s writer changed"
        )
    return lines


def plan_calls(settings: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Return the AWS calls applying `params` would make, one line each (no AWS calls)."""
    parsed, _ = parse_settings(settings)
    arm, _ = parse_params(params, "arm")
    tag = f"{parsed.tag_key}={parsed.tag_value}"
    lines: list[str] = []
    if parsed.app is not None and (arm.app_instance_type or arm.app_node_count is not None):
        lines.extend(_app_lines(parsed.app, arm, tag))
    if parsed.db is not None and arm.db_instance_class is not None:
        lines.extend(_db_lines(parsed.db, arm, tag))
    if not lines:
        lines.append("no AWS changes for this arm (snapshot reads only)")
    lines.append("revert: the same calls in reverse order, back to the values found before")
    return lines
