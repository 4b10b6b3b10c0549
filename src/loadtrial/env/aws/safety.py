"""Only resources tagged `loadtrial=managed` (key and value configurable) may be modified.

In: the Ctx and the identifiers an arm would touch. Out: nothing, or ProviderError listing
every untagged resource at once, raised before any change is made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from loadtrial.env.aws.context import Ctx
from loadtrial.errors import ProviderError


def _tag_map(tags: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {str(t.get("Key", "")): str(t.get("Value", "")) for t in tags}


def _is_managed(ctx: Ctx, tags: Iterable[Mapping[str, str]]) -> bool:
    return _tag_map(tags).get(ctx.settings.tag_key) == ctx.settings.tag_value


def unmanaged_instances(ctx: Ctx, ids: Sequence[str]) -> list[str]:
    """Return the EC2 instances among `ids` without the managed tag."""
    if not ids:
        return []
    pages = ctx.clients.ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
    found = [i for r in pages for i in r.get("Instances", [])]
    return [
        f"ec2 instance {i['InstanceId']}"
        for i in found
        if not _is_managed(ctx, i.get("Tags", []))  # type: ignore[arg-type]
    ]


def unmanaged_target_group(ctx: Ctx, arn: str) -> list[str]:
    """Return the target group if it lacks the managed tag."""
    # DescribeTags answers for any well-formed ARN (moto: no tags), so ask for the group
    # first: a missing one raises TargetGroupNotFound instead of "not tagged"
    ctx.clients.elbv2.describe_target_groups(TargetGroupArns=[arn])
    descs = ctx.clients.elbv2.describe_tags(ResourceArns=[arn])["TagDescriptions"]
    tags = descs[0].get("Tags", []) if descs else []
    return [] if _is_managed(ctx, tags) else [f"target group {arn}"]  # type: ignore[arg-type]


def unmanaged_db(ctx: Ctx, cluster_arn: str, instance_arns: Sequence[str]) -> list[str]:
    """Return the Aurora cluster and instances (by ARN) that lack the managed tag."""
    bad = []
    for arn in (cluster_arn, *instance_arns):
        tags = ctx.clients.rds.list_tags_for_resource(ResourceName=arn).get("TagList", [])
        if not _is_managed(ctx, tags):  # type: ignore[arg-type]
            bad.append(f"rds {arn.split(':', 5)[-1]}")
    return bad


def unmanaged_zone(ctx: Ctx, zone_id: str) -> list[str]:
    """Return the hosted zone if it lacks the managed tag."""
    short = zone_id.rsplit("/", 1)[-1]
    resp = ctx.clients.route53.list_tags_for_resource(ResourceType="hostedzone", ResourceId=short)
    tags = resp.get("ResourceTagSet", {}).get("Tags", [])
    return [] if _is_managed(ctx, tags) else [f"hosted zone {short}"]  # type: ignore[arg-type]


def require_managed(ctx: Ctx, unmanaged: Sequence[str]) -> None:
    """Raise ProviderError naming every unmanaged resource; record the check either way."""
    tag = f"{ctx.settings.tag_key}={ctx.settings.tag_value}"
    if unmanaged:
        ctx.journal.record(f"refuse: not tagged {tag}", "failed", ", ".join(unmanaged))
        raise ProviderError(
            f"refusing to modify resources not tagged {tag}: {', '.join(unmanaged)}",
            hint=f"tag them {tag} if loadtrial may change them, or change env.managed_tag",
        )
    ctx.journal.record(f"check: every resource to change is tagged {tag}", "ok")
