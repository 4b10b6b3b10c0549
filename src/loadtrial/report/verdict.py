"""The verdict section: each claim of the hypothesis matched with its verdict finding.

In: the Trial's `expect:` claims and the findings (as views). Out: ClaimViews in file order
(a claim the analysis did not judge says "not analysed"; a verdict finding that matches no
claim is still shown), the overall status, the SLO in words, and the story in two lines
(what broke, what met the SLO and how it differs from the first arm).
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtrial.findings import BottleneckEvidence, ConfounderEvidence, VerdictEvidence
from loadtrial.report import evidence as ev
from loadtrial.report.model import ArmRow, ClaimView, FindingView, Report
from loadtrial.spec.model import Claim, Trial
from loadtrial.units import format_duration

_EXPECT_WORDS = {
    "lower": "lower than",
    "higher": "higher than",
    "not_lower": "not lower than",
    "not_higher": "not higher than",
    "no_difference": "no different from",
}


def claim_text(claim: Claim) -> str:
    """Return a claim in words: "more-app-nodes: error_rate not lower than baseline"."""
    if claim.meets_slo is not None:
        return f"{claim.arm} {'meets' if claim.meets_slo else 'does not meet'} the SLO"
    words = _EXPECT_WORDS.get(claim.expect or "", claim.expect or "")
    text = f"{claim.arm}: {claim.metric} {words} {claim.vs}"
    if claim.by_at_least is not None:
        text += f" by at least {claim.by_at_least:.0%}"
    return text


def _matches(f: FindingView, index: int, claim: Claim) -> bool:
    """True when verdict finding `f` judges claim number `index` (1-based)."""
    subject = f.subject.strip().lower()
    return subject in (f"claim {index}", f"claim#{index}", f"#{index}", claim_text(claim).lower())


def claim_views(
    trial: Trial, views: Sequence[FindingView], confounders: Sequence[FindingView]
) -> tuple[ClaimView, ...]:
    """Return one ClaimView per claim, then any unmatched verdict finding."""
    verdicts = [f for f in views if f.kind == "verdict"]
    used: set[int] = set()
    out: list[ClaimView] = []
    for i, claim in enumerate(trial.expect, 1):
        found = next(
            (f for j, f in enumerate(verdicts) if j not in used and _matches(f, i, claim)), None
        )
        if found is not None:
            used.add(verdicts.index(found))
        arms = {claim.arm, claim.vs or claim.arm}
        out.append(_claim_view(i, claim_text(claim), found, arms, confounders))
    for j, f in enumerate(verdicts):
        if j not in used:
            arms = {f.arm} if f.arm else set()
            out.append(_claim_view(len(out) + 1, f.subject, f, arms, confounders))
    return tuple(out)


def _claim_view(
    index: int,
    text: str,
    f: FindingView | None,
    arms: set[str],
    confounders: Sequence[FindingView],
) -> ClaimView:
    """Return a claim with its verdict (or 'not analysed')."""
    if f is None:
        return ClaimView(index, text, "not analysed", "", None, None, None, "", False, None)
    verdict = f.evidence if isinstance(f.evidence, VerdictEvidence) else None
    effect, low, high = ev.effect(verdict)
    if verdict is not None:  # the analysis said exactly which facts; trust it
        confounded = bool(verdict.confounded_by)
    else:
        confounded = any(_touches(c, arms) for c in confounders)
    return ClaimView(
        index=index,
        text=text,
        status=(f.status or "inconclusive").lower(),
        summary=_without_restatement(f.summary, index, f.status),
        effect=effect,
        ci_low=low,
        ci_high=high,
        effect_unit=ev.effect_unit(verdict),
        rests_on_confounder=confounded,
        evidence=verdict,
    )


def _without_restatement(summary: str, index: int, status: str) -> str:
    """Drop a leading "claim N (…): STATUS" the page already shows beside the sentence."""
    head = f"claim {index} ("
    marker = f"): {status.upper()}"
    if summary.startswith(head) and marker in summary:
        rest = summary[summary.index(marker) + len(marker) :].lstrip(" ;—-")
        return rest or summary
    return summary


def _touches(confounder: FindingView, arms: set[str]) -> bool:
    """True when a confounder concerns one of `arms` (or names no arm, so all of them)."""
    e = confounder.evidence
    named_arms = set(e.arms) if isinstance(e, ConfounderEvidence) else set()
    if confounder.arm:
        named_arms.add(confounder.arm)
    return not named_arms or bool(named_arms & arms)


def overall_status(claims: Sequence[ClaimView]) -> str:
    """Return supported | refuted | inconclusive | mixed | no claims | not analysed."""
    statuses = {c.status for c in claims}
    if not statuses:
        return "no claims"
    if statuses == {"not analysed"}:
        return "not analysed"
    if statuses == {"supported"}:
        return "supported"
    if "refuted" in statuses and "supported" not in statuses:
        return "refuted"
    if "supported" in statuses and "refuted" in statuses:
        return "mixed"
    return "inconclusive"


def slo_text(trial: Trial) -> str:
    """Return the SLO in words ("p99 ≤ 500ms, errors ≤ 0.10%", "... (request checkout)"
    when it judges one request), "" when none is set."""
    s = trial.slo
    parts = [
        f"{key} ≤ {format_duration(limit)}"
        for key in ("p50", "p90", "p99", "p999")
        if (limit := getattr(s, key)) is not None
    ]
    if s.error_rate is not None:
        parts.append(f"errors ≤ {s.error_rate:.2%}")
    if s.min_throughput is not None:
        parts.append(f"throughput ≥ {s.min_throughput:g}/s")
    if parts and s.request:
        return f"{', '.join(parts)} (request {s.request})"
    return ", ".join(parts)


def load_text(trial: Trial) -> str:
    """The load in words: "open: ramp to 600/s over 1m00s, 600/s for 30s; warm-up 5s"."""
    ld = trial.load
    if ld.model == "closed" and ld.users is not None:
        shape = f"closed: {ld.users} users for {format_duration(ld.duration or 0.0)}"
    else:
        parts = []
        for st in ld.stages:
            if st.ramp_to is not None:
                parts.append(f"ramp to {st.ramp_to:g}/s over {format_duration(st.duration)}")
            elif st.users is not None:
                parts.append(f"{st.users} users for {format_duration(st.duration)}")
            else:
                parts.append(f"{st.rate or 0:g}/s for {format_duration(st.duration)}")
        shape = f"{ld.model}: " + ", ".join(parts)
    return shape + (f"; warm-up {format_duration(ld.warmup)}" if ld.warmup else "")


def resource_label(status: str) -> str:
    """A bottleneck's resource as a person says it: "db.connections.active" -> "db
    connections", "app.cpu.util" -> "app CPU", "db (errors)" -> "db errors"."""
    if status.endswith(" (errors)"):
        return status.removesuffix(" (errors)") + " errors"
    parts = status.split(".")
    words = parts[:2] if len(parts) > 2 else parts
    return " ".join("CPU" if w.lower() == "cpu" else w for w in words)


