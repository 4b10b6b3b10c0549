"""The cloudwatch observer against moto in server mode: data put with PutMetricData
comes back from GetMetricData aligned to the run clock, with its real resolution."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from loadtrial.clock import FakeClock
from loadtrial.errors import ObserverError
from loadtrial.observe.cloudwatch import CloudWatchObserver, problems, resolution_s


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
    obs = CloudWatchObserver(entry, client=cw, clock=clock)
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
    samples = CloudWatchObserver(entry, client=cw, clock=FakeClock()).collect_window(
        t0, t0 + 60, t0 - 30
    )
    assert [(s.name, s.t_s, s.value) for s in samples] == [
        (f"cloud.rds.{names[-1]}.connections", 30.0, 7.0)
    ]


def test_cloudwatch_failure_is_an_observer_error(client_kwargs: dict[str, Any]) -> None:
    kw = {**client_kwargs, "endpoint_url": "http://127.0.0.1:9"}  # nothing listens there
    from botocore.config import Config

    cw = boto3.client(
        "cloudwatch", config=Config(retries={"max_attempts": 1}, connect_timeout=1), **kw
    )
    obs = CloudWatchObserver(
        {"kind": "cloudwatch", "ec2_instances": ["i-1"], "delay": 0}, client=cw, clock=FakeClock()
    )
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
    obs = CloudWatchObserver({"kind": "cloudwatch", "ec2_instances": ["i-1"]})
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
    obs = CloudWatchObserver(entry, clock=FakeClock())
    assert [(s.t_s, s.value) for s in obs.collect_window(t0, t0 + 60, t0)] == [(0.0, 42.0)]


def test_a_period_cloudwatch_refuses_is_a_problem() -> None:
    entry = {"kind": "cloudwatch", "rds_instances": ["a"]}
    assert problems({**entry, "period": "45s"}, "observe[0]")[0].field == "observe[0].period"
    for ok in ("1s", "30s", "60s", "5m"):
        assert problems({**entry, "period": ok}, "observe[0]") == []


def test_problems_name_fields() -> None:
    found = problems({"kind": "cloudwatch", "period": "soon", "rds_instance": ["x"]}, "observe[2]")
    fields = {p.field for p in found}
    assert {"observe[2].period", "observe[2].rds_instance", "observe[2]"} <= fields
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
