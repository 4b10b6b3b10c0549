"""Confounders: environment facts that differ where the arms say they should not.

In: per run its arm, the arm's declared parameters and its snapshots ("before"/"after"
mappings of flat facts), the provider's `Governance` (which facts each parameter sets,
declared by the provider: `loadtrial.abilities`) and the trial's `expected_to_vary`
patterns. Out: `Confounder` records and `confounder` findings; `confounders_between(a, b)`
tells the claims which facts make a comparison of arms a and b untrustworthy.

Rules (kept simple on purpose, documented in docs/analysis.md):
- A fact is *governed* by a parameter when the provider declares it so: the fact's key
  matches one of the parameter's `governs` patterns (the testbed: `db_cpus` governs
  `db.cpus` and `db.*.cpus`, not `db.writer`). A fact is also governed by a parameter
  whose value it equals in both arms (`lb.backends_healthy` = "4" where `app_nodes: 4`).
  A fact that differs between two arms is excused only when a parameter governing it
  differs between them. A parameter the provider does not declare governs no fact by
  name (the words of a name are no evidence of what it sets).
- Facts matching a pattern of `expected_to_vary` (fnmatch, or a prefix ending in `.`) may
  differ between arms.
- Volatile facts never count: keys under `volatile.` and keys whose last word is a
  timestamp, pid, uptime or similar (see VOLATILE_WORDS).
- A fact that differs between the before and after snapshots of one run (changed during
  the run), or between repetitions of one arm, is a confounder of that arm; so is a
  parameter not in force: the fact the provider declares as reading the parameter back
  (`reads`: `db.max_connections` for `db_max_connections`) shows another value.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from loadtrial.abilities import Governance
from loadtrial.findings import ConfounderEvidence, Finding

VOLATILE_PREFIX = "volatile."
VOLATILE_WORDS = frozenset(
    {
        "pid",
        "pids",
        "timestamp",
        "time",
        "ts",
        "uptime",
        "uptime_s",
        "now",
        "started_at",
        "boot_time",
        "checked_at",
        "read_at",
        "collected_at",
        "age_s",
        "nonce",
    }
)
PHASES = ("before", "after")
ABSENT = "(absent)"


@dataclass(frozen=True)
class RunFacts:
    """The facts of one run, as the confounder check needs them."""

    run_id: int
    arm: str
    params: Mapping[str, Any]
    snapshots: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Confounder:
    """A fact that makes arms (or the runs of one arm) differ in an undeclared way."""

    fact: str
    arms: tuple[str, ...]  # two arms, or one arm for within-arm changes
    values: Mapping[str, tuple[str, ...]]  # arm (or "run N before/after") -> values seen
    why: str


def is_volatile(key: str) -> bool:
    """True for facts that differ run to run by nature (timestamps, pids, uptimes)."""
    if key.startswith(VOLATILE_PREFIX):
        return True
    last = key.rsplit(".", 1)[-1].lower()
    return last in VOLATILE_WORDS or last.endswith(("_at", "_pid", "_ts"))


def governs(governance: Governance, param: str, fact: str) -> bool:
    """True when the provider declares that `param` sets `fact` (a `governs` pattern)."""
    declared = governance.get(param)
    return declared is not None and any(fnmatch.fnmatchcase(fact, p) for p in declared.governs)


def expected(fact: str, patterns: Sequence[str]) -> bool:
    """True when the trial declared the fact as expected to vary."""
    return any(
        fnmatch.fnmatchcase(fact, p) or (p.endswith(".") and fact.startswith(p)) or fact == p
        for p in patterns
    )


def _arm_values(runs: Sequence[RunFacts]) -> dict[str, dict[str, set[str]]]:
    """arm -> fact -> set of values seen in its runs' before snapshots."""
    out: dict[str, dict[str, set[str]]] = {}
    for r in runs:
        facts = r.snapshots.get("before") or r.snapshots.get("after") or {}
        if not facts:
            continue  # no snapshot (the run failed before it): nothing to compare
        arm = out.setdefault(r.arm, {})
        for key, value in facts.items():
            if not is_volatile(key):
                arm.setdefault(key, set()).add(str(value))
    return out


def _same(value: Any, seen: set[str]) -> bool:
    """True when the only value seen equals the parameter's value (2 == "2" == "2.0")."""
    if len(seen) != 1:
        return False
    (text,) = seen
    try:
        return float(text) == float(value)
    except (TypeError, ValueError):
        return text == str(value)


@dataclass(frozen=True)
class _Pair:
    """Two arms' parameters and the provider's declaration of what they set."""

    a: Mapping[str, Any]
    b: Mapping[str, Any]
    governance: Governance


def _excused(fact: str, pair: _Pair, va: set[str], vb: set[str]) -> bool:
    """True when a parameter that differs between the arms explains the fact's difference:
    the provider declares it governs the fact, or the fact's value is that parameter's
    value in both."""
    a, b = pair.a, pair.b
    for p in set(a) | set(b):
        if a.get(p) == b.get(p):
            continue
        if governs(pair.governance, p, fact) or (_same(a.get(p), va) and _same(b.get(p), vb)):
            return True
    return False


