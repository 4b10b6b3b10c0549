"""Observers: samples of every tier of the system under test, on the load's clock.

Door: `Observer` (start, sample, stop) and `Sample` in `observe.model`; `make_observer`
and `observer_problems` below; the `Sampler` (observe.sampler) runs observers beside the
load. Each kind is a module `loadtrial.observe.<module>` with

    create(entry: Mapping[str, Any]) -> Observer
    problems(entry: Mapping[str, Any], path: str) -> list[Problem]

where `entry` is one item of the trial's `observe:` list (keys `kind`, `as`, `interval`
and the kind's own), already `${ENV}`-substituted and validated by its kind's model
(`observe.settings`: types, unknown and required keys), as the dump of that model: only the
keys the user wrote, so `create` applies its own defaults. `path` is its field path such
as "observe[0]"; `problems` reports only what the model cannot say. Modules are imported
only when a trial uses them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pydantic import TypeAdapter

from loadtrial.errors import Problem, UserError
from loadtrial.observe.model import (
    EmitsEvents,
    Observer,
    ObserverEvent,
    Sample,
    SampleFault,
)
from loadtrial.observe.settings import ObserverSettings

__all__ = [
    "OBSERVERS",
    "EmitsEvents",
    "Observer",
    "ObserverEvent",
    "Sample",
    "SampleFault",
    "make_observer",
    "observer_problems",
]

# kind in the trial file -> module under loadtrial.observe
OBSERVERS: Mapping[str, str] = {
    "postgres": "postgres",
    "mysql": "mysql",
    "process": "process",
    "host": "host",
    "prometheus": "prometheus",
    "http-json": "http_json",
    "cloudwatch": "cloudwatch",
}


_SETTINGS: TypeAdapter[ObserverSettings] = TypeAdapter(ObserverSettings)


def _module(kind: str) -> ModuleType:
    if kind not in OBSERVERS:
        known = ", ".join(sorted(OBSERVERS))
        raise UserError(f"unknown observer kind {kind!r}", hint=f"use one of: {known}")
    return importlib.import_module(f"loadtrial.observe.{OBSERVERS[kind]}")


def make_observer(entry: Mapping[str, Any]) -> Observer:
    """Return a configured, not yet started observer for one `observe:` entry (a mapping
    as written: read once into its kind's settings model, which its `create` takes; a
    wrong shape is a ValueError naming the key)."""
    module = _module(str(entry.get("kind", "")))  # an unknown kind: the door's own message
    settings = _SETTINGS.validate_python(dict(entry))
    observer: Observer = module.create(settings)
    return observer


def observer_problems(entry: Mapping[str, Any], path: str) -> list[Problem]:
    """Return every problem with one `observe:` entry."""
    kind = str(entry.get("kind", ""))
    if kind not in OBSERVERS:
        known = ", ".join(sorted(OBSERVERS))
        return [Problem(f"{path}.kind", f"unknown observer kind {kind!r}", f"use one of: {known}")]
    problems: list[Problem] = _module(kind).problems(entry, path)
    return problems
