"""Claims of the hypothesis judged: supported | refuted | inconclusive, with the reason.

In: one `Claim` of the trial's `expect:` list, the arm's pooled SLO finding (for
`meets_slo`) or a `Comparison` (for `vs`/`metric`/`expect`), and the confounders that
touch the arms involved. Out: one `verdict` finding.

Rules: a confounder makes the verdict `inconclusive (confounded by …)` whatever the
numbers say (the numbers are still quoted). `meets_slo` follows the arm's pooled SLO, and
is inconclusive when its runs disagree. `by_at_least` needs the whole bootstrap interval
of the relative change beyond the stated fraction to be supported, and the whole interval
short of it to be refuted.
"""

from __future__ import annotations

from collections.abc import Sequence

from loadtrial.analysis.compare import Comparison, comparison_effect, describe
from loadtrial.analysis.confounders import Confounder
from loadtrial.findings import (
    Effect,
    Finding,
    JsonValue,
    SloClaimFigures,
    SloEvidence,
    VerdictEvidence,
)
from loadtrial.spec.model import Claim

SUPPORTS = {
    "lower": ({"lower"}, {"higher", "no_difference"}),
    "higher": ({"higher"}, {"lower", "no_difference"}),
    "not_lower": ({"higher", "no_difference"}, {"lower"}),
    "not_higher": ({"lower", "no_difference"}, {"higher"}),
    "no_difference": ({"no_difference"}, {"higher", "lower"}),
}


def claim_text(claim: Claim) -> str:
    """The claim as a person would say it."""
    if claim.meets_slo is not None:
        return f"{claim.arm} {'meets' if claim.meets_slo else 'misses'} the SLO"
    by = f" by at least {claim.by_at_least:.0%}" if claim.by_at_least else ""
    what = f"{claim.request} {claim.metric}" if claim.request else claim.metric
    return f"{claim.arm} {what} {claim.expect} vs {claim.vs}{by}".replace("_", " ")


def _by_at_least(claim: Claim, c: Comparison) -> tuple[str, str]:
    lo, hi = c.relative_ci
    by = claim.by_at_least or 0.0
    if claim.expect in ("lower", "not_higher"):
        if hi <= -by:
            return "supported", f"the whole interval {lo:+.0%}..{hi:+.0%} is at least -{by:.0%}"
        if lo > -by:
            return "refuted", f"the whole interval {lo:+.0%}..{hi:+.0%} falls short of -{by:.0%}"
    else:
        if lo >= by:
            return "supported", f"the whole interval {lo:+.0%}..{hi:+.0%} is at least +{by:.0%}"
        if hi < by:
            return "refuted", f"the whole interval {lo:+.0%}..{hi:+.0%} falls short of +{by:.0%}"
    return "inconclusive", f"the interval {lo:+.0%}..{hi:+.0%} straddles {by:.0%}"


def _status(claim: Claim, c: Comparison) -> tuple[str, str]:
    expect = claim.expect or "no_difference"
    good, bad = SUPPORTS[expect]
    if claim.by_at_least:
        return _by_at_least(claim, c)
    if c.result in good:
        return "supported", c.reason
    if c.result in bad:
        return "refuted", c.reason
    return "inconclusive", c.reason


def judge_comparison(
    index: int, claim: Claim, c: Comparison, confounders: Sequence[Confounder]
) -> Finding:
    """The verdict of a `vs` claim from its comparison."""
    status, reason = _status(claim, c)
    numbers = describe(c)
    return _verdict(index, claim, status, reason, numbers, confounders, comparison_effect(c))


def judge_slo(
    index: int,
    claim: Claim,
    arm_slo: Finding | None,
    run_slos: Sequence[Finding],
    confounders: Sequence[Confounder],
) -> Finding:
    """The verdict of a `meets_slo` claim from the arm's pooled and per-run SLO findings."""
    if arm_slo is None or arm_slo.status == "no_data":
        return _verdict(index, claim, "inconclusive", "no valid run of the arm", "", confounders)
    met = arm_slo.status == "pass"
    fails = sum(1 for f in run_slos if f.status == "fail")
    if met and fails:
        status, reason = (
            "inconclusive",
            f"pooled SLO met, but {fails} of {len(run_slos)} runs missed it",
        )
    elif met == claim.meets_slo:
        status, reason = "supported", arm_slo.summary
    else:
        status, reason = "refuted", arm_slo.summary
    assert isinstance(arm_slo.evidence, SloEvidence), "an slo finding carries SloEvidence"
    figures = SloClaimFigures(arm_slo.evidence, fails, len(run_slos))
    return _verdict(index, claim, status, reason, "", confounders, slo=figures)


def _verdict(
    index: int,
    claim: Claim,
    status: str,
    reason: str,
    numbers: str,
    confounders: Sequence[Confounder],
    effect: Effect | None = None,
    *,
    slo: SloClaimFigures | None = None,
) -> Finding:
    facts = sorted({c.fact for c in confounders})
    if facts:
        reason = f"confounded by {', '.join(facts)} (the numbers alone said {status}: {reason})"
        status = "inconclusive"
    text = f"claim {index + 1} ({claim_text(claim)}): {status.upper()}"
    text += f" — {numbers}" if numbers else ""
    text += f"; {reason}"
    stated: dict[str, JsonValue] = claim.model_dump(mode="json", exclude_none=True)
    ev = VerdictEvidence(stated, reason, tuple(facts), effect, slo)
    return Finding("verdict", f"claim {index + 1}", text, status, ev, claim.arm)
