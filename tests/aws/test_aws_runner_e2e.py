"""The aws provider through `loadtrial run` (a subprocess; dummy AWS credentials are in
that process's environment only) against moto and a tiny local HTTP target."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from aws_world import World

from loadtrial.env.aws.clients import Clients
from loadtrial.store import Store
from local_http import LocalHTTPServer


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = LocalHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _trial(world: World, target: str, moto_url: str) -> dict[str, Any]:
    return {
        "name": "aws-e2e",
        "target": {"base_url": target},
        "load": {"model": "open", "stages": [{"rate": 10, "duration": "1s"}], "workers": 1},
        "env": {
            "provider": "aws",
            "region": "us-east-1",
            "endpoint_url": moto_url,
            "app": {"target_group_arn": world.tg_arn, "instances": list(world.instances[:2])},
            "db": {"cluster": world.cluster, "keep_writer": True},
            "waits": {"poll": "1s", "timeout": "30s"},
        },
        "arms": {
            "small": {"app_instance_type": "m4.large"},
            "big": {"app_instance_type": "m4.xlarge", "db_instance_class": "db.r5.2xlarge"},
        },
        "order": "sequential",
        "observe": [
            {
                "kind": "cloudwatch",
                "as": "cloud",
                "region": "us-east-1",
                "endpoint_url": moto_url,
                "rds_instances": [world.writer],
                "delay": 0,
            }
        ],
    }


def _loadtrial(args: list[str], client_kwargs: dict[str, Any], cwd: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_ACCESS_KEY_ID": client_kwargs["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": client_kwargs["aws_secret_access_key"],
        "AWS_CONFIG_FILE": str(cwd / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "none"),
    }
    cmd = [sys.executable, "-m", "loadtrial.cli", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_run_applies_snapshots_and_reverts_through_the_cli(
    clients: Clients,
    world: World,
    target: str,
    moto_url: str,
    client_kwargs: dict[str, Any],
    tmp_path: Path,
) -> None:
    trial_file = tmp_path / "trial.yaml"
    trial_file.write_text(yaml.safe_dump(_trial(world, target, moto_url)))
    dry = _loadtrial(["run", str(trial_file), "--dry-run"], client_kwargs, tmp_path)
    assert dry.returncode == 0, dry.stderr
    planned = dry.stdout + dry.stderr
    assert "arm big: aws provider would:" in planned
    assert "InstanceType=m4.xlarge" in planned and "rds.FailoverDBCluster" in planned
    # CloudWatch data for the runs' minutes, put as AWS would publish it
    cw = boto3.client("cloudwatch", **client_kwargs)
    minute = int(time.time()) // 60 * 60
    cw.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": world.writer}],
                "Timestamp": datetime.fromtimestamp(minute + 60 * k, UTC),
                "Value": 50.0 + k,
            }
            for k in range(-1, 4)
        ],
    )
    store_path = tmp_path / "results.db"
    done = _loadtrial(
        ["run", str(trial_file), "--store", str(store_path), "--no-live"], client_kwargs, tmp_path
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    store = Store(store_path)
    trial_id = store.latest_trial_id()
    assert trial_id is not None
    runs = {r.info.arm: r for r in store.load_trial(trial_id).runs}
    big = runs["big"]
    assert big.info.status == "complete", big.info.abort_reason
    assert big.snapshots["before"][f"aws.app.{world.instances[0]}.instance_type"] == "m4.xlarge"
    assert big.snapshots["before"]["aws.rds.shop.shop-1.db_instance_class"] == "db.r5.2xlarge"
    assert big.snapshots["before"]["aws.rds.shop.writer"] == "shop-1"
    cpu = [x for x in big.series if x.name == f"cloud.rds.{world.writer}.cpu"]
    assert cpu and cpu[0].unit == "percent" and cpu[0].capacity == 100.0
    assert set(cpu[0].values) <= {49.0, 50.0, 51.0, 52.0, 53.0}
    names = [a.name for a in big.actions]
    assert any(n.startswith("rds modify shop-1") for n in names)
    assert any(n == "revert app" for n in names)
    found = clients.ec2.describe_instances(InstanceIds=list(world.instances[:2]))
    types = {i["InstanceType"] for r in found["Reservations"] for i in r["Instances"]}
    assert types == {"m4.large"}  # reverted after the last run
    # the arms' declared parameters explain every aws fact that differs between them
    from loadtrial.analysis import analyze_trial
    from loadtrial.spec import load_trial_file

    findings = analyze_trial(store.load_trial(trial_id), load_trial_file(trial_file).trial)
    flagged = [f.summary for f in findings if f.kind == "confounder" and "aws." in f.summary]
    assert flagged == []
