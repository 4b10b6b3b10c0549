"""The shell provider: templated apply/revert commands, facts, timeouts, the journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtrial.env import make_provider, plan_calls, provider_problems
from loadtrial.env.journal import MemoryLog
from loadtrial.env.model import Action
from loadtrial.errors import ProviderError


def _settings(tmp_path: Path) -> dict[str, object]:
    return {
        "apply": "echo {delay_ms} > delay && echo $LT_DELAY_MS > env_copy",
        "revert": "rm -f delay",
        "facts": {"server.delay": "cat delay 2>/dev/null || echo none", "fails": "exit 3"},
        "timeout": "5s",
        "cwd": str(tmp_path),
    }


def test_apply_snapshot_revert_are_journalled(tmp_path: Path) -> None:
    journal: list[Action] = []
    provider = make_provider("shell", _settings(tmp_path), journal.append, MemoryLog())
    record = provider.apply({"delay_ms": 40})
    assert (tmp_path / "delay").read_text().strip() == "40"
    assert (tmp_path / "env_copy").read_text().strip() == "40"
    facts = provider.snapshot()
    assert facts["server.delay"] == "40"
    assert facts["fails"].startswith("<error: exit status 3")
    provider.revert(record)
    assert not (tmp_path / "delay").exists()
    assert provider.snapshot()["server.delay"] == "none"
    names = [(a.name.split(":")[0], a.status) for a in journal]
    assert names[0] == ("apply", "ok") and ("revert", "ok") in names
    assert ("fact fails", "failed") in names
    assert journal[0].detail["exit_code"] == 0 and journal[0].ended_at >= journal[0].started_at


def test_values_are_shell_quoted(tmp_path: Path) -> None:
    provider = make_provider("shell", _settings(tmp_path), lambda a: None, MemoryLog())
    provider.apply({"delay_ms": "1; touch pwned"})
    assert (tmp_path / "delay").read_text().strip() == "1; touch pwned"
    assert not (tmp_path / "pwned").exists()


def test_failed_apply_reverts_then_raises(tmp_path: Path) -> None:
    journal: list[Action] = []
    settings = {**_settings(tmp_path), "apply": ["touch applied", "exit 7"], "revert": "rm applied"}
    provider = make_provider("shell", settings, journal.append, MemoryLog())
    with pytest.raises(ProviderError, match="exit status 7"):
        provider.apply({})
    assert not (tmp_path / "applied").exists()
    assert [a.status for a in journal] == ["ok", "failed", "ok"]


def test_timeout_kills_the_command(tmp_path: Path) -> None:
    journal: list[Action] = []
    settings = {**_settings(tmp_path), "apply": "sleep 30", "timeout": "0.3s", "revert": []}
    provider = make_provider("shell", settings, journal.append, MemoryLog())
    with pytest.raises(ProviderError, match="timed out"):
        provider.apply({})
    assert journal[0].ended_at - journal[0].started_at < 20


def test_arm_may_override_commands(tmp_path: Path) -> None:
    provider = make_provider("shell", _settings(tmp_path), lambda a: None, MemoryLog())
    record = provider.apply({"apply": "touch special", "revert": "rm special"})
    assert (tmp_path / "special").exists() and not (tmp_path / "delay").exists()
    provider.revert(record)
    assert not (tmp_path / "special").exists()


@pytest.mark.parametrize(
    ("settings", "arms", "field", "words"),
    [
        ({"apply": "echo {n}"}, {"a": {"m": 1}}, "arms.a", "uses {n} but arm 'a' does not set it"),
        ({"revert": "echo {n"}, {"a": {}}, "arms.a", "unbalanced brace"),
        ({}, {"a": {"apply": 5}}, "arms.a.apply", "expected a command"),
    ],
)
def test_problems(
    settings: dict[str, object], arms: dict[str, dict[str, object]], field: str, words: str
) -> None:
    found = provider_problems("shell", settings, arms)
    assert any(p.field == field and words in p.message for p in found), found


def test_good_settings_have_no_problems(tmp_path: Path) -> None:
    assert provider_problems("shell", _settings(tmp_path), {"a": {"delay_ms": 1}}) == []


def test_dry_run_lists_the_filled_in_commands_and_runs_none(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    settings = {"apply": [f"touch {marker}", "echo {delay}"], "revert": "echo undo {delay}"}
    calls = plan_calls("shell", settings, {"delay": "a b"})
    assert calls == [f"apply: touch {marker}", "apply: echo 'a b'", "revert: echo undo 'a b'"]
    assert plan_calls("shell", settings, {"delay": 1, "revert": "true"})[-1] == "revert: true"
    assert not marker.exists()


def test_create_takes_the_model_whose_defaults_apply() -> None:
    """The door reads `env:` once into ShellEnv; its defaults (a 60 s command timeout) are
    the model's, shown by the schema, and a key the model does not know is refused."""
    from pydantic import ValidationError

    from loadtrial.env import make_provider
    from loadtrial.env.journal import MemoryLog
    from loadtrial.env.settings import ShellEnv
    from loadtrial.env.shell import parse_settings

    assert ShellEnv.model_json_schema()["properties"]["timeout"]["default"] == 60.0
    assert parse_settings(ShellEnv(provider="shell", apply="true")).timeout_s == 60.0
    provider = make_provider("shell", {"facts": {"x": "echo 1"}}, lambda a: None, MemoryLog())
    assert provider.snapshot()["x"] == "1"
    with pytest.raises(ValidationError, match="no_such_key"):
        make_provider("shell", {"no_such_key": 1}, lambda a: None, MemoryLog())