def _changed(arm: ArmRow, first: ArmRow) -> str:
    """How `arm`'s parameters differ from the first arm's: "db_cpus 1 → 2"."""
    keys = [k for k in arm.params if k not in first.params or first.params[k] != arm.params[k]]
    return ", ".join(f"{k} {first.params.get(k, '—')} → {arm.params[k]}" for k in keys)


def story(r: Report) -> tuple[tuple[str, str], ...]:
    """The first screen in two lines: what limited which arms (with the peak), and which
    arms met the SLO and how they differ from the first arm."""
    limited: dict[str, list[str]] = {}
    detail: dict[str, str] = {}
    for b in r.bottlenecks:
        e = b.evidence
        limit = e.limit if isinstance(e, BottleneckEvidence) else None
        tier = e.tier if isinstance(e, BottleneckEvidence) else ""
        name = b.status or (f"{tier}.{limit.resource}" if limit and tier else "")
        if not name or name == "none" or not b.arm:
            continue
        label = resource_label(name)
        limited.setdefault(label, []).append(b.arm)
        if label not in detail and limit is not None and limit.capacity is not None:
            of = "" if limit.unit in ("ratio", "percent") else f" of {limit.capacity:g}"
            detail[label] = f" ({name} at {limit.peak_util:.0%}{of})"
    out: list[tuple[str, str]] = []
    if limited:
        text = "; ".join(f"{lbl}{detail.get(lbl, '')} in {', '.join(arms)}"
                         for lbl, arms in limited.items())  # fmt: skip
        out.append(("What broke", text))
    named = {a for arms in limited.values() for a in arms}
    missed = [a.arm for a in r.arms if a.slo == "fail" and a.arm not in named]
    if missed:
        out.append(("Missed the SLO", ", ".join(missed) + " (no bottleneck named)"))
    passed = [a for a in r.arms if a.slo == "pass"]
    if passed or missed or limited:
        out.append(("Met the SLO", "; ".join(_passed(a, r) for a in passed) or "no arm"))
    return tuple(out)


def _passed(a: ArmRow, r: Report) -> str:
    text = a.arm
    change = _changed(a, r.arms[0]) if a is not r.arms[0] else ""
    if change:
        text += f" ({change})"
    if any(_touches(c, {a.arm}) for c in r.confounders):
        text += " — but it rests on a confounder"
    return text
