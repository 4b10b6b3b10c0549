"""Request names in SLOs and claims, and response checks: validated with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtrial.errors import SpecError
from loadtrial.load.model import ResponseChecks
from loadtrial.spec import load_trial_file, parse_trial_text
from loadtrial.spec.convert import to_load_plan

SHOP = """\
name: shop
target:
  base_url: http://127.0.0.1:8080
load:
  stages:
    - {rate: 10, duration: 2s}
  requests:
    - name: browse
      path: /items
    - name: checkout
      method: POST
      path: /checkout
      checks:
        status: [200, "201-204"]
        body_contains: done
        json: {"$.order.id": 7}
        json_exists: ["$.items[0]"]
        header: {Content-Type: application/json}
        header_present: [X-Request-Id]
    - path: /health
arms: [a, b]
"""


def _problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SpecError) as info:
        parse_trial_text(text, "t.yaml", {})
    return [(p.line, p.field, p.render()) for p in info.value.problems]


def test_checks_and_names_reach_the_plan() -> None:
    trial = parse_trial_text(SHOP + "slo: {p99: 300ms, request: checkout}\n", "t.yaml", {}).trial
    plan = to_load_plan(trial)
    assert [r.name for r in plan.requests] == ["browse", "checkout", "GET /health"]
    assert plan.requests[0].checks is None
    assert plan.requests[1].checks == ResponseChecks(
        status=(200, 201, 202, 203, 204),
        body_contains=("done",),
        json_equals=(("$.order.id", 7),),
        json_exists=("$.items[0]",),
        header_equals=(("Content-Type", "application/json"),),
        header_present=("X-Request-Id",),
    )
    assert trial.slo.request == "checkout"


def test_an_unknown_request_in_the_slo_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP + "slo:\n  p99: 300ms\n  request: chekout\n")
    with pytest.raises(SpecError) as info:
        load_trial_file(path)
    rendered = info.value.render()
    assert f"{path}:24: slo.request: unknown request 'chekout'" in rendered
    assert "requests are: browse, checkout, GET /health" in rendered


@pytest.mark.parametrize(
    ("extra", "line", "field", "words"),
    [
        (
            "repeat: 3\nexpect:\n  - {arm: b, vs: a, metric: p99, expect: lower, request: pay}\n",
            24,
            "expect[0].request",
            "unknown request 'pay'",
        ),
        (
            "slo: {p99: 1s}\nexpect:\n  - {arm: b, meets_slo: true, request: checkout}\n",
            24,
            "expect[0].request",
            "follows the slo",
        ),
        (
            "abort:\n  - {metric: error_rate, above: 50%, request: chekout}\n",
            23,
            "abort[0].request",
            "unknown request 'chekout'",
        ),
        (
            "abort:\n  - {metric: db.cpu.util, above: 90%, request: checkout}\n",
            23,
            "abort[0].request",
            "scopes a load metric",
        ),
    ],
)
def test_claims_name_known_requests(extra: str, line: int, field: str, words: str) -> None:
    found = _problems(SHOP + extra)
    assert any(ln == line and f == field and words in r for ln, f, r in found), found


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ('status: [200, "201-204"]', "status: [200, ok]", "status", "not a status code"),
        ('status: [200, "201-204"]', "status: 999", "status", "within 100..599"),
        ('json: {"$.order.id": 7}', 'json: {"order.id": 7}', "json", "must start with $"),
        ('json_exists: ["$.items[0]"]', 'json_exists: ["$.items[x]"]', "json_exists", "expected"),
        ("body_contains: done", "body_regex: '(unclosed'", "body_regex", "not a regular"),
    ],
)
def test_bad_checks_are_located(old: str, new: str, field: str, words: str) -> None:
    found = _problems(SHOP.replace(old, new))
    full = f"load.requests[1].checks.{field}"
    assert any(f == full and words in r and ln is not None for ln, f, r in found), found
