"""The engine against real tiny targets: rate, error kinds, HTTPS, closed model, workers."""

from __future__ import annotations

import multiprocessing
import threading
import time

import pytest

from loadtrial.load import histogram as hdr
from loadtrial.load import run_load, summarize
from loadtrial.load.client import classify
from loadtrial.load.model import ClosedModel, IntervalStats, LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.targets import RunningTarget, TargetConfig, closed_port_url, start_target_thread

pytestmark = pytest.mark.timeout(60)


def open_plan(url: str, rate: float, seconds: float, **kw: object) -> LoadPlan:
    """A one-request constant-rate plan."""
    model = OpenModel((Stage(seconds, rate),))
    return LoadPlan((RequestSpec("r", "GET", url),), model, **kw)  # type: ignore[arg-type]


def test_open_model_rate_and_per_second_counts(fast_target: RunningTarget) -> None:
    seen: list[IntervalStats] = []
    result = run_load(open_plan(fast_target.url, 300, 2.0), on_interval=seen.append)
    s = summarize(result)
    assert s["completed"] == s["ok"] == 600
    assert s["offered_rate_per_s"] == s["achieved_rate_per_s"] == 300
    assert [iv.second for iv in seen] == list(range(len(seen)))
    assert sum(iv.offered for iv in seen[:2]) >= 598  # boundaries may shift one arrival
    assert all(abs(iv.offered - 300) <= 3 for iv in seen[:2])
    assert s["errors"] == {} and s["dropped"] == 0
    merged = hdr.merge(iv.latency_hist for iv in result.intervals)
    assert merged.get_total_count() == 600
    assert 0 < s["latency_ms"]["p50"] < 200


def test_http_errors_are_classified_by_code(fast_target: RunningTarget) -> None:
    plan = LoadPlan(
        (
            RequestSpec("bad", "GET", fast_target.url + "status/500", weight=1),
            RequestSpec("fine", "GET", fast_target.url, weight=1),
        ),
        open_plan(fast_target.url, 200, 1.0).model,
    )
    s = summarize(run_load(plan))
    assert s["completed"] == 200
    assert set(s["errors"]) == {"http_500"}
    assert 60 < s["errors"]["http_500"] < 140  # the weighted mix: about half
    assert s["ok"] + s["errors"]["http_500"] == 200


def test_refused_reset_and_timeout() -> None:
    refused = summarize(run_load(open_plan(closed_port_url(), 50, 1.0)))
    assert refused["errors"] == {"connect_refused": 50} and refused["ok"] == 0
    with start_target_thread(TargetConfig("reset")) as target:
        reset = summarize(run_load(open_plan(target.url, 50, 1.0)))
    assert reset["errors"].get("reset", 0) >= 45 and reset["ok"] == 0
    with start_target_thread(TargetConfig("delay", delay_s=5.0)) as target:
        slow = summarize(run_load(open_plan(target.url, 20, 1.0, timeout_s=0.3)))
    assert slow["errors"] == {"timeout": 20}


def test_classify_transport_exceptions() -> None:
    import socket
    import ssl

    assert classify(socket.gaierror(-2, "Name or service not known")) == "dns"
    assert classify(ssl.SSLCertVerificationError("bad cert")) == "tls"
    assert classify(ConnectionRefusedError()) == "connect_refused"
    assert classify(None) == "reset"
    assert classify(ValueError("x")) == "other"


def test_closed_model_users_and_think_time(fast_target: RunningTarget) -> None:
    plan = LoadPlan(
        (RequestSpec("r", "GET", fast_target.url),),
        ClosedModel(users=4, duration_s=1.0, think_time_s=0.05),
        connections=4,
    )
    s = summarize(run_load(plan))
    # 4 users, each at most one request per 50 ms of think time: ≤ 4 · 21 in 1 s
    assert 20 < s["completed"] <= 4 * 21
    assert s["errors"] == {} and s["model"] == "closed"


