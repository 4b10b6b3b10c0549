"""Environment providers: apply an arm's parameters, undo them, read the facts in force.

Door: `Provider` (apply, revert, snapshot) and its data in `env.model`; `make_provider`,
`environment_key` and `provider_problems` below. Each provider is a module
`loadtrial.env.<name>` with

    create(settings: Mapping[str, Any], sink: ActionSink, log: StepLog) -> Provider
    problems(settings: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]) -> list[Problem]
    env_key(settings: Mapping[str, Any]) -> str    # which environment the settings change
    preflight(settings, arms, estimate_s) -> list[Problem]    # optional: checks before a run
    observers(settings) -> list[entry]    # optional: its own `observe:` entries

where `settings` is the trial's `env:` mapping without `provider`, validated by the
provider's model (`env.settings`) and dumped with only the keys the user wrote, and
`problems` checks what that model cannot say and every arm's parameters (field paths like
"env.app.target_group_arn" or "arms.bigger-db.db_cpus"). `log` is the persistent undo
journal: a provider writes each step to it before taking it (with its undo) and settles it
after, and `revert(record)` settles the entries in `record.journal` (see env/journal.py).
`env_key` names the environment, so `run` can refuse one that a killed process left
changed. `observers` is the ability behind `observe: testbed` (a provider whose settings
model declares `own_tiers()`; see env/settings.py for the declarations a provider makes).
Modules are imported only when a trial names them, so a provider's dependencies (boto3,
pgserver) are needed only by the trials that use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pydantic import TypeAdapter

from loadtrial.env.model import Action, ActionSink, ApplyRecord, Facts, Provider, StepLog
from loadtrial.env.settings import EnvSettings
from loadtrial.errors import Problem, UserError

__all__ = [
    "PROVIDERS",
    "Action",
    "ActionSink",
    "ApplyRecord",
    "Facts",
    "Provider",
    "StepLog",
    "environment_key",
    "make_provider",
    "plan_calls",
    "preflight_problems",
    "provider_observers",
    "provider_problems",
]

# name in the trial file -> module under loadtrial.env
PROVIDERS: Mapping[str, str] = {
    "none": "none",
    "shell": "shell",
    "testbed": "testbed",
    "aws": "aws",
}


_SETTINGS: TypeAdapter[EnvSettings] = TypeAdapter(EnvSettings)


def _module(name: str) -> ModuleType:
    if name not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        raise UserError(f"unknown provider {name!r}", hint=f"use one of: {known}")
    return importlib.import_module(f"loadtrial.env.{PROVIDERS[name]}")


def make_provider(
    name: str, settings: Mapping[str, Any], sink: ActionSink, log: StepLog
) -> Provider:
    """Return the provider `name` configured with `settings` (read once into its settings
    model, which its `create` takes); actions go to `sink`, each step is journaled in `log`
    before it is taken."""
    module = _module(name)  # an unknown provider: the door's own message
    model = _SETTINGS.validate_python({**settings, "provider": name})
    provider: Provider = module.create(model, sink, log)
    return provider


def environment_key(name: str, settings: Mapping[str, Any]) -> str:
    """Return the key naming the environment the provider `name` changes with `settings`
    (two trials with the same key change the same things)."""
    key: str = _module(name).env_key(settings)
    return key


def provider_problems(
    name: str, settings: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]
) -> list[Problem]:
    """Return every problem with the provider's settings and the arms' parameters."""
    if name not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        return [Problem("env.provider", f"unknown provider {name!r}", f"use one of: {known}")]
    problems: list[Problem] = _module(name).problems(settings, arms)
    return problems


def plan_calls(name: str, settings: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Return what applying `params` would do, one line per call, without doing it (for
    `--dry-run`); [] when the provider has no `plan_calls(settings, params)` of its own."""
    planner = getattr(_module(name), "plan_calls", None)
    if planner is None:
        return []
    lines: list[str] = planner(settings, params)
    return lines


def preflight_problems(
    name: str,
    settings: Mapping[str, Any],
    arms: Mapping[str, Mapping[str, Any]],
    estimate_s: float,
) -> list[Problem]:
    """Every reason the environment cannot take the arms safely, found before anything is
    changed (a provider without `preflight` has none to find)."""
    check = getattr(_module(name), "preflight", None)
    if check is None:
        return []
    found: list[Problem] = check(settings, arms, estimate_s)
    return found


def provider_observers(name: str, settings: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The provider's own `observe:` entries (`observe: testbed`); raises LoadtrialError when
    it cannot give them now (nothing is up), UserError when it has none to give."""
    give = getattr(_module(name), "observers", None)
    if give is None:
        raise UserError(f"the {name} provider has no observers of its own", hint="list them")
    entries: list[Mapping[str, Any]] = give(settings)
    return entries
