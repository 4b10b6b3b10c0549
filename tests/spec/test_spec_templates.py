"""Templates and data files in a trial file: resolved paths, problems with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtrial.errors import SpecError
from loadtrial.load.model import DataSource, Extract
from loadtrial.spec import load_trial_file, parse_trial_text
from loadtrial.spec.convert import to_load_plan

TRIAL = """\
name: shop
target:
  base_url: http://127.0.0.1:8080
load:
  stages:
    - {rate: 10, duration: 2s}
  data:
    users: {csv: users.csv, pick: unique}
  requests:
    - name: login
      method: POST
      path: /login
      json: {user: "{{users.email}}", password: "{{users.password}}"}
      headers:
        X-Key: "{{env.LT_KEY}}"
    - path: /products/{{random_int(1, 10000)}}
"""


def test_data_paths_resolve_against_the_trial_file_and_env_stays_a_template(
    tmp_path: Path,
) -> None:
    (tmp_path / "users.csv").write_text("email,password\na@x,pa\n")
    (tmp_path / "t.yaml").write_text(TRIAL)
    loaded = load_trial_file(tmp_path / "t.yaml", env={})
    plan = to_load_plan(loaded.trial)
    assert plan.data == (DataSource("users", str(tmp_path / "users.csv"), "unique"),)
    login = plan.requests[0]
    assert dict(login.headers)["X-Key"] == "{{env.LT_KEY}}"  # the value is read by the engine
    assert b'"{{users.email}}"' in login.body
    assert "{{env.LT_KEY}}" in loaded.text


@pytest.mark.parametrize(
    ("edit", "line", "field", "says"),
    [
        (("/products/{{random_int(1, 10000)}}", "/products/{{rand(1)}}"), 16,
         "load.requests[1].path", "is not a template"),
        (("/products/{{random_int(1, 10000)}}", "/cart/{{cart_id}}"), 16,
         "load.requests[1].path", "unknown variable {{cart_id}}"),
        (('"{{env.LT_KEY}}"', '"{{users.nick}}"'), 15,
         "load.requests[0].headers.X-Key", "no column 'nick'"),
        (("{{users.email}}", "{{people.email}}"), 13, "load.requests[0].json", "unknown data set"),
    ],
)  # fmt: skip
def test_bad_templates_are_reported_with_file_and_line(
    tmp_path: Path, edit: tuple[str, str], line: int, field: str, says: str
) -> None:
    (tmp_path / "users.csv").write_text("email,password\na@x,pa\n")
    (tmp_path / "t.yaml").write_text(TRIAL.replace(*edit))
    with pytest.raises(SpecError) as info:
        load_trial_file(tmp_path / "t.yaml", env={})
    found = [(p.line, p.field, p.message) for p in info.value.problems]
    assert any(ln == line and f == field and says in m for ln, f, m in found), found
    assert all(p.file == str(tmp_path / "t.yaml") for p in info.value.problems)


def test_a_missing_data_file_is_reported_on_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(TRIAL)
    with pytest.raises(SpecError) as info:
        load_trial_file(tmp_path / "t.yaml", env={})
    (problem,) = info.value.problems
    assert (problem.line, problem.field) == (8, "load.data.users.csv")
    assert "no such file" in problem.message and str(tmp_path / "users.csv") in problem.message


def test_a_data_file_beside_the_trial_is_found_when_another_field_is_wrong(
    tmp_path: Path,
) -> None:
    (tmp_path / "users.csv").write_text("email,password\na@x,pw\n")
    (tmp_path / "t.yaml").write_text(TRIAL + "bogus: 1\n")
    with pytest.raises(SpecError) as info:
        load_trial_file(tmp_path / "t.yaml", env={})
    assert [p.field for p in info.value.problems] == ["bogus"]  # not also users.csv


FLOW = """\
name: flow
target:
  base_url: http://127.0.0.1:8080
load:
  stages:
    - {rate: 10, duration: 2s}
  flows:
    - name: shop
      weight: 2
      steps:
        - name: login
          method: POST
          path: /login
          extract: {token: {json: $.token}, sid: {cookie: sid}}
        - name: cart
          path: /cart/{{token}}
          if: login
          think: 50ms
"""


def test_flows_reach_the_plan_as_named_steps() -> None:
    plan = to_load_plan(parse_trial_text(FLOW, "f.yaml", {}).trial)
    assert [r.name for r in plan.requests] == ["shop.login", "shop.cart"]
    (flow,) = plan.flows
    assert (flow.name, flow.weight) == ("shop", 2)
    login, cart = flow.steps
    assert login.extract == (Extract("token", "json", "$.token"), Extract("sid", "cookie", "sid"))
    assert (cart.req, cart.if_passed, cart.think_s) == (1, 0, 0.05)


@pytest.mark.parametrize(
    ("edit", "line", "field", "says"),
    [
        (("if: login", "if: nope"), 17, "load.flows[0].steps[1].if", "no earlier step"),
        (("/cart/{{token}}", "/cart/{{cart_id}}"), 16, "load.flows[0].steps[1].path",
         "unknown variable {{cart_id}} (known: sid, token)"),
        (("json: $.token}", "json: token}"), 14, "load.flows[0].steps[0].extract.token",
         "must start with $"),
        (("  flows:", "  requests: [{path: /}]\n  flows:"), 7, "load.requests",
         "both requests and flows"),
        (("      weight: 2", "      weight: 2\n      python: nosuchmodule:f"), 10,
         "load.flows[0].python", "No module named 'nosuchmodule'"),
    ],
)  # fmt: skip
def test_bad_flows_are_reported_with_file_and_line(
    edit: tuple[str, str], line: int, field: str, says: str
) -> None:
    with pytest.raises(SpecError) as info:
        parse_trial_text(FLOW.replace(*edit), "f.yaml", {})
    found = [(p.line, p.field, p.message) for p in info.value.problems]
    assert any(ln == line and f == field and says in m for ln, f, m in found), found


def test_an_unset_env_value_is_noted_not_refused() -> None:
    text = (
        "name: t\ntarget: {base_url: 'http://127.0.0.1:8080'}\n"
        "load:\n  stages: [{rate: 5, duration: 2s}]\n"
        "  requests: [{path: /x, headers: {X-Key: '{{env.LT_KEY}}'}}]\n"
    )
    unset = parse_trial_text(text, "t.yaml", {}).notes
    assert any("LT_KEY is not set here" in n for n in unset), unset
    assert not any("LT_KEY" in n for n in parse_trial_text(text, "t.yaml", {"LT_KEY": "k"}).notes)
