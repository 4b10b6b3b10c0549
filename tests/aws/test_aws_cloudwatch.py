"""The cloudwatch observer against moto in server mode: data put with PutMetricData
comes back from GetMetricData aligned to the run clock, with its real resolution."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import TypeAdapter, ValidationError

from loadtrial.clock import FakeClock
from loadtrial.errors import ObserverError
from loadtrial.observe.cloudwatch import CloudWatchObserver, problems, resolution_s
from loadtrial.observe.model import SampleFault
from loadtrial.observe.settings import CloudWatchSettings, ObserverSettings


def _put(
    cw: Any,
    namespace: str,
    metric: str,
    dims: dict[str, str],
    at: float,
    value: float,
    unit: str = "None",
) -> None:
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": datetime.fromtimestamp(at, UTC),
                "Value": value,
                "Unit": unit,
            }
        ],
    )


@pytest.fixture
def cw(client_kwargs: dict[str, Any]) -> Any:
    return boto3.client("cloudwatch", **client_kwargs)


def _t0() -> float:
    """A minute boundary 20 minutes ago: the run's t0 in Unix time."""
    return (int(time.time()) // 60) * 60 - 1200.0


def test_window_comes_back_aligned_to_the_run_clock(cw: Any) -> None:
    t0 = _t0()
    for k, cpu in enumerate([20.0, 55.0, 97.0]):
        _put(cw, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "shop-1"}, t0 + 60 * k, cpu)
        _put(
            cw,
            "AWS/RDS",
            "DatabaseConnections",
            {"DBInstanceIdentifier": "shop-1"},
            t0 + 60 * k + 5,
            10.0 * (k + 1),
        )
    alb = {"LoadBalancer": "app/shop/50dc6c49"}
    for k in range(3):  # two puts in the same minute are summed by CloudWatch
        _put(cw, "AWS/ApplicationELB", "RequestCount", alb, t0 + 60 * k + 1, 600.0)
        _put(cw, "AWS/ApplicationELB", "RequestCount", alb, t0 + 60 * k + 2, 600.0)
    _put(cw, "AWS/ApplicationELB", "TargetResponseTime", alb, t0 + 60, 0.25)
    _put(cw, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb, t0 + 120, 120.0)
    for k in range(2):  # basic monitoring: one point per 5 minutes
        _put(cw, "AWS/EC2", "CPUUtilization", {"InstanceId": "i-0abc"}, t0 + 300 * k, 40.0)
    _put(cw, "AWS/RDS", "CPUUtilization", {"DBInstanceIdentifier": "shop-1"}, t0 + 900, 1.0)

    entry = {
        "kind": "cloudwatch",
        "as": "cloud",
        "rds_instances": ["shop-1"],
        "load_balancer": "app/shop/50dc6c49",
        "ec2_instances": ["i-0abc"],
        "period": "60s",
        "delay": "2m",
    }
    clock = FakeClock()
    obs = CloudWatchObserver(CloudWatchSettings.model_validate(entry), client=cw, clock=clock)
    obs.start()
    assert obs.sample(5.0) == []
    end = t0 + 330.0
    samples = obs.collect_window(t0, end, t0)
    assert clock.wall() >= end + 120.0  # it waited out the delay (on the injected clock)

    def series(name: str) -> list[tuple[float, float, float | None]]:
        return [(s.t_s, s.value, s.resolution_s) for s in samples if s.name == name]

    assert series("cloud.rds.shop-1.cpu") == [(0.0, 20.0, 60), (60.0, 55.0, 60), (120.0, 97.0, 60)]
    assert [v for _, v, _ in series("cloud.rds.shop-1.connections")] == [10.0, 20.0, 30.0]
    assert series("cloud.alb.requests") == [(t, 20.0, 60) for t in (0.0, 60.0, 120.0)]
    assert series("cloud.alb.response_time") == [(60.0, 250.0, 60)]
    assert series("cloud.alb.elb_5xx") == [(120.0, 2.0, 60)]
    assert series("cloud.ec2.i-0abc.cpu") == [(0.0, 40.0, 300), (300.0, 40.0, 300)]
    cpu = next(s for s in samples if s.name == "cloud.rds.shop-1.cpu")
    assert cpu.unit == "percent" and cpu.capacity == 100.0
    assert obs.resolutions["cloud.ec2.i-0abc.cpu"] == 300


