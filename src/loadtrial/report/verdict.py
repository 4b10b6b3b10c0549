"""The verdict section: each claim of the hypothesis matched with its verdict finding.

In: the Trial's `expect:` claims and the findings (as views). Out: ClaimViews in file order
(a claim the analysis did not judge says "not analysed"; a verdict finding that matches no
claim is still shown), the overall status, and the SLO in words.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtrial.report import evidence as ev
from loadtrial.report.model import ClaimView, FindingView
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
    e = f.evidence
    for key in ("claim_index", "claim", "index"):
        if isinstance(e.get(key), int) and not isinstance(e.get(key), bool):
            return bool(e[key] == index)
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
        return ClaimView(index, text, "not analysed", "", None, None, None, "", False, {})
    effect, low, high = ev.effect(f.evidence)
    if "confounded_by" in f.evidence:  # the analysis said exactly which facts; trust it
        confounded = bool(f.evidence["confounded_by"])
    else:
        confounded = bool(f.evidence.get("confounded")) or any(
            _touches(c, arms) for c in confounders
        )
    return ClaimView(
        index=index,
        text=text,
        status=(f.status or "inconclusive").lower(),
        summary=_without_restatement(f.summary, index, f.status),
        effect=effect,
        ci_low=low,
        ci_high=high,
        effect_unit=ev.effect_unit(f.evidence),
        rests_on_confounder=confounded,
        evidence=f.evidence,
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
    named = confounder.evidence.get("arms")
    named_arms = {a for a in named if isinstance(a, str)} if isinstance(named, list) else set()
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
    """Return the SLO in words ("p99 ≤ 500ms, errors ≤ 0.10%"), "" when none is set."""
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
