"""Preflight: every reason the arms could not be applied safely, found before any change.

In: Ctx, each arm's parameters, the estimated trial duration and what is known of the
credentials (how they were found, when they expire). Out: every `Problem` at once (the
runner prints them as one report and exits 2 before touching anything). The rules, each a
small pure function over what AWS described:

- app instances in an Auto Scaling group (stopping one makes the group replace it), unless
  `auto_scaling: standby`, when the group must allow one fewer (rolling) or all of them
  fewer in service: DesiredCapacity minus those in Standby at once not below MinSize;
- an instance that cannot be stopped and resized: instance-store root, Spot;
- the target type against each instance (DescribeInstanceTypes): architecture, ENA
  required but not enabled on the instance, boot mode, EBS root; offered in its zone;
- with config_commands: each instance managed by SSM and Online;
- Aurora: cluster and members available, no pending modifications (ApplyImmediately
  would push somebody else's queued change along with ours);
- credentials: valid (GetCallerIdentity), and not expiring before the trial ends;
- permissions: StopInstances, StartInstances and ModifyInstanceAttribute with DryRun.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadtrial.env.aws import ec2
from loadtrial.env.aws.context import Ctx, batches, error_code, explain
from loadtrial.env.aws.settings import ArmParams
from loadtrial.errors import Problem

Raw = Mapping[str, Any]
EXPIRY_MARGIN_S = 900.0  # reverting the last arm takes time too


@dataclass(frozen=True)
class Credentials:
    """What is known of the credentials in use: botocore's method name and expiry."""

    method: str  # "env", "shared-credentials-file", "assume-role", "sso", "iam-role", ...
    expires_at: float | None  # Unix time; None when they do not expire (or it is unknown)


# Credential sources that cannot renew themselves: an expiry there is the end of the trial.
_FIXED = frozenset({"env", "explicit", "shared-credentials-file", "config-file"})


def credential_problems(creds: Credentials, estimate_s: float, now: float) -> list[Problem]:
    """Credentials that expire before the trial (and its last revert) can end."""
    if creds.expires_at is None or creds.method not in _FIXED:
        return []
    left_s = creds.expires_at - now
    need_s = estimate_s + EXPIRY_MARGIN_S
    if left_s >= need_s:
        return []
    return [Problem(
        "env", f"the AWS credentials ({creds.method}) expire in {max(0.0, left_s) / 60:.0f} min, "
        f"the trial needs about {need_s / 60:.0f} min with its reverts",
        "use a profile that renews itself (SSO, assume-role) or fresh credentials",
    )]  # fmt: skip


def asg_problems(members: Sequence[Raw]) -> list[Problem]:
    """Instances that belong to an Auto Scaling group (DescribeAutoScalingInstances)."""
    return [Problem(
        "env.app.instances", f"{m['InstanceId']} is in Auto Scaling group "
        f"{m.get('AutoScalingGroupName', '?')}: stopping it makes the group replace it",
        "set env.app.auto_scaling: standby, or detach it from the group",
    ) for m in members]  # fmt: skip


def standby_problems(members: Sequence[Raw], groups: Sequence[Raw], rolling: bool) -> list[Problem]:
    """Groups whose MinSize forbids putting the pool's members (one at a time when rolling)
    in Standby with the desired capacity decremented."""
    out: list[Problem] = []
    for group in groups:
        name = str(group.get("AutoScalingGroupName"))
        count = sum(1 for m in members if m.get("AutoScalingGroupName") == name)
        away = min(count, 1) if rolling else count
        desired, low = int(group.get("DesiredCapacity", 0)), int(group.get("MinSize", 0))
        if count and desired - away < low:
            out.append(Problem("env.app.auto_scaling", f"group {name} has desired {desired}, "
                               f"min {low}: {away} instance(s) cannot go to Standby",
                               "lower the group's MinSize for the trial"))  # fmt: skip
    return out


def stop_problems(instances: Mapping[str, Raw]) -> list[Problem]:
    """Instances a stop/modify/start cannot resize."""
    out: list[Problem] = []
    for iid, raw in instances.items():
        if raw.get("RootDeviceType") == "instance-store":
            out.append(
                Problem(
                    "env.app.instances",
                    f"{iid} has an instance-store root and cannot be stopped",
                    "only EBS-backed instances can be resized",
                )
            )
        if raw.get("InstanceLifecycle") == "spot":
            out.append(
                Problem(
                    "env.app.instances",
                    f"{iid} is a Spot instance: its type cannot be changed by stop/modify/start",
                    "use On-Demand instances",
                )
            )
    return out


def _boot_mode(raw: Raw) -> str:
    """The instance's boot mode; AMIs without one boot legacy-bios on x86, uefi on arm."""
    mode = raw.get("CurrentInstanceBootMode") or raw.get("BootMode")
    if mode in ("legacy-bios", "uefi"):
        return str(mode)
    return "uefi" if raw.get("Architecture") == "arm64" else "legacy-bios"


