"""The environment and provenance sections: what each arm really ran on, and where from.

In: the runs' snapshots (before/after facts) and actions, the trial's arms, the
confounder findings. Out: one EnvRow per snapshot key (values side by side per arm,
differences and confounders flagged, changes during a run shown as "a → b"), the action
journal rows, and the provenance block.
"""

from __future__ import annotations

import platform
import re
import sys
import time
from collections.abc import Mapping, Sequence

from loadtrial import __version__
from loadtrial.findings import ConfounderEvidence
from loadtrial.report import evidence as ev
from loadtrial.report.model import ActionRow, EnvRow, FindingView, Provenance
from loadtrial.spec.model import Trial
from loadtrial.store.model import RunData, TrialData


def _norm(key: str) -> str:
    """Normalise a fact or parameter name so "db.max_connections" ~ "db_max_connections"."""
    return re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")


def _run_value(run: RunData, key: str) -> tuple[str, bool]:
    """Return (shown value, changed during the run) of one fact in one run."""
    before = run.snapshots.get("before", {})
    after = run.snapshots.get("after", {})
    b, a = before.get(key), after.get(key)
    if b is not None and a is not None and a != b:
        return f"{b} → {a}", True
    return (b if b is not None else a if a is not None else "—"), False


def env_rows(
    data: TrialData,
    trial: Trial,
    arms: Sequence[str],
    confounders: Sequence[FindingView],
    *,
    guess: bool = False,
) -> tuple[tuple[EnvRow, ...], tuple[str, ...]]:
    """Return (rows, arms shown): every snapshot key with its value per arm.

    Confounders are the facts the analysis named. With `guess` (no findings at all) a fact
    that differs between arms is marked when no parameter explains it: not declared, and
    not varying exactly as some parameter's values do.
    """
    keys = sorted({k for r in data.runs for snap in r.snapshots.values() for k in snap})
    shown = tuple(a for a in arms if any(r.info.arm == a for r in data.runs))
    declared = {_norm(p) for params in trial.arms.values() for p in params}
    declared |= {_norm(k) for k in trial.expected_to_vary}
    named = {_norm(k) for c in confounders for k in ev.confounder_keys(c)}
    governing = _parameter_values(trial, shown)
    asked = _asked_for(confounders)
    rows = [
        _row(key, data.runs, shown, declared, named, governing if guess else None, asked)
        for key in keys
    ]
    rows.sort(key=lambda r: (not r.confounder, not r.differs, not r.changed_during_run, r.key))
    return tuple(rows), shown


def _asked_for(confounders: Sequence[FindingView]) -> dict[tuple[str, str], str]:
    """(fact, arm) -> the value the arm declared, for parameters not in force (the analysis'
    confounders whose values carry "declared"), so the cell can say "20 (declared 80)"."""
    out: dict[tuple[str, str], str] = {}
    for c in confounders:
        e = c.evidence
        if not isinstance(e, ConfounderEvidence) or "declared" not in e.values:
            continue
        text = ", ".join(map(str, e.values["declared"]))
        for arm in (a for a in e.values if a != "declared"):
            out[(_norm(e.fact), arm)] = text
    return out


def _parameter_values(trial: Trial, arms: Sequence[str]) -> set[tuple[str, ...]]:
    """Each parameter's values across `arms`, as text, when they differ between arms."""
    names = {p for params in trial.arms.values() for p in params}
    out: set[tuple[str, ...]] = set()
    for name in names:
        values = tuple(str(trial.arms.get(a, {}).get(name, "—")) for a in arms)
        if len(set(values)) > 1:
            out.add(values)
    return out


def _row(
    key: str,
    runs: Sequence[RunData],
    arms: Sequence[str],
    declared: set[str],
    named: set[str],
    governing: set[tuple[str, ...]] | None,
    asked: Mapping[tuple[str, str], str] | None = None,
) -> EnvRow:
    """Return one fact across arms (distinct values of repetitions joined by " | ")."""
    values: dict[str, str] = {}
    changed = False
    for arm in arms:
        seen: list[str] = []
        for run in (r for r in runs if r.info.arm == arm):
            value, moved = _run_value(run, key)
            changed = changed or moved
            if value not in seen:
                seen.append(value)
        values[arm] = " | ".join(seen)
    differs = len(set(values.values())) > 1  # before the notes below: they are no values
    for arm in arms:
        if (wanted := (asked or {}).get((_norm(key), arm))) is not None:
            values[arm] += f" (declared {wanted})"
    is_declared = _norm(key) in declared or any(_norm(key).endswith("_" + d) for d in declared)
    unexplained = differs and not is_declared
    if governing is not None and unexplained:
        unexplained = tuple(values[a] for a in arms) not in governing
    confounder = _norm(key) in named or (governing is not None and unexplained)
    return EnvRow(key, values, differs, is_declared, confounder, changed)


def action_rows(data: TrialData) -> tuple[ActionRow, ...]:
    """Return every provider action of every run, in time order."""
    rows = [
        ActionRow(
            run_id=r.info.run_id,
            arm=r.info.arm,
            name=a.name,
            started_at=a.started_at,
            duration_s=max(0.0, a.ended_at - a.started_at),
            status=a.status,
            error=a.error,
        )
        for r in data.runs
        for a in r.actions
    ]
    return tuple(sorted(rows, key=lambda a: a.started_at))


def provenance(data: TrialData, store_path: str, generated_at: float | None) -> Provenance:
    """Return where the results came from (the host is the one rendering the report)."""
    info = data.info
    return Provenance(
        trial_name=info.name,
        trial_id=info.trial_id,
        file_path=info.file_path,
        file_hash=info.file_hash,
        file_text=info.file_text,
        created_at=info.created_at,
        loadtrial_version=__version__,
        python_version=sys.version.split()[0],
        host=_host(data),
        store_path=store_path,
        generated_at=time.time() if generated_at is None else generated_at,
    )


def _host(data: TrialData) -> str:
    """Return the generator host a snapshot recorded, else this machine's name."""
    for r in data.runs:
        for snap in r.snapshots.values():
            found = _first(snap, ("loadtrial.host", "generator.host", "host.name", "host"))
            if found:
                return found
    return platform.node()


def _first(facts: Mapping[str, str], keys: Sequence[str]) -> str:
    """Return the first present value of `keys` in `facts`, or ""."""
    return next((facts[k] for k in keys if facts.get(k)), "")
