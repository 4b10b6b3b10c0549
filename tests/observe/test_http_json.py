"""The http-json observer against a real HTTP server answering JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from written import written

from loadtrial.errors import ObserverError
from loadtrial.observe import make_observer, observer_problems
from loadtrial.observe.http_json import pick


def test_pick_walks_objects_and_lists() -> None:
    doc = {"pool": {"active": 3, "size": 20, "ok": True}, "workers": [{"busy": 1}, {"busy": 4}]}
    assert pick(doc, "pool.active") == 3.0
    assert pick(doc, "pool.ok") == 1.0
    assert pick(doc, "workers.1.busy") == 4.0
    assert pick(doc, "workers.-1.busy") == 4.0
    assert pick(doc, "workers.5.busy") is None
    assert pick(doc, "pool.missing") is None
    assert pick(doc, "pool") is None  # not a number


def test_fields_capacity_and_rates(page: Any) -> None:
    entry = {
        "kind": "http-json",
        "url": page.url,
        "as": "app",
        "fields": [
            {"path": "pool.active", "as": "pool.active", "capacity_path": "pool.size"},
            {"path": "requests", "as": "requests.per_s", "rate": True},
            {"path": "nowhere.to.be.found"},
        ],
    }
    assert observer_problems(written(entry), "observe[0]") == []
    obs = make_observer(entry)
    page.content_type = "application/json"
    page.set(json.dumps({"pool": {"active": 5, "size": 20}, "requests": 100}))
    obs.start()
    first = {s.name: s for s in obs.sample(1.0)}
    assert first["app.pool.active"].value == 5.0 and first["app.pool.active"].capacity == 20.0
    assert set(first) == {"app.pool.active"}
    page.set(json.dumps({"pool": {"active": 19, "size": 20}, "requests": 400}))
    second = {s.name: s for s in obs.sample(2.0)}
    assert second["app.requests.per_s"].value == pytest.approx(300.0)
    assert second["app.requests.per_s"].unit == "per_s"
    page.set("<html>not json</html>")
    with pytest.raises(ObserverError, match="did not return JSON"):
        obs.sample(3.0)


def test_problems() -> None:
    # the shape (unknown keys, types) is the model's: tests/observe/test_observe_settings.py
    found = observer_problems(written({"kind": "http-json", "url": "file:///s"}), "observe[3]")
    assert {p.field for p in found} == {"observe[3].url", "observe[3].fields"}