def between_arms(
    runs: Sequence[RunFacts],
    arm_params: Mapping[str, Mapping[str, Any]],
    governance: Governance,
    expected_to_vary: Sequence[str] = (),
) -> list[Confounder]:
    """Facts that differ between two arms without a parameter (or declaration) explaining
    it; `governance`: the provider's declaration of which facts each parameter sets."""
    values = _arm_values(runs)
    arms = sorted(values)
    out: list[Confounder] = []
    for i, a in enumerate(arms):
        for b in arms[i + 1 :]:
            for fact in sorted(set(values[a]) | set(values[b])):
                va = values[a].get(fact, {ABSENT})
                vb = values[b].get(fact, {ABSENT})
                if va == vb or expected(fact, expected_to_vary):
                    continue
                pair = _Pair(arm_params.get(a, {}), arm_params.get(b, {}), governance)
                if _excused(fact, pair, va, vb):
                    continue
                why = (
                    f"{fact} was {_either(va)} in {a} but {_either(vb)} in {b}, "
                    "and no parameter of theirs sets it"
                )
                out.append(
                    Confounder(fact, (a, b), {a: tuple(sorted(va)), b: tuple(sorted(vb))}, why)
                )
    return out


def _either(values: set[str]) -> str:
    return " or ".join(sorted(values))


def within_arms(runs: Sequence[RunFacts]) -> list[Confounder]:
    """Facts that changed during a run, or differ between repetitions of one arm."""
    out: list[Confounder] = []
    for r in runs:
        before, after = r.snapshots.get("before", {}), r.snapshots.get("after", {})
        for fact in sorted(set(before) & set(after)):
            if not is_volatile(fact) and before[fact] != after[fact]:
                vals = {
                    f"run {r.run_id} before": (before[fact],),
                    f"run {r.run_id} after": (after[fact],),
                }
                why = f"{fact} changed during run {r.run_id} ({before[fact]} → {after[fact]})"
                out.append(Confounder(fact, (r.arm,), vals, why))
    for arm, facts in _arm_values(runs).items():
        for fact, seen in sorted(facts.items()):
            if len(seen) > 1:
                why = f"{fact} differs between repetitions of {arm}: {', '.join(sorted(seen))}"
                out.append(Confounder(fact, (arm,), {arm: tuple(sorted(seen))}, why))
    return out


def not_in_force(runs: Sequence[RunFacts], governance: Governance) -> list[Confounder]:
    """Parameters the environment did not take: an arm declares `db_max_connections: 80`
    but the fact the provider declares as reading it back (`db.max_connections`) reads 20."""
    seen_in: dict[tuple[str, str, str, str], list[int]] = {}  # (arm, param=value, fact) -> runs
    read: dict[tuple[str, str, str, str], set[str]] = {}
    for r in runs:
        facts = r.snapshots.get("before") or {}
        for param, value in r.params.items():
            if isinstance(value, Mapping | list | tuple) or value is None:
                continue
            fact = governance[param].reads if param in governance else ""
            if fact not in facts or _same(value, {str(facts[fact])}):
                continue
            key = (r.arm, f"{param}={value}", fact, str(value))
            seen_in.setdefault(key, []).append(r.run_id)
            read.setdefault(key, set()).add(str(facts[fact]))
    out = []
    for key, run_ids in seen_in.items():
        arm, declared, fact, value = key
        which = "run" if len(run_ids) == 1 else "runs"
        got = _either(read[key])
        why = (
            f"{arm} declares {declared} but {fact} read {got} "
            f"({which} {', '.join(map(str, sorted(run_ids)))})"
        )
        vals = {arm: tuple(sorted(read[key])), "declared": (value,)}
        out.append(Confounder(fact, (arm,), vals, why))
    return out


def confounders_between(found: Sequence[Confounder], a: str, b: str) -> list[Confounder]:
    """The confounders that touch a claim comparing arm a with arm b: those between the
    two, and those within either (a changed fact, a parameter not in force)."""
    arms = {a, b}
    return [
        c
        for c in found
        if (len(c.arms) == 1 and c.arms[0] in arms) or (len(c.arms) == 2 and set(c.arms) == arms)
    ]


def confounders_of_arm(found: Sequence[Confounder], arm: str) -> list[Confounder]:
    """The confounders that touch a single-arm claim: only the arm's own (a declared value
    not in force, a fact that changed during or between its runs). Facts that differ
    between *other* arms say nothing about whether this arm ran as declared."""
    return [c for c in found if c.arms == (arm,)]


def confounder_findings(found: Sequence[Confounder]) -> list[Finding]:
    """One `confounder` finding per confounder."""
    return [
        Finding(
            "confounder",
            c.fact,
            f"confounder: {c.why}",
            "confounded",
            ConfounderEvidence(c.fact, c.arms, dict(c.values)),
            c.arms[0] if len(c.arms) == 1 else "",
        )
        for c in found
    ]
