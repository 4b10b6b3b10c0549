"""Per-request figures, response checks and percent-encoded paths, against real servers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from shop_target import ShopTarget

from loadtrial.load import histogram as hdr
from loadtrial.load import run_load, summarize
from loadtrial.load.checks import compile_checks, parse_path
from loadtrial.load.client import Conn, conn_class
from loadtrial.load.model import (
    ClosedModel,
    IntervalStats,
    LoadPlan,
    OpenModel,
    RequestSpec,
    ResponseChecks,
    Stage,
)
from loadtrial.load.recorder import merge_intervals
from loadtrial.load.transport import Tick, decode, encode
from loadtrial.load.wire import percent_encode
from loadtrial.targets import RunningTarget

pytestmark = pytest.mark.timeout(60)


def plan_of(*requests: RequestSpec, rate: float = 200, seconds: float = 1.0, **kw: object):  # type: ignore[no-untyped-def]
    # these tests judge which errors a response makes; a 5 s client timeout is a timing
    # assumption that a starved machine broke once (a `timeout` beside the check errors
    # while the other worker ran a testbed story): 30 s is generous and still bounded
    kw.setdefault("timeout_s", 30.0)
    return LoadPlan(requests, OpenModel((Stage(seconds, rate),)), **kw)  # type: ignore[arg-type]


def by_request(intervals: tuple[IntervalStats, ...], name: str) -> IntervalStats:
    return merge_intervals(0, [iv.requests[name] for iv in intervals if name in iv.requests])


def test_per_request_figures_merged_over_two_workers_sum_to_the_whole(
    fast_target: RunningTarget,
) -> None:
    plan = plan_of(
        RequestSpec("home", "GET", fast_target.url, weight=2),
        RequestSpec("broken", "GET", fast_target.url + "status/503"),
        rate=300,
        workers=2,
    )
    result = run_load(plan)
    home, broken = by_request(result.intervals, "home"), by_request(result.intervals, "broken")
    whole = merge_intervals(0, list(result.intervals))
    assert home.completed + broken.completed == whole.completed == 300
    assert home.sent + broken.sent == whole.sent
    assert home.ok == whole.ok and broken.ok == 0
    assert home.errors == {} and broken.errors == {"http_503": broken.completed}
    assert 150 < home.completed < 250  # weight 2 of 3
    counts = [hdr.decode(s.latency_hist).get_total_count() for s in (home, broken, whole)]
    assert counts[0] + counts[1] == counts[2] == 300
    # every second: the parts add up to that second, histogram counts included
    for iv in result.intervals:
        parts = list(iv.requests.values())
        assert sum(p.completed for p in parts) == iv.completed
        total = sum(hdr.decode(p.latency_hist).get_total_count() for p in parts)
        assert total == hdr.decode(iv.latency_hist).get_total_count()
    s = summarize(result)
    assert s["requests"]["home"]["completed"] == home.completed
    assert s["requests"]["broken"]["errors"] == {"http_503": broken.completed}


def test_one_request_name_records_no_parts(fast_target: RunningTarget) -> None:
    result = run_load(plan_of(RequestSpec("only", "GET", fast_target.url), rate=50))
    assert all(iv.requests == {} for iv in result.intervals)
    assert summarize(result)["requests"]["only"]["completed"] == 50


def test_a_wrong_body_fails_its_check_and_only_its_request(shop: ShopTarget) -> None:
    want_nope = ResponseChecks(body_contains=("nope",))
    plan = plan_of(
        RequestSpec("checked", "GET", shop.url + "page", checks=want_nope),
        RequestSpec("plain", "GET", shop.url + "other"),
        rate=100,
    )
    s = summarize(run_load(plan))
    checked, plain = s["requests"]["checked"], s["requests"]["plain"]
    assert checked["errors"] == {"check:body_contains": checked["completed"]}
    assert checked["ok"] == 0 and plain["errors"] == {} and plain["ok"] == plain["completed"]
    assert s["errors"] == checked["errors"] and s["ok"] == plain["ok"]


def test_json_header_and_status_checks_pass_and_fail(shop: ShopTarget) -> None:
    good = ResponseChecks(
        status=(200,),
        json_equals=(("$.items[0].id", 7),),
        json_exists=("$.items[0].name",),
        header_equals=(("x-shop", "yes"),),
        header_present=("Content-Length",),
    )
    plan = plan_of(
        RequestSpec("good", "GET", shop.url + "item", checks=good),
        RequestSpec("bad_id", "GET", shop.url + "item",
                    checks=ResponseChecks(json_equals=(("$.items[0].id", 8),))),
        RequestSpec("bad_header", "GET", shop.url + "item",
                    checks=ResponseChecks(header_equals=(("X-Shop", "no"),))),
        RequestSpec("bad_status", "GET", shop.url + "item", checks=ResponseChecks(status=(201,))),
        rate=200,
    )  # fmt: skip
    per = summarize(run_load(plan))["requests"]
    assert per["good"]["ok"] == per["good"]["completed"] > 0 and per["good"]["errors"] == {}
    assert set(per["bad_id"]["errors"]) == {"check:json:$.items[0].id"}
    assert set(per["bad_header"]["errors"]) == {"check:header:X-Shop"}
    assert set(per["bad_status"]["errors"]) == {"check:status"}


def test_an_expected_error_status_counts_as_ok(fast_target: RunningTarget) -> None:
    gone = ResponseChecks(status=tuple(range(400, 500)))
    plan = plan_of(RequestSpec("gone", "GET", fast_target.url + "status/404", checks=gone), rate=50)
    s = summarize(run_load(plan))
    assert s["ok"] == s["completed"] == 50 and s["errors"] == {}


def test_paths_are_percent_encoded_on_the_wire(shop: ShopTarget) -> None:
    plan = plan_of(RequestSpec("spaced", "GET", shop.url + "a b/ü?q=x y&r=%20"), rate=20)
    s = summarize(run_load(plan))
    assert s["ok"] == 20
    assert set(shop.paths) == {"/a%20b/%C3%BC?q=x%20y&r=%20"}


def test_percent_encode_keeps_escapes_and_encodes_the_rest() -> None:
    assert percent_encode("/a b") == "/a%20b"
    assert percent_encode("/a%20b") == "/a%20b"  # already encoded: unchanged
    assert percent_encode(percent_encode("/x y%")) == "/x%20y%25"
    assert percent_encode("/p?a=1&b=[2]") == "/p?a=1&b=%5B2%5D"


def test_checker_verdicts() -> None:
    c = compile_checks(ResponseChecks(body_regex=(r"id=\d+",)))
    assert c.verdict(200, {}, b"id=12") is None  # passed: the status alone said ok
    assert c.verdict(200, {}, b"id=x") == "check:body_regex"
    assert c.verdict(500, {}, b"id=x") is None  # no status check: http_500 stands
    expect_404 = compile_checks(ResponseChecks(status=(404,)))
    assert expect_404.verdict(404, {}, b"") == ""  # ok, against its status
    assert expect_404.verdict(200, {}, b"") == "check:status"
    not_json = compile_checks(ResponseChecks(json_exists=("$.a",)))
    assert not_json.verdict(200, {}, b"<html>") == "check:json:$.a"


def test_json_paths_subset() -> None:
    assert parse_path("$.items[0].id") == ("items", 0, "id")
    assert parse_path("$") == ()
    for bad in ("items", "$.a[x]", "$..a", "$['a']"):
        with pytest.raises(ValueError):
            parse_path(bad)


def test_per_request_parts_cross_the_worker_transport_intact() -> None:
    """Workers and Ray actors send seconds as JSON Ticks: the parts must survive."""
    hist = hdr.encode(hdr.from_values_us([1000, 2000]))
    part = IntervalStats(3, 2, 2, 2, 1, errors={"check:status": 1}, latency_hist=hist,
                         uncorrected_hist=hist)  # fmt: skip
    whole = merge_intervals(3, [part, part])
    tick = Tick(1, replace(whole, requests={"a": part, "b": part}))
    assert decode(encode(tick)) == tick


def test_closed_model_chained_sends_keep_each_response_with_its_request(
    fast_target: RunningTarget,
) -> None:
    """Without think time a response's connection carries the user's next request at once
    (the chained path): that request's outcome must land on its own name."""
    plan = LoadPlan(
        (
            RequestSpec("fine", "GET", fast_target.url),
            RequestSpec("broken", "GET", fast_target.url + "status/502"),
            RequestSpec("checked", "GET", fast_target.url,
                        checks=ResponseChecks(body_contains=("nope",))),
        ),
        ClosedModel(users=4, duration_s=1.0),
    )  # fmt: skip
    per = summarize(run_load(plan))["requests"]
    assert per["fine"]["errors"] == {} and per["fine"]["ok"] == per["fine"]["completed"] > 50
    assert per["broken"]["errors"] == {"http_502": per["broken"]["completed"]}
    assert per["checked"]["errors"] == {"check:body_contains": per["checked"]["completed"]}


def test_responses_are_read_only_as_far_as_checks_need() -> None:
    """Without checks the plain connection runs; with checks, the parser callbacks for
    headers and body exist only when some check reads them (httptools calls each one)."""
    assert conn_class(body=False, headers=False, checks=False) is Conn
    status_only = conn_class(body=False, headers=False, checks=True)
    assert not hasattr(status_only, "on_body") and not hasattr(status_only, "on_header")
    body_only = conn_class(body=True, headers=False, checks=True)
    assert hasattr(body_only, "on_body") and not hasattr(body_only, "on_header")
    both = conn_class(body=True, headers=True, checks=True)
    assert hasattr(both, "on_body") and hasattr(both, "on_header")
