"""boto3 clients for the provider, built from the standard credential chain.

In: region and optional endpoint_url from the settings. Out: `Clients`, one client per
service. Credentials are never read from the trial file nor stored: boto3's chain
(environment, shared config/SSO, instance/task role) supplies them. Tests build `Clients`
themselves, pointing at a local moto server with dummy keys passed to the clients only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loadtrial.errors import ProviderError

if TYPE_CHECKING:
    from mypy_boto3_autoscaling import AutoScalingClient
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_route53 import Route53Client
    from mypy_boto3_ssm import SSMClient
    from mypy_boto3_sts import STSClient


@dataclass(frozen=True)
class Clients:
    """One boto3 client per service the provider calls."""

    ec2: EC2Client
    elbv2: ElasticLoadBalancingv2Client
    rds: RDSClient
    route53: Route53Client
    ssm: SSMClient
    autoscaling: AutoScalingClient
    sts: STSClient


def make_clients(region: str = "", endpoint_url: str = "", **client_kwargs: Any) -> Clients:
    """Return clients for `region` (or the chain's region); `client_kwargs` go to each client."""
    try:
        import boto3
    except ImportError as exc:  # pragma: no cover - boto3 is an optional dependency
        raise ProviderError(
            "the aws provider needs boto3", hint="pip install loadtrial[aws]"
        ) from exc
    session = boto3.session.Session(region_name=region or None)
    if not session.region_name:
        raise ProviderError(
            "no AWS region configured",
            hint="set env.region in the trial file or AWS_REGION / a profile region",
        )
    from botocore.config import Config

    # standard retries back off on throttling: the waiters poll Describe* calls for minutes
    config = Config(retries={"mode": "standard", "max_attempts": 8}, user_agent_extra="loadtrial")
    kwargs: dict[str, Any] = {"config": config, **client_kwargs}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return Clients(
        ec2=session.client("ec2", **kwargs),
        elbv2=session.client("elbv2", **kwargs),
        rds=session.client("rds", **kwargs),
        route53=session.client("route53", **kwargs),
        ssm=session.client("ssm", **kwargs),
        autoscaling=session.client("autoscaling", **kwargs),
        sts=session.client("sts", **kwargs),
    )


def current_credentials(region: str = "") -> tuple[str, float | None]:
    """How boto3's chain finds credentials now ("env", "sso", "assume-role", ...; "none")
    and when they expire (Unix time; None when they do not, or it is not known)."""
    import boto3

    creds = boto3.session.Session(region_name=region or None).get_credentials()
    if creds is None:
        return "none", None
    expiry = getattr(creds, "_expiry_time", None)  # botocore offers no public accessor
    return str(creds.method), (expiry.timestamp() if expiry is not None else None)
