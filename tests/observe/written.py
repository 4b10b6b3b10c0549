"""`written(entry)`: an `observe:` entry as the spec hands it to the observers' door —
validated by its model (observe.settings) and dumped with only the keys the user wrote."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from loadtrial.observe.settings import ObserverSettings


def written(entry: dict[str, Any]) -> dict[str, Any]:
    """Validate `entry` as its kind's model; return its dump (aliases as keys)."""
    settings = TypeAdapter(ObserverSettings).validate_python(entry)
    dumped: dict[str, Any] = settings.model_dump(by_alias=True)
    return dumped
