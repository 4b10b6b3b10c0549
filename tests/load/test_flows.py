"""User flows on a real server on 127.0.0.1: state per user, extraction, `if:`, models."""

from __future__ import annotations

from dataclasses import replace

import pytest
from shop_target import ShopTarget

from loadtrial.load import run_load, summarize
from loadtrial.load.model import (
    ClosedModel,
    Extract,
    Flow,
    FlowStep,
    LoadPlan,
    OpenModel,
    RequestSpec,
    ResponseChecks,
    Stage,
)
from loadtrial.load.pyflow import load_function

pytestmark = pytest.mark.timeout(60)


def login_flow(shop: ShopTarget, *, login_status: int = 200, think_s: float = 0.0) -> LoadPlan:
    """login (extracts four ways) → me (uses them, after `think_s`) → only-if-login."""
    requests = (
        RequestSpec("f.login", "POST", shop.url + "login", body=b"{}",
                    checks=ResponseChecks(status=(login_status,))),
        RequestSpec("f.me", "GET", shop.url + "me/{{token}}?n={{n}}",
                    (("Authorization", "Bearer {{session}}"),)),
        RequestSpec("f.after", "GET", shop.url + "after/{{token}}"),
    )  # fmt: skip
    extract = (
        Extract("token", "json", "$.token"),
        Extract("n", "regex", r'"n": (\d+)'),
        Extract("session", "header", "X-Session"),
        Extract("sid", "cookie", "sid"),
    )
    steps = (FlowStep(0, extract, think_s=think_s), FlowStep(1), FlowStep(2, if_passed=0))
    return LoadPlan(requests, OpenModel((Stage(1.0, 20),)), flows=(Flow("f", steps),))


def test_each_user_uses_its_own_extracted_values_and_cookies(shop: ShopTarget) -> None:
    s = summarize(run_load(login_flow(shop, think_s=0.01)))
    assert {n: r["completed"] for n, r in s["requests"].items()} == {
        "f.login": 20,
        "f.me": 20,
        "f.after": 20,
    }
    assert s["errors"] == {}
    me = [(p, h) for p, h in shop.gets if p.startswith("/me/")]
    assert len(me) == 20
    for path, headers in me:
        n = path.split("=")[1]  # this user's login was the n-th POST: all four agree
        assert path == f"/me/T{n}?n={n}"
        assert headers["Authorization"] == f"Bearer S{n}"
        assert headers["Cookie"] == f"sid=C{n}"
    logins = [h for p, h, _ in shop.posts if p == "/login"]
    assert all("Cookie" not in h for h in logins)  # a new user starts with an empty jar


def test_a_failed_check_ends_the_iteration_and_if_skips(shop: ShopTarget) -> None:
    s = summarize(run_load(login_flow(shop, login_status=201)))  # login answers 200
    assert s["requests"]["f.login"]["errors"] == {"check:status": 20}
    assert not [p for p in shop.paths if p.startswith(("/me", "/after"))]


def test_a_missing_extract_is_a_check_error(shop: ShopTarget) -> None:
    plan = login_flow(shop)
    flow = plan.flows[0]
    missing = FlowStep(0, (Extract("token", "json", "$.nothing"),))
    plan = LoadPlan(plan.requests, plan.model, flows=(Flow("f", (missing, *flow.steps[1:])),))
    s = summarize(run_load(plan))
    assert s["requests"]["f.login"]["errors"] == {"check:extract:token": 20}
    assert s["requests"]["f.login"]["ok"] == 0


def test_closed_model_users_loop_their_flow(shop: ShopTarget) -> None:
    plan = login_flow(shop)
    plan = LoadPlan(plan.requests, ClosedModel(users=2, duration_s=2.0), flows=plan.flows)
    s = summarize(run_load(plan))
    counts = {n: r["completed"] for n, r in s["requests"].items()}
    # a user looped: more logins than users (hundreds on a quiet machine; a starved one
    # once took a second per iteration, so the bound asks for the loop, not for speed)
    assert counts["f.login"] > 2 and s["errors"] == {}, counts
    # a loop runs every step: at the end at most one iteration per user is cut short
    assert counts["f.login"] - 2 <= counts["f.after"] <= counts["f.login"]


def test_a_python_flow_runs_its_steps_with_their_figures(shop: ShopTarget) -> None:
    plan = login_flow(shop)
    flow = replace(plan.flows[0], python="pyflows_sample:login_twice_then_me")
    s = summarize(run_load(replace(plan, flows=(flow,))))
    counts = {n: r["completed"] for n, r in s["requests"].items()}
    assert counts == {"f.login": 20, "f.me": 40, "f.after": 20} and s["errors"] == {}
    me = sorted(p for p, _ in shop.gets if p.startswith("/me/"))
    assert len(me) == 40 and all(p.endswith(("?n=0", "?n=1")) for p in me)
    assert {p.split("?")[0] for p in me} == {f"/me/T{i}" for i in range(1, 21)}


def test_a_python_flows_exception_is_an_error_of_its_last_step(shop: ShopTarget) -> None:
    plan = login_flow(shop)
    flow = replace(plan.flows[0], python="pyflows_sample:broken")
    s = summarize(run_load(replace(plan, flows=(flow,))))
    assert s["errors"] == {"check:python:LookupError": 20}
    assert s["requests"]["f.login"]["completed"] == 20


@pytest.mark.parametrize(
    ("spec", "says"),
    [("pyflows_sample:not_async", "not an async function"), ("nosuchmodule:f", "No module")],
)
def test_python_flow_functions_are_checked(spec: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        load_function(spec)


def test_users_waiting_for_a_connection_keep_their_place_in_the_flow(shop: ShopTarget) -> None:
    """One connection for many users: a freed connection goes to a queued user's step
    while the user it answered goes on with its own next step (neither is lost)."""
    plan = replace(login_flow(shop), connections=1)  # ~40 ms a response: a queue forms
    s = summarize(run_load(plan))
    counts = {n: r["completed"] for n, r in s["requests"].items()}
    assert counts == {"f.login": 20, "f.me": 20, "f.after": 20}, s["errors"]
