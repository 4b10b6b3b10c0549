"""The Prometheus text parser reads what real exporters write and skips what it cannot."""

from __future__ import annotations

import math

from loadtrial.observe.promtext import parse, parse_line

EXPOSITION = r"""
# HELP haproxy_backend_current_sessions Current number of active sessions.
# TYPE haproxy_backend_current_sessions gauge
haproxy_backend_current_sessions{proxy="app"} 42
haproxy_backend_current_sessions{proxy="stats"} 1
# TYPE http_requests_total counter
http_requests_total{code="200",path="/a \"quoted\", {braced}"} 1027 1395066363000
http_requests_total{code="502"} 3
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.99"} NaN
rpc_seconds_count 17
up +Inf
this line is not a metric
"""


def test_parses_names_labels_values_and_types() -> None:
    page = parse(EXPOSITION)
    names = [m.name for m in page.metrics]
    assert names.count("haproxy_backend_current_sessions") == 2
    first = page.metrics[0]
    assert first.label_map() == {"proxy": "app"} and first.value == 42.0
    tricky = next(m for m in page.metrics if m.value == 1027.0)
    assert tricky.label_map()["path"] == '/a "quoted", {braced}'
    assert page.types["http_requests_total"] == "counter"
    assert page.types["rpc_seconds"] == "summary"
    assert math.isnan(next(m.value for m in page.metrics if m.name == "rpc_seconds"))
    assert next(m.value for m in page.metrics if m.name == "up") == math.inf
    assert page.skipped == 1


def test_malformed_lines_give_none() -> None:
    assert parse_line('x{a="1"') is None
    assert parse_line("x{a=1} 2") is None
    assert parse_line("x") is None
    assert parse_line("x abc") is None
    ok = parse_line('x{a="1",} 2.5e3')
    assert ok is not None and ok.value == 2500.0 and ok.labels == (("a", "1"),)
