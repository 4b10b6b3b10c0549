"""The none provider: arms as labels, nothing applied, no settings accepted."""

from __future__ import annotations

from loadtrial.env import make_provider, provider_problems
from loadtrial.env.journal import MemoryLog


def test_none_applies_nothing_and_has_no_facts() -> None:
    provider = make_provider("none", {}, lambda a: None, MemoryLog())
    record = provider.apply({"version": "v2"})
    assert record.params == {"version": "v2"} and record.actions == ()
    provider.revert(record)
    assert provider.snapshot() == {}


def test_none_refuses_settings() -> None:
    found = provider_problems("none", {"apply": "x"}, {"a": {}})
    assert [p.field for p in found] == ["env.apply"]
    assert provider_problems("none", {}, {"a": {"anything": 1}}) == []
