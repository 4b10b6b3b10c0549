"""Observer `cloudwatch`: the cloud's own metrics for a run's window, on the run clock.

In: `{kind: cloudwatch, as: cloud, region: eu-west-1, load_balancer: app/shop/50dc6c49,
rds_instances: [shop-1, shop-2], ec2_instances: [i-0abc], period: 60s, delay: 3m}`.
`load_balancer` may be the ALB's name (`shop`, looked up with DescribeLoadBalancers), its
ARN, or CloudWatch's dimension value `app/shop/50dc6c49`. Region and endpoint default to
the trial's `env:` (an aws provider's `region` / `endpoint_url`), else the AWS chain's.
Out: Samples named `<tier>.rds.<id>.cpu` (percent, capacity 100), `<tier>.rds.<id>.
connections` (count, the period's maximum), `<tier>.alb.elb_5xx`, `.alb.target_5xx`,
`.alb.requests` (per_s: the period's sum / the requested period, so a sparse series, such
as 5XX counts published only in minutes with errors, is not inflated), `<tier>.alb.
response_time` (ms, the period's average), `<tier>.ec2.<id>.cpu` (percent), each with
`t_s = timestamp - t0` (the period's start on the run clock) and `resolution_s` = the
spacing CloudWatch really returned (60 s for most, 300 s for EC2 basic monitoring); and
`<tier>.window_coverage` (ratio) per period: the share of that period inside the run's
window, below 1 for the partial periods at the edges (their values include time outside).

CloudWatch publishes minutes late, so `sample()` returns nothing; after the run the runner
calls `collect_window(start_unix, end_unix, t0_unix)`, which waits until `delay` has passed
since the window's end, then fetches everything with GetMetricData (paginated, batched,
with botocore's standard retries). A resource for which no metric returned anything
(usually a wrong name, dimension or region) raises SampleFault carrying the samples found.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from loadtrial.clock import Clock, SystemClock
from loadtrial.errors import ObserverError, Problem
from loadtrial.observe.model import Sample, SampleFault
from loadtrial.observe.settings import CloudWatchSettings
from loadtrial.units import parse_duration_s

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client

_BATCH = 500  # GetMetricData accepts at most 500 queries per call
_MAX_PAGES = 1000  # bound on NextToken pages per batch
_PERIODS_S = (1.0, 5.0, 10.0, 30.0)  # GetMetricData: these, or a multiple of 60 s


@dataclass(frozen=True)
class MetricSpec:
    """One CloudWatch metric to fetch and the Sample it becomes."""

    name: str  # sample name without the tier
    namespace: str
    metric: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str
    unit: str
    scale: float = 1.0  # multiply values (seconds -> ms)
    per_period: bool = False  # divide by the period (sum -> per second)
    capacity: float | None = None


# name, metric, stat, unit, scale, per_period, capacity of each metric per source
_RDS = (
    ("cpu", "CPUUtilization", "Average", "percent", 1.0, False, 100.0),
    ("connections", "DatabaseConnections", "Maximum", "count", 1.0, False, None),
)
_ALB = (
    ("elb_5xx", "HTTPCode_ELB_5XX_Count", "Sum", "per_s", 1.0, True, None),
    ("target_5xx", "HTTPCode_Target_5XX_Count", "Sum", "per_s", 1.0, True, None),
    ("requests", "RequestCount", "Sum", "per_s", 1.0, True, None),
    ("response_time", "TargetResponseTime", "Average", "ms", 1000.0, False, None),
)
_EC2 = (("cpu", "CPUUtilization", "Average", "percent", 1.0, False, 100.0),)
_Row = tuple[str, str, str, str, float, bool, float | None]


def _specs(
    prefix: str, namespace: str, dim: tuple[str, str], rows: Sequence[_Row]
) -> list[MetricSpec]:
    return [
        MetricSpec(f"{prefix}.{name}", namespace, metric, (dim,), stat, unit, scale, per, cap)
        for name, metric, stat, unit, scale, per, cap in rows
    ]


def alb_dimension(value: str) -> str | None:
    """CloudWatch's LoadBalancer dimension (`app/<name>/<id>`) from an ARN or the dimension
    itself; None for a bare name (it has to be looked up)."""
    if ":loadbalancer/" in value:
        return value.split(":loadbalancer/", 1)[1]
    return value if value.count("/") == 2 else None


def metric_specs(entry: CloudWatchSettings, alb: str | None = None) -> list[MetricSpec]:
    """Return the metrics an entry asks for (`alb`: the ALB's dimension value, when known)."""
    specs: list[MetricSpec] = []
    for db in entry.rds_instances or ():
        specs += _specs(f"rds.{db}", "AWS/RDS", ("DBInstanceIdentifier", str(db)), _RDS)
    if entry.load_balancer:
        dim = ("LoadBalancer", alb or alb_dimension(entry.load_balancer) or "")
        specs += _specs("alb", "AWS/ApplicationELB", dim, _ALB)
    for iid in entry.ec2_instances or ():
        specs += _specs(f"ec2.{iid}", "AWS/EC2", ("InstanceId", str(iid)), _EC2)
    return specs


def resolution_s(stamps: Sequence[float], period_s: float) -> float:
    """Return the smallest spacing between points (the period when there is one point)."""
    gaps = [b - a for a, b in pairwise(stamps) if b > a]
    return min(gaps) if gaps else period_s


class CloudWatchObserver:
    """Fetches a run window's CloudWatch metrics after the run (see module docstring)."""

    def __init__(
        self,
        entry: CloudWatchSettings,
        *,
        client: CloudWatchClient | None = None,
        elbv2: ElasticLoadBalancingv2Client | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.tier = entry.as_ or "cloud"
        self._entry = entry
        self._client = client
        self._elbv2 = elbv2
        self._clock = clock or SystemClock()
        self._period_s = max(1, round(entry.period))
        self._delay_s = entry.delay
        self._specs = metric_specs(entry)
        self.resolutions: dict[str, float] = {}

    def start(self) -> None:
        """Build the clients from the standard credential chain (never from the file), and
        look up an ALB given by name.

        The region is this entry's `region` (the runner fills it from an aws `env:`), else
        the chain's (AWS_REGION, the profile); say so when neither is set."""
        if self._client is None:
            self._client, self._elbv2 = self._make_clients()
        name = self._entry.load_balancer or ""
        if name and alb_dimension(name) is None:
            self._specs = metric_specs(self._entry, self._lookup_alb(name))

    def _lookup_alb(self, name: str) -> str:
        """The dimension value of the ALB called `name` (DescribeLoadBalancers)."""
        if self._elbv2 is None:
            raise ObserverError(f"cannot look up the load balancer {name!r} without elbv2")
        try:
            found = self._elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
        except Exception as exc:
            raise ObserverError(
                f"cannot find the load balancer {name!r}: {exc}",
                hint="give its name, ARN or app/<name>/<id>, in the observer's region",
            ) from exc
        dim = alb_dimension(str(found[0]["LoadBalancerArn"]))
        if dim is None:  # an ARN always has one; keep mypy and a strange answer honest
            raise ObserverError(f"unexpected ARN for {name!r}: {found[0]['LoadBalancerArn']}")
        return dim

    def _make_clients(self) -> tuple[CloudWatchClient, ElasticLoadBalancingv2Client]:
        try:
            import boto3
        except ImportError as exc:  # pragma: no cover - boto3 is an optional dependency
            raise ObserverError(
                "the cloudwatch observer needs boto3", hint="pip install 'loadtrial[aws]'"
            ) from exc
        session = boto3.session.Session(region_name=self._entry.region or None)
        if not session.region_name:
            raise ObserverError(
                "no AWS region for the cloudwatch observer",
                hint="set region: in its observe entry, or AWS_REGION / a profile region",
            )
        from botocore.config import Config

        # standard retries back off on throttling (GetMetricData is rate limited per account)
        config = Config(retries={"mode": "standard", "max_attempts": 8})
        kwargs: dict[str, Any] = {"config": config}
        if self._entry.endpoint_url:
            kwargs["endpoint_url"] = self._entry.endpoint_url
        return session.client("cloudwatch", **kwargs), session.client("elbv2", **kwargs)

    def sample(self, t_s: float) -> list[Sample]:
        """Nothing live: CloudWatch data arrives minutes late; see collect_window."""
        return []

    def stop(self) -> None:
        """Nothing to release."""

    def collect_window(self, start_unix: float, end_unix: float, t0_unix: float) -> list[Sample]:
        """Wait out CloudWatch's delay, then return the window's samples on the run clock
        (`t_s = timestamp - t0_unix`). Raises ObserverError when CloudWatch fails, and
        SampleFault (with the samples) when a resource returned nothing at all."""
        self.start()
        self._clock.sleep(end_unix + self._delay_s - self._clock.wall())
        first = math.floor(start_unix / self._period_s) * self._period_s
        last = math.ceil(end_unix / self._period_s) * self._period_s
        try:
            points = self._fetch(first, max(last, first + self._period_s))
        except Exception as exc:
            raise ObserverError(
                f"CloudWatch GetMetricData failed: {exc}",
                hint="check credentials, region and IAM permissions",
            ) from exc
        samples = self._to_samples(points, t0_unix)
        samples += self._coverage(first, max(last, first + self._period_s), start_unix,
                                  end_unix, t0_unix)  # fmt: skip
        samples.sort(key=lambda s: (s.t_s, s.name))
        silent = self._silent(points)
        if silent:
            more = f" and {len(silent) - 5} more" if len(silent) > 5 else ""
            raise SampleFault(
                f"CloudWatch returned no data for {', '.join(silent[:5])}{more} in the run's "
                "window",
                hint="check the names or ids, the region, and that the resource was in use",
                samples=tuple(samples),
            )
        return samples

    def _silent(self, points: Mapping[int, Mapping[float, float]]) -> list[str]:
        """Resources (`rds.<id>`, `alb`, `ec2.<id>`) none of whose metrics returned a point
        (one empty metric alone is normal: ALB 5XX counts exist only in minutes with 5XX)."""
        heard: dict[str, bool] = {}
        for index, spec in enumerate(self._specs):
            resource = spec.name.rsplit(".", 1)[0]
            heard[resource] = heard.get(resource, False) or bool(points.get(index))
        return [r for r, any_point in heard.items() if not any_point]

    def _coverage(
        self, first: float, last: float, start: float, end: float, t0: float
    ) -> list[Sample]:
        """The share of each period inside [start, end]: < 1 marks a partial edge period."""
        period = float(self._period_s)
        out: list[Sample] = []
        p = first
        while p < last:
            inside = max(0.0, min(p + period, end) - max(p, start)) / period
            out.append(Sample(p - t0, f"{self.tier}.window_coverage", inside, "ratio", None,
                              period))  # fmt: skip
            p += period
        return out

    def _queries(self, specs: Sequence[MetricSpec], offset: int) -> list[Any]:
        return [
            {
                "Id": f"m{offset + k}",
                "ReturnData": True,
                "MetricStat": {
                    "Metric": {
                        "Namespace": s.namespace,
                        "MetricName": s.metric,
                        "Dimensions": [{"Name": n, "Value": v} for n, v in s.dimensions],
                    },
                    "Period": self._period_s,
                    "Stat": s.stat,
                },
            }
            for k, s in enumerate(specs)
        ]

    def _fetch(self, start: float, end: float) -> dict[int, dict[float, float]]:
        """Return spec index -> {unix timestamp: value}, all pages of all batches."""
        assert self._client is not None
        found: dict[int, dict[float, float]] = {i: {} for i in range(len(self._specs))}
        for offset in range(0, len(self._specs), _BATCH):
            queries = self._queries(self._specs[offset : offset + _BATCH], offset)
            token = ""
            for _ in range(_MAX_PAGES):
                kwargs: dict[str, Any] = {"NextToken": token} if token else {}
                resp = self._client.get_metric_data(
                    MetricDataQueries=queries,
                    ScanBy="TimestampAscending",
                    StartTime=datetime.fromtimestamp(start, UTC),
                    EndTime=datetime.fromtimestamp(end, UTC),
                    **kwargs,
                )
                for result in resp.get("MetricDataResults", []):
                    index = int(result["Id"][1:])
                    for ts, value in zip(result["Timestamps"], result["Values"], strict=False):
                        found[index][ts.timestamp()] = float(value)
                token = resp.get("NextToken", "")
                if not token:
                    break
        return found

    def _to_samples(self, points: Mapping[int, Mapping[float, float]], t0: float) -> list[Sample]:
        samples: list[Sample] = []
        for index, by_time in points.items():
            spec = self._specs[index]
            stamps = sorted(by_time)
            res = resolution_s(stamps, float(self._period_s))
            name = f"{self.tier}.{spec.name}"
            if stamps:
                self.resolutions[name] = res
            for ts in stamps:
                value = by_time[ts] * spec.scale
                if spec.per_period:  # a sum over the requested period, whatever the gaps
                    value /= self._period_s
                samples.append(Sample(ts - t0, name, value, spec.unit, spec.capacity, res))
        return samples


def create(entry: CloudWatchSettings) -> CloudWatchObserver:
    """Return a cloudwatch observer for one `observe:` entry (client built on start)."""
    return CloudWatchObserver(entry)


def problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Return every problem with one cloudwatch entry."""
    found: list[Problem] = []
    period = entry.get("period", 60)
    period_s = parse_duration_s(period)
    if period_s not in _PERIODS_S and (period_s <= 0 or period_s % 60):
        found.append(
            Problem(
                f"{path}.period",
                f"CloudWatch refuses a period of {period!r}",
                "1s, 5s, 10s, 30s or a multiple of 60s (1m for most AWS metrics)",
            )
        )
    if not any(entry.get(k) for k in ("load_balancer", "rds_instances", "ec2_instances")):
        found.append(
            Problem(
                path, "nothing to observe", "give load_balancer, rds_instances and/or ec2_instances"
            )
        )
    return found
