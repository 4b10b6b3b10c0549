"""The `none` provider: arms are labels only; nothing is applied, reverted or read.

In: no settings. Out: an ApplyRecord with the arm's parameters and no actions, and empty
facts (loadtrial's own facts — version, host, file hash, target IPs — are still taken by
the runner). Useful for comparing code versions deployed by hand, or a single-arm trial.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loadtrial.env.model import ActionSink, ApplyRecord, Facts, Provider, StepLog
from loadtrial.env.settings import NoneEnv
from loadtrial.errors import Problem


class NoneProvider:
    """Applies nothing; its snapshot is empty."""

    def apply(self, params: Mapping[str, Any]) -> ApplyRecord:
        """Return a record of `params` without touching anything."""
        return ApplyRecord(params=dict(params))

    def revert(self, record: ApplyRecord) -> None:
        """Nothing to undo."""

    def snapshot(self) -> Facts:
        """No facts of its own."""
        return {}


def create(settings: NoneEnv, sink: ActionSink, log: StepLog) -> Provider:
    """Return the none provider (settings, sink and log unused: it changes nothing)."""
    return NoneProvider()


def env_key(settings: Mapping[str, Any]) -> str:
    """The none provider changes nothing, so every trial of it shares one key."""
    return "none"


def problems(settings: Mapping[str, Any], arms: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """Any arm parameters are accepted as labels (that it takes no settings is said by
    its model, `env.settings.NoneEnv`)."""
    return []
