"""Loading a trial: ${VAR} substitution, the raw text kept, lines, the plan for the engine."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from loadtrial.load.model import ClosedModel, OpenModel
from loadtrial.spec import load_trial_file, parse_trial_text, to_load_plan, trial_json_schema

TEXT = """\
name: env-test
target:
  base_url: http://127.0.0.1:${PORT}
load:
  warmup: 1s
  stages:
    - {rate: 10, duration: 2s}
    - {ramp_to: 50, duration: 500ms}
  requests:
    - {name: home, path: /, weight: 3}
    - {name: order, method: post, path: /orders, json: {sku: "${SKU:-A-1}"}, weight: 1}
    - {path: /raw, method: PUT, body: hello, headers: {X-Token: "${TOKEN}"}}
  timeout: 2s
  connections: 7
arms:
  only: {}
slo: {p99: 250ms, error_rate: 0.5%}
abort:
  - {metric: error_rate, above: 50%, for: 3s}
  - {metric: p99, above: 2s}
pause_between_runs: 1m
"""


def test_env_values_are_used_but_the_raw_text_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(TEXT)
    loaded = load_trial_file(path, env={"PORT": "9999", "TOKEN": "s3cret"})
    assert loaded.trial.target.base_url == "http://127.0.0.1:9999"
    assert loaded.text == TEXT and "s3cret" not in loaded.text
    assert loaded.sha256 == hashlib.sha256(TEXT.encode()).hexdigest()
    assert loaded.lines["load.stages[1]"] == 8 and loaded.lines["slo.p99"] == 17
    t = loaded.trial
    assert t.load.warmup == 1 and t.load.stages[1].duration == 0.5 and t.pause_between_runs == 60
    assert t.slo.p99 == 0.25 and t.slo.error_rate == pytest.approx(0.005)
    assert t.abort[0].above == 0.5 and t.abort[0].for_ == 3 and t.abort[1].above == 2


def test_to_load_plan_builds_urls_bodies_and_allow_list() -> None:
    loaded = parse_trial_text(TEXT, env={"PORT": "9999", "TOKEN": "tok"})
    plan = to_load_plan(loaded.trial, workers=3)
    assert isinstance(plan.model, OpenModel)
    assert [(s.duration_s, s.rate_per_s, s.ramp_to_per_s) for s in plan.model.stages] == [
        (2.0, 10, None),
        (0.5, None, 50),
    ]
    home, order, raw = plan.requests
    assert home.url == "http://127.0.0.1:9999/" and home.weight == 3
    assert order.method == "POST" and json.loads(order.body) == {"sku": "A-1"}
    assert ("Content-Type", "application/json") in order.headers
    assert raw.body == b"hello" and ("X-Token", "tok") in raw.headers and raw.name == "PUT /raw"
    assert plan.workers == 3 and plan.connections == 7 and plan.timeout_s == 2
    assert plan.allow_hosts == ("127.0.0.1", "localhost", "::1")


def test_closed_model_plan() -> None:
    text = TEXT.replace(
        "  stages:\n    - {rate: 10, duration: 2s}\n    - {ramp_to: 50, duration: 500ms}\n",
        "  model: closed\n  users: 4\n  duration: 3s\n  think_time: 100ms\n",
    )
    plan = to_load_plan(parse_trial_text(text, env={"PORT": "1", "TOKEN": "t"}).trial)
    assert plan.model == ClosedModel(users=4, duration_s=3, ramp_up_s=0, think_time_s=0.1)


def test_schema_describes_the_file_fields() -> None:
    schema = trial_json_schema()
    assert set(schema["required"]) == {"name", "target", "load"}
    assert "arms" in schema["properties"] and "expect" in schema["properties"]
    abort = schema["$defs"]["AbortRule"]["properties"]
    assert "for" in abort  # aliases as written in YAML
    assert {"type": "string", "examples": ["30s"]} in schema["$defs"]["StageSpec"]["properties"][
        "duration"
    ]["anyOf"]


def test_the_example_validates() -> None:
    example = Path(__file__).parents[2] / "examples" / "quick-shell.yaml"
    loaded = load_trial_file(example, env={})
    assert len(loaded.trial.arms) == 2


def test_arm_shorthands() -> None:
    base = (
        "name: s\ntarget: {base_url: 'http://127.0.0.1:1'}\n"
        "load: {stages: [{rate: 1, duration: 1s}]}\n"
    )
    assert parse_trial_text(base + "arms: [a, b]\n").trial.arms == {"a": {}, "b": {}}
    assert parse_trial_text(base + "arms:\n  a:\n  b: {n: 1}\n").trial.arms == {
        "a": {},
        "b": {"n": 1},
    }


def test_stored_text_rereads_without_its_secrets() -> None:
    trial = parse_trial_text(TEXT, env={}, check=False).trial
    assert trial.target.base_url == "http://127.0.0.1:" and trial.name == "env-test"
