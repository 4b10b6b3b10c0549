"""The prometheus observer against a real HTTP server exposing Prometheus text."""

from __future__ import annotations

import time
from typing import Any

import pytest
from written import written

from loadtrial.errors import ObserverError
from loadtrial.observe import make_observer, observer_problems
from loadtrial.observe.sampler import Sampler

PAGE = """# TYPE haproxy_backend_current_sessions gauge
haproxy_backend_current_sessions{{proxy="app"}} {sessions}
haproxy_backend_current_sessions{{proxy="stats"}} 1
# TYPE haproxy_backend_limit_sessions gauge
haproxy_backend_limit_sessions{{proxy="app"}} 500
# TYPE haproxy_backend_http_responses_total counter
haproxy_backend_http_responses_total{{proxy="app",code="2xx"}} {ok}
haproxy_backend_http_responses_total{{proxy="app",code="5xx"}} {bad}
process_resident_memory_bytes 1048576
"""


def _entry(url: str) -> dict[str, object]:
    return {
        "kind": "prometheus",
        "url": url,
        "as": "lb",
        "labels": {"proxy": "app"},
        "metrics": [
            {
                "name": "haproxy_backend_current_sessions",
                "as": "sessions.current",
                "capacity": "haproxy_backend_limit_sessions",
            },
            {"name": "haproxy_backend_http_responses_total", "by": "code"},
            {
                "name": "haproxy_backend_http_responses_total",
                "labels": {"code": "5.."},
                "as": "http.5xx_per_s",
            },
            {"name": "process_resident_memory_bytes", "labels": {}},
        ],
    }


def test_gauges_counters_labels_and_capacity(page: Any) -> None:
    entry = dict(_entry(page.url))
    entry["labels"] = {}  # the memory gauge has no proxy label; filter per item instead
    entry["metrics"] = [
        {
            "name": "haproxy_backend_current_sessions",
            "as": "sessions.current",
            "labels": {"proxy": "app"},
            "capacity": "haproxy_backend_limit_sessions",
        },
        {"name": "haproxy_backend_http_responses_total", "by": "code"},
        {
            "name": "haproxy_backend_http_responses_total",
            "labels": {"code": "5.."},
            "as": "http.5xx_per_s",
        },
        "process_resident_memory_bytes",
    ]
    assert observer_problems(written(entry), "observe[0]") == []
    obs = make_observer(entry)
    page.set(PAGE.format(sessions=40, ok=1000, bad=10))
    obs.start()
    first = {s.name: s for s in obs.sample(10.0)}
    assert first["lb.sessions.current"].value == 40.0
    assert first["lb.sessions.current"].capacity == 500.0
    assert first["lb.process_resident_memory_bytes"].unit == "bytes"
    assert not any("per_s" in n for n in first)  # counters need two readings
    page.set(PAGE.format(sessions=480, ok=1600, bad=40))
    second = {s.name: s for s in obs.sample(12.0)}
    assert second["lb.haproxy_backend_http_responses.per_s.2xx"].value == pytest.approx(300.0)
    assert second["lb.haproxy_backend_http_responses.per_s.5xx"].value == pytest.approx(15.0)
    assert second["lb.http.5xx_per_s"].value == pytest.approx(15.0)
    assert second["lb.http.5xx_per_s"].unit == "per_s"
    page.set(PAGE.format(sessions=1, ok=5, bad=0))  # exporter restarted: counters reset
    third = {s.name for s in obs.sample(13.0)}
    assert "lb.http.5xx_per_s" not in third and "lb.sessions.current" in third
    obs.stop()


def test_top_level_label_filter_applies_to_every_metric(page: Any) -> None:
    obs = make_observer(_entry(page.url))
    page.set(PAGE.format(sessions=7, ok=1, bad=1))
    obs.start()
    names = {s.name: s.value for s in obs.sample(0.0)}
    assert names["lb.sessions.current"] == 7.0  # the stats proxy's 1 is filtered out
    assert "lb.process_resident_memory_bytes" not in names  # no proxy label: filtered


def test_an_unreachable_or_failing_endpoint_is_an_observer_error(page: Any) -> None:
    obs = make_observer(_entry(page.url))
    page.set("oops", status=503)
    with pytest.raises(ObserverError, match="HTTP 503"):
        obs.start()
    dead = make_observer(_entry("http://127.0.0.1:9/metrics"))
    with pytest.raises(ObserverError, match="failed"):
        dead.start()


def test_sampler_keeps_scraping_and_reports_fault_and_recovery(page: Any) -> None:
    page.set(PAGE.format(sessions=3, ok=1, bad=1))
    obs = make_observer(_entry(page.url))
    events: list[tuple[float, str, str]] = []
    batches: list[list[object]] = []
    with Sampler(
        [obs],
        t0=time.monotonic(),
        interval_s=0.1,
        on_samples=batches.append,
        on_event=lambda *e: events.append(e),
        max_backoff_s=0.1,
    ):
        _wait_for(lambda: len(batches) >= 2)
        page.set("", status=500)
        _wait_for(lambda: any(k == "observer_fault" for _, k, _ in events))
        page.set(PAGE.format(sessions=3, ok=2, bad=2))
        _wait_for(lambda: any(k == "observer_recovered" for _, k, _ in events))
    kinds = [k for _, k, _ in events]
    assert kinds == ["observer_fault", "observer_recovered"]
    assert "lb (prometheus): GET" in events[0][2]


def test_problems_name_each_mistake() -> None:
    entry = {
        "kind": "prometheus",
        "url": "ftp://x",
        "metrics": [{"name": "x", "labels": {"le": "(("}}, "up"],
        "labels": {"code": "5(("},
    }
    fields = {p.field for p in observer_problems(written(entry), "observe[2]")}
    assert fields == {"observe[2].url", "observe[2].metrics[0].labels.le", "observe[2].labels.code"}
    missing = observer_problems(written({"kind": "prometheus", "url": "http://x/m"}), "observe[0]")
    assert [p.field for p in missing] == ["observe[0].metrics"]


def _wait_for(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)
    assert condition(), "condition not met in time"  # type: ignore[operator]