def test_more_than_one_batch_of_queries(cw: Any) -> None:
    t0 = _t0()
    names = [f"db-{k:03d}" for k in range(260)]  # 520 queries: two GetMetricData batches
    _put(cw, "AWS/RDS", "DatabaseConnections", {"DBInstanceIdentifier": names[-1]}, t0, 7.0)
    entry = {"kind": "cloudwatch", "rds_instances": names, "delay": 0}
    with pytest.raises(SampleFault, match=r"no data for rds.db-000, .* and 254 more") as err:
        CloudWatchObserver(
            CloudWatchSettings.model_validate(entry), client=cw, clock=FakeClock()
        ).collect_window(
            t0, t0 + 60, t0 - 30
        )  # only one of the 260 instances answered: a warning that keeps what came back
    assert [(s.name, s.t_s, s.value) for s in err.value.samples if "rds" in s.name] == [
        (f"cloud.rds.{names[-1]}.connections", 30.0, 7.0)
    ]


def test_cloudwatch_failure_is_an_observer_error(client_kwargs: dict[str, Any]) -> None:
    kw = {**client_kwargs, "endpoint_url": "http://127.0.0.1:9"}  # nothing listens there
    from botocore.config import Config

    cw = boto3.client(
        "cloudwatch", config=Config(retries={"max_attempts": 1}, connect_timeout=1), **kw
    )
    entry = {"kind": "cloudwatch", "ec2_instances": ["i-1"], "delay": 0}
    obs = CloudWatchObserver(CloudWatchSettings.model_validate(entry), client=cw, clock=FakeClock())
    with pytest.raises(ObserverError, match="GetMetricData failed"):
        obs.collect_window(1000.0, 1060.0, 1000.0)


def _no_aws_chain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


def test_no_region_says_where_to_set_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # the trial's env.region is not inherited: the message used to be boto3's
    # "You must specify a region." with a hint whose [aws] the terminal swallowed
    _no_aws_chain(monkeypatch, tmp_path)
    obs = CloudWatchObserver(
        CloudWatchSettings.model_validate({"kind": "cloudwatch", "ec2_instances": ["i-1"]})
    )
    with pytest.raises(ObserverError, match="no AWS region for the cloudwatch observer") as err:
        obs.start()
    assert "region: in its observe entry" in (err.value.hint or "")


