"""Snapshots: the facts in force before and after each run, and what changed between them.

In: the provider's facts and the loaded trial. Out: one flat mapping with the provider's
facts plus loadtrial's own (`loadtrial.version`, `host.name`, `trial.sha256`, `target.ips`
as resolved now), and the differences between two snapshots. A provider that fails to
snapshot leaves its error as the fact `provider.error`, never an exception.
"""

from __future__ import annotations

import platform
import socket
from collections.abc import Mapping

from loadtrial import __version__
from loadtrial.env.model import Provider
from loadtrial.errors import LoadtrialError
from loadtrial.spec.checks import host_of
from loadtrial.spec.loader import LoadedTrial


def resolve_ips(host: str) -> str:
    """The sorted addresses `host` resolves to now, comma-separated ('' when it does not)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return ""
    return ",".join(sorted({str(info[4][0]) for info in infos}))


def own_facts(loaded: LoadedTrial) -> dict[str, str]:
    """loadtrial's own facts about this run's environment."""
    return {
        "loadtrial.version": __version__,
        "host.name": socket.gethostname(),
        "host.python": platform.python_version(),
        "trial.sha256": loaded.sha256,
        "target.ips": resolve_ips(host_of(loaded.trial.target.base_url)),
    }


def take_snapshot(provider: Provider, loaded: LoadedTrial) -> dict[str, str]:
    """Provider facts plus loadtrial's own; a provider failure becomes a fact."""
    facts: dict[str, str] = {}
    try:
        facts.update({str(k): str(v) for k, v in provider.snapshot().items()})
    except (LoadtrialError, OSError) as exc:
        facts["provider.error"] = str(exc)
    facts.update(own_facts(loaded))
    return facts


def changed(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, list[str | None]]:
    """Every key whose value differs (missing on one side is None): key → [before, after]."""
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}