def type_problems(arm: str, wanted: str, iid: str, raw: Raw, info: Raw | None) -> list[Problem]:
    """Why instance `iid` (described as `raw`) cannot run as `wanted` (`info`: its
    DescribeInstanceTypes entry, None when AWS does not know the type)."""
    field = f"arms.{arm}.app_instance_type"
    if info is None:
        return [Problem(field, f"{wanted} is not an instance type this region offers",
                        "check the spelling and env.region")]  # fmt: skip
    out: list[str] = []
    arch = str(raw.get("Architecture", "x86_64"))
    archs = info.get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    if archs and arch not in archs:
        out.append(f"{iid} runs {arch} but {wanted} supports {'/'.join(archs)}")
    if info.get("NetworkInfo", {}).get("EnaSupport") == "required" and not raw.get("EnaSupport"):
        out.append(f"{wanted} requires ENA, which is not enabled on {iid}")
    modes = info.get("SupportedBootModes", [])
    if modes and _boot_mode(raw) not in modes:
        out.append(f"{iid} boots {_boot_mode(raw)} but {wanted} supports {'/'.join(modes)}")
    roots = info.get("SupportedRootDeviceTypes", [])
    if roots and "ebs" not in roots:
        out.append(f"{wanted} has no EBS root device")
    return [Problem(field, text, "choose a compatible type") for text in out]


def ssm_problems(ids: Sequence[str], managed: Sequence[Raw]) -> list[Problem]:
    """Instances SSM cannot reach (DescribeInstanceInformation): config_commands would fail
    after the instance restarted, leaving it out of the target group."""
    status = {str(m.get("InstanceId")): str(m.get("PingStatus", "")) for m in managed}
    out: list[Problem] = []
    for iid in ids:
        if iid not in status:
            text = f"{iid} is not managed by SSM (no agent, or no instance profile allowing it)"
        elif status[iid] != "Online":
            text = f"the SSM agent of {iid} is {status[iid]}, not Online"
        else:
            continue
        out.append(Problem("env.app.config_commands", text, "fix SSM first, or drop "
                           "config_commands"))  # fmt: skip
    return out


def aurora_problems(cluster: Raw, instances: Sequence[Raw]) -> list[Problem]:
    """A cluster not available, or with modifications pending (queued, or in progress)."""
    out: list[str] = []
    name = cluster.get("DBClusterIdentifier", "?")
    if cluster.get("Status") != "available":
        out.append(f"cluster {name} is {cluster.get('Status')}, not available")
    if cluster.get("PendingModifiedValues"):
        out.append(f"cluster {name} has pending modifications "
                   f"{sorted(cluster['PendingModifiedValues'])}")  # fmt: skip
    for raw in instances:
        iid = raw.get("DBInstanceIdentifier", "?")
        if raw.get("DBInstanceStatus") != "available":
            out.append(f"{iid} is {raw.get('DBInstanceStatus')}, not available")
        if raw.get("PendingModifiedValues"):
            out.append(f"{iid} has pending modifications {sorted(raw['PendingModifiedValues'])}"
                       " that applying the arm would push through")  # fmt: skip
    hint = "wait until they are applied (or cancel them) before the trial"
    return [Problem("env.db.cluster", text, hint) for text in out]


def check(
    ctx: Ctx, arms: Mapping[str, ArmParams], estimate_s: float, creds: Credentials,
    now: Callable[[], float] = time.time,
) -> list[Problem]:  # fmt: skip
    """Every problem preflight finds, for every arm, before anything changes."""
    out = _guard("credentials", lambda: _caller(ctx))
    out += credential_problems(creds, estimate_s, now())
    if ctx.settings.app is not None and any(_changes_app(a) for a in arms.values()):
        out += _guard("the app pool", lambda: _app_problems(ctx, arms))
    if ctx.settings.db is not None and any(a.db_instance_class for a in arms.values()):
        out += _guard("the Aurora cluster", lambda: _db_problems(ctx))
    unique = {(p.field, p.message): p for p in out}
    return list(unique.values())


def _changes_app(arm: ArmParams) -> bool:
    return arm.app_instance_type is not None or arm.app_node_count is not None


def _guard(what: str, check_: Callable[[], list[Problem]]) -> list[Problem]:
    """Run one group of checks; an AWS error (e.g. AccessDenied) becomes a problem."""
    try:
        return check_()
    except Exception as exc:  # any AWS or network error is a finding here
        return [
            Problem(
                "env",
                f"cannot check {what}: {explain(exc)}",
                "check credentials, region and the IAM policy in docs/aws.md",
            )
        ]


def _caller(ctx: Ctx) -> list[Problem]:
    ctx.clients.sts.get_caller_identity()
    return []


