"""A moto server on 127.0.0.1 (server mode, used as a real client would) and a small AWS
world in it: app instances in two zones behind a tagged target group, a hosted zone, and
an Aurora cluster with a writer and a reader, all tagged loadtrial=managed."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import moto.server as moto_server
import pytest
from aws_world import MANAGED, World

from loadtrial.env.aws.clients import Clients

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def client_kwargs(moto_url: str) -> Iterator[dict[str, Any]]:
    """Dummy credentials passed to the clients only; a fresh moto state per test."""
    req = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=10):
        pass
    yield {
        "endpoint_url": moto_url,
        "region_name": REGION,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


@pytest.fixture
def clients(client_kwargs: dict[str, Any]) -> Clients:
    kw = client_kwargs
    return Clients(
        ec2=boto3.client("ec2", **kw),
        elbv2=boto3.client("elbv2", **kw),
        rds=boto3.client("rds", **kw),
        route53=boto3.client("route53", **kw),
        ssm=boto3.client("ssm", **kw),
        autoscaling=boto3.client("autoscaling", **kw),
        sts=boto3.client("sts", **kw),
    )


def _instance(c: Clients, subnet: str, tags: list[Any]) -> str:
    spec: Any = [{"ResourceType": "instance", "Tags": tags}]
    run = c.ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="m4.large",
        SubnetId=subnet,
        TagSpecifications=spec,
    )
    return run["Instances"][0]["InstanceId"]


@pytest.fixture
def world(clients: Clients) -> World:
    c = clients
    vpc = c.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sub_a = c.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24", AvailabilityZone="us-east-1a")
    sub_e = c.ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.2.0/24", AvailabilityZone="us-east-1e")
    tags = [*MANAGED, {"Key": "role", "Value": "app"}]
    ids = [_instance(c, sub_a["Subnet"]["SubnetId"], tags) for _ in range(2)]
    ids.append(_instance(c, sub_e["Subnet"]["SubnetId"], tags))
    tg = c.elbv2.create_target_group(
        Name="app", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="instance", Tags=MANAGED
    )["TargetGroups"][0]["TargetGroupArn"]
    c.elbv2.register_targets(TargetGroupArn=tg, Targets=[{"Id": i} for i in ids])
    zone = c.route53.create_hosted_zone(Name="example.com", CallerReference="t")["HostedZone"]
    zone_id = zone["Id"].rsplit("/", 1)[-1]
    c.route53.change_tags_for_resource(
        ResourceType="hostedzone", ResourceId=zone_id, AddTags=MANAGED
    )
    c.rds.create_db_cluster(
        DBClusterIdentifier="shop",
        Engine="aurora-postgresql",
        EngineVersion="15.4",
        MasterUsername="app",
        MasterUserPassword="password123",
        Tags=MANAGED,
    )
    for name in ("shop-1", "shop-2"):
        c.rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBClusterIdentifier="shop",
            Engine="aurora-postgresql",
            DBInstanceClass="db.r5.large",
            Tags=MANAGED,
        )
    return World(tuple(ids), tg, zone_id)
