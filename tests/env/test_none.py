"""The none provider: arms as labels, nothing applied, no settings accepted."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from loadtrial.env import make_provider, provider_problems
from loadtrial.env.journal import MemoryLog
from loadtrial.env.settings import NoneEnv


def test_none_applies_nothing_and_has_no_facts() -> None:
    provider = make_provider("none", {}, lambda a: None, MemoryLog())
    record = provider.apply({"version": "v2"})
    assert record.params == {"version": "v2"} and record.actions == ()
    provider.revert(record)
    assert provider.snapshot() == {}


def test_none_refuses_settings() -> None:
    # a setting is refused by the model (env.settings.NoneEnv, extra keys forbidden)
    with pytest.raises(ValidationError, match="apply"):
        NoneEnv.model_validate({"provider": "none", "apply": "x"})
    assert provider_problems("none", {}, {"a": {"anything": 1}}) == []