def _app_problems(ctx: Ctx, arms: Mapping[str, ArmParams]) -> list[Problem]:
    ids = list(ec2.pool_ids(ctx))
    raw = ec2.describe_raw(ctx, ids)
    out = _asg_problems(ctx, ids)
    wanted = sorted({a.app_instance_type for a in arms.values() if a.app_instance_type})
    if not wanted:
        return out
    out += stop_problems(raw)
    infos = _type_infos(ctx, wanted)
    offered: dict[tuple[str, str], bool] = {}  # (type, zone): asked once for a large pool
    for arm, params in arms.items():
        if params.app_instance_type is None:
            continue
        for iid in ids:
            info = infos.get(params.app_instance_type)
            out += type_problems(arm, params.app_instance_type, iid, raw[iid], info)
            if info is not None:
                out += _offered(ctx, arm, params.app_instance_type, iid, raw[iid], offered)
    out += _dry_run(ctx, ids, wanted[0])
    if ctx.app.config_commands:
        out += ssm_problems(ids, _ssm_managed(ctx, ids))
    return out


def _asg_problems(ctx: Ctx, ids: Sequence[str]) -> list[Problem]:
    found = _asg_members(ctx, ids)
    if ctx.app.auto_scaling != "standby":
        return asg_problems(found)
    names = sorted({str(m["AutoScalingGroupName"]) for m in found})
    if not names:
        return []
    groups = ctx.clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=names)
    return standby_problems(found, groups["AutoScalingGroups"], ctx.app.rolling)


def _asg_members(ctx: Ctx, ids: Sequence[str]) -> list[Raw]:
    found: list[Raw] = []
    for batch in batches(ids, 50):  # DescribeAutoScalingInstances takes at most 50 ids
        resp = ctx.clients.autoscaling.describe_auto_scaling_instances(InstanceIds=batch)
        found.extend(resp.get("AutoScalingInstances", []))
    return found


def _type_infos(ctx: Ctx, types: Sequence[str]) -> dict[str, Raw]:
    """DescribeInstanceTypes per type; an unknown type is absent (asked one at a time, as
    one unknown name fails the whole call)."""
    infos: dict[str, Raw] = {}
    for name in types:
        try:
            resp = ctx.clients.ec2.describe_instance_types(InstanceTypes=[name])  # type: ignore[list-item]
        except Exception as exc:
            if error_code(exc) != "InvalidInstanceType":
                raise
            continue
        for info in resp.get("InstanceTypes", []):
            infos[str(info.get("InstanceType"))] = info
    return infos


def _offered(
    ctx: Ctx, arm: str, wanted: str, iid: str, raw: Raw, known: dict[tuple[str, str], bool]
) -> list[Problem]:
    zone = str(raw.get("Placement", {}).get("AvailabilityZone", ""))
    if (wanted, zone) not in known:
        known[wanted, zone] = ec2.offered_in(ctx, wanted, zone)
    if known[wanted, zone]:
        return []
    return [
        Problem(
            f"arms.{arm}.app_instance_type",
            f"{wanted} is not offered in {zone} (instance {iid})",
            "choose a type offered in every zone of the pool",
        )
    ]


def _dry_run(ctx: Ctx, ids: Sequence[str], wanted: str) -> list[Problem]:
    """The EC2 calls a swap makes, asked with DryRun: DryRunOperation means allowed."""
    calls: dict[str, Callable[[], object]] = {
        "ec2:StopInstances": lambda: ctx.clients.ec2.stop_instances(
            InstanceIds=list(ids), DryRun=True),
        "ec2:StartInstances": lambda: ctx.clients.ec2.start_instances(
            InstanceIds=list(ids), DryRun=True),
        "ec2:ModifyInstanceAttribute": lambda: ctx.clients.ec2.modify_instance_attribute(
            InstanceId=ids[0], InstanceType={"Value": wanted}, DryRun=True),
    }  # fmt: skip
    out: list[Problem] = []
    for action, call in calls.items():
        try:
            call()
        except Exception as exc:
            if error_code(exc) == "DryRunOperation":
                continue
            out.append(Problem("env", f"{action} is not allowed: {explain(exc)}",
                               "add it to the IAM policy (docs/aws.md)"))  # fmt: skip
    return out


def _ssm_managed(ctx: Ctx, ids: Sequence[str]) -> list[Raw]:
    found: list[Raw] = []
    for batch in batches(ids, 50):
        pages = ctx.clients.ssm.get_paginator("describe_instance_information").paginate(
            Filters=[{"Key": "InstanceIds", "Values": list(batch)}]
        )
        for page in pages:
            found.extend(page.get("InstanceInformationList", []))
    return found


def _db_problems(ctx: Ctx) -> list[Problem]:
    rds = ctx.clients.rds
    cluster = rds.describe_db_clusters(DBClusterIdentifier=ctx.db.cluster)["DBClusters"][0]
    members = [str(m["DBInstanceIdentifier"]) for m in cluster.get("DBClusterMembers", [])]
    instances = [
        rds.describe_db_instances(DBInstanceIdentifier=m)["DBInstances"][0] for m in members
    ]
    return aurora_problems(cluster, instances)