def test_region_and_endpoint_from_the_entry_reach_cloudwatch(
    cw: Any, client_kwargs: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _no_aws_chain(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", client_kwargs["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", client_kwargs["aws_secret_access_key"])
    t0 = _t0()
    _put(cw, "AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, t0, 42.0)
    entry = {
        "kind": "cloudwatch",
        "ec2_instances": ["i-1"],
        "delay": 0,
        "region": client_kwargs["region_name"],
        "endpoint_url": client_kwargs["endpoint_url"],
    }
    obs = CloudWatchObserver(CloudWatchSettings.model_validate(entry), clock=FakeClock())
    found = obs.collect_window(t0, t0 + 60, t0)
    assert [(s.t_s, s.value) for s in found if s.name == "cloud.ec2.i-1.cpu"] == [(0.0, 42.0)]


def test_a_period_cloudwatch_refuses_is_a_problem() -> None:
    entry = {"kind": "cloudwatch", "rds_instances": ["a"]}
    assert problems({**entry, "period": "45s"}, "observe[0]")[0].field == "observe[0].period"
    for ok in ("1s", "30s", "60s", "5m"):
        assert problems({**entry, "period": ok}, "observe[0]") == []


def test_problems_name_fields() -> None:
    # a typo or a wrong type is the model's (observe.settings.CloudWatchSettings)
    with pytest.raises(ValidationError) as info:
        TypeAdapter(ObserverSettings).validate_python(
            {"kind": "cloudwatch", "period": "soon", "rds_instance": ["x"]}
        )
    assert {e["loc"][-1] for e in info.value.errors()} == {"period", "rds_instance"}
    found = problems({"kind": "cloudwatch", "period": 90.0}, "observe[2]")
    assert {p.field for p in found} == {"observe[2].period", "observe[2]"}
    assert problems({"kind": "cloudwatch", "rds_instances": ["a"]}, "observe[0]") == []


def test_resolution_is_the_smallest_spacing() -> None:
    assert resolution_s([0.0, 60.0, 180.0], 60.0) == 60.0
    assert resolution_s([0.0, 300.0], 60.0) == 300.0
    assert resolution_s([5.0], 60.0) == 60.0


def test_made_through_the_observe_door_with_the_window_ability() -> None:
    from loadtrial.observe import make_observer, observer_problems
    from loadtrial.observe.model import CollectsWindow

    entry = {"kind": "cloudwatch", "as": "cloud", "load_balancer": "app/shop/1", "interval": 1.0}
    assert observer_problems(entry, "observe[0]") == []
    observer = make_observer(entry)
    assert isinstance(observer, CollectsWindow) and observer.tier == "cloud"


def test_sparse_counts_are_rates_over_the_requested_period(cw: Any) -> None:
    # ALB publishes 5XX counts only in minutes that had some: a point 2 minutes after the
    # first is still a one-minute sum, not a two-minute one
    t0, alb = _t0(), {"LoadBalancer": "app/shop/50dc6c49"}
    _put(cw, "AWS/ApplicationELB", "RequestCount", alb, t0, 6000.0)
    _put(cw, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb, t0, 60.0)
    _put(cw, "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", alb, t0 + 120, 120.0)
    entry = {"kind": "cloudwatch", "load_balancer": "app/shop/50dc6c49", "delay": 0}
    samples = CloudWatchObserver(
        CloudWatchSettings.model_validate(entry), client=cw, clock=FakeClock()
    ).collect_window(t0, t0 + 180, t0)
    assert [(s.t_s, s.value) for s in samples if s.name == "cloud.alb.elb_5xx"] == [
        (0.0, 1.0),
        (120.0, 2.0),
    ]


def test_partial_edge_periods_are_marked(cw: Any) -> None:
    t0 = _t0()
    _put(cw, "AWS/EC2", "CPUUtilization", {"InstanceId": "i-1"}, t0, 42.0)
    entry = {"kind": "cloudwatch", "ec2_instances": ["i-1"], "delay": 0}
    obs = CloudWatchObserver(CloudWatchSettings.model_validate(entry), client=cw, clock=FakeClock())
    samples = obs.collect_window(t0 + 30, t0 + 135, t0)  # half of the first minute, ...
    coverage = [(s.t_s, s.value) for s in samples if s.name == "cloud.window_coverage"]
    assert coverage == [(0.0, 0.5), (60.0, 1.0), (120.0, 0.25)]  # ... a quarter of the last


def test_alb_given_by_name_or_arn(cw: Any, client_kwargs: dict[str, Any]) -> None:
    elbv2 = boto3.client("elbv2", **client_kwargs)
    ec2 = boto3.client("ec2", **client_kwargs)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{k}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for k, zone in enumerate(("us-east-1a", "us-east-1b"))
    ]
    arn = elbv2.create_load_balancer(Name="shop", Subnets=subnets)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    dim = arn.split(":loadbalancer/", 1)[1]
    t0 = _t0()
    _put(cw, "AWS/ApplicationELB", "RequestCount", {"LoadBalancer": dim}, t0, 120.0)
    for given in ("shop", arn, dim):
        entry = {"kind": "cloudwatch", "load_balancer": given, "delay": 0}
        obs = CloudWatchObserver(
            CloudWatchSettings.model_validate(entry), client=cw, elbv2=elbv2, clock=FakeClock()
        )
        obs.start()
        samples = obs.collect_window(t0, t0 + 60, t0)
        assert [s.value for s in samples if s.name == "cloud.alb.requests"] == [2.0], given
    nope = CloudWatchSettings.model_validate({"kind": "cloudwatch", "load_balancer": "nope"})
    missing = CloudWatchObserver(nope, client=cw, elbv2=elbv2)
    with pytest.raises(ObserverError, match="cannot find the load balancer 'nope'"):
        missing.start()


def test_region_and_endpoint_are_inherited_from_an_aws_env() -> None:
    from loadtrial.runner.support import observe_entries
    from loadtrial.spec.loader import parse_trial_text

    text = (
        "name: t\ntarget: {base_url: 'http://127.0.0.1:9'}\n"
        "load: {stages: [{rate: 1, duration: 1s}]}\n"
        "env: {provider: aws, region: eu-west-3, endpoint_url: 'http://127.0.0.1:5'}\n"
        "observe:\n  - {kind: cloudwatch, ec2_instances: [i-1]}\n"
        "  - {kind: cloudwatch, ec2_instances: [i-2], region: us-west-2}\n"
    )
    entries = observe_entries(parse_trial_text(text, check=False).trial)
    assert [(e.get("region"), e.get("endpoint_url")) for e in entries] == [
        ("eu-west-3", "http://127.0.0.1:5"),
        ("us-west-2", "http://127.0.0.1:5"),
    ]