def test_connection_cap_queues_and_counts_late() -> None:
    with start_target_thread(TargetConfig("delay", delay_s=0.1)) as target:
        plan = open_plan(target.url, 100, 1.0, connections=2, timeout_s=0.5)
        result = run_load(plan)
    s = summarize(result)
    # 2 connections × 10 req/s each cannot carry 100/s: the rest wait (late) or, past their
    # deadline, time out while waiting: the target's failure, counted and timed, not dropped
    assert s["late"] >= 10 and s["errors"]["timeout"] >= 30 and s["dropped"] == 0
    assert s["ok"] + s["errors"]["timeout"] == s["completed"] == 100
    assert s["latency_ms"]["p99"] > 2 * s["uncorrected_latency_ms"]["p99"]
    assert hdr.merge(iv.latency_hist for iv in result.intervals).get_total_count() == 100
    assert not any("overflow" in r or "dropped" in r for r in s["invalid_reasons"])


def test_two_worker_processes_merge_exactly(fast_target: RunningTarget) -> None:
    result = run_load(open_plan(fast_target.url, 400, 2.0, workers=2))
    s = summarize(result)
    assert s["completed"] == s["ok"] == 800
    assert s["offered_rate_per_s"] == 400
    assert hdr.merge(iv.latency_hist for iv in result.intervals).get_total_count() == 800
    assert all(iv.cpu_percent >= 0 for iv in result.intervals)


def test_one_worker_in_its_own_process_when_asked(fast_target: RunningTarget) -> None:
    seen: list[tuple[bool, int]] = []

    def on_interval(iv: IntervalStats) -> None:
        engine_thread = any(t.name == "loadtrial-engine" for t in threading.enumerate())
        seen.append((engine_thread, len(multiprocessing.active_children())))

    result = run_load(open_plan(fast_target.url, 200, 2.0), on_interval=on_interval, processes=True)
    assert summarize(result)["ok"] == 400
    assert seen and all(not thread and children >= 1 for thread, children in seen[:2])


def test_stop_event_ends_the_run_and_keeps_the_data(fast_target: RunningTarget) -> None:
    stop = threading.Event()

    def on_interval(iv: IntervalStats) -> None:
        if iv.second >= 0:
            stop.set()

    started = time.monotonic()
    result = run_load(open_plan(fast_target.url, 100, 60.0), on_interval=on_interval, stop=stop)
    assert result.interrupted
    assert time.monotonic() - started < 20
    assert 1.0 <= result.duration_s < 10
    assert sum(iv.completed for iv in result.intervals) >= 100


def test_allow_list_is_enforced_before_any_packet() -> None:
    from loadtrial.errors import TargetError

    plan = open_plan("http://10.255.255.1:9/", 10, 1.0, allow_hosts=("127.0.0.1",))
    with pytest.raises(TargetError, match=r"10\.255\.255\.1 is not this machine"):
        run_load(plan)


def test_a_malformed_response_is_an_error_of_its_request_not_the_end_of_the_run() -> None:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    done = threading.Event()

    def serve() -> None:  # answers every request with bytes that are not HTTP
        listener.settimeout(0.1)
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                if conn.recv(4096):
                    conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        s = summarize(run_load(open_plan(f"http://127.0.0.1:{port}/", 20, 1.0, connections=1)))
    finally:
        done.set()
        thread.join(timeout=5)
        listener.close()
    assert s["errors"] == {"other": 20} and s["ok"] == 0 and s["completed"] == 20


def test_one_worker_runs_in_the_callers_thread(fast_target: RunningTarget) -> None:
    import asyncio

    caller = threading.get_ident()
    seen: list[tuple[int, bool]] = []

    def on_interval(iv: IntervalStats) -> None:
        try:
            asyncio.get_running_loop()  # the engine's own loop runs in this very thread
            inside = True
        except RuntimeError:
            inside = False
        seen.append((threading.get_ident(), inside))

    result = run_load(open_plan(fast_target.url, 200, 2.0), on_interval=on_interval)
    assert summarize(result)["ok"] == 400
    assert seen and all(ident == caller and inside for ident, inside in seen)
    assert not any(t.name == "loadtrial-engine" for t in threading.enumerate())


def test_an_error_in_on_interval_stops_the_run_and_is_raised(fast_target: RunningTarget) -> None:
    def on_interval(iv: IntervalStats) -> None:
        raise ValueError("the store is full")

    started = time.monotonic()
    with pytest.raises(ValueError, match="store is full"):
        run_load(open_plan(fast_target.url, 100, 60.0), on_interval=on_interval)
    assert time.monotonic() - started < 10
