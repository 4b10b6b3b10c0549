"""Findings: what the analysis concludes, as the store keeps it and the report shows it.

A neutral module below store, analysis and report (all three use it; none owns it).
Every finding carries one plain sentence (`summary`) and the numbers behind it
(`evidence`): one frozen dataclass per finding kind (and shape), so the analysis writes
fields, the report reads fields and mypy sees both ends.

On disk and in `analyze --json` the evidence is one flat JSON object (`findings.codec`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

FindingKind = Literal[
    "slo",  # per run / per arm: SLO met or not
    "validity",  # a run that cannot be trusted, and why
    "saturation",  # a resource that reached its capacity
    "bottleneck",  # the resource that limits the system
    "comparison",  # arm vs arm on one metric
    "verdict",  # one claim of the hypothesis judged
    "confounder",  # a fact that differs between arms but is not an arm parameter
    "scalability",  # a USL fit
]

JsonValue: TypeAlias = (
    bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
JsonDoc: TypeAlias = dict[str, JsonValue]
Pair: TypeAlias = tuple[float, float]


# --- the evidence of each kind -------------------------------------------------------


@dataclass(frozen=True)
class RunWindow:
    """The steady window a run's figures are of, and when latency/errors began (run-clock s)."""

    start_s: int
    end_s: int
    how: str
    latency_onset_s: int | None  # whole run-clock seconds, as the run view finds them
    error_onset_s: int | None


@dataclass(frozen=True)
class Objective:
    """One declared SLO objective judged (limit and value in the objective's unit)."""

    name: str
    limit: float
    value: float | None
    met: bool


@dataclass(frozen=True)
class SloEvidence:
    """`slo`: the pooled figures of a run or an arm, judged against the SLO."""

    requests: int
    errors: int
    error_rate: float
    throughput_per_s: float
    seconds: int  # of steady load behind the figures
    latency_us: tuple[tuple[float, float | None], ...]  # (percentile, µs), by percentile
    request: str | None  # the request the figures are of (None: the whole run)
    objectives: tuple[Objective, ...]
    breaches: tuple[str, ...] | None = None  # None: nothing measured (status no_data)
    window: RunWindow | None = None  # a run's finding: its steady window

    def latency_at(self, percentile: float) -> float | None:
        """The latency (µs) at `percentile`, or None when it was not measured."""
        return dict(self.latency_us).get(percentile)


@dataclass(frozen=True)
class Effect:
    """The numbers of one arm-vs-arm comparison (the run is the unit)."""

    metric: str
    unit: str
    arm: str
    vs: str
    request: str
    level_arm: float
    level_vs: float
    difference: float
    relative: float
    ci: Pair
    relative_ci: Pair
    p_value: float
    df: float
    tolerance: float
    n_runs: tuple[int, int]
    test: str


@dataclass(frozen=True)
class ComparisonEvidence:
    """`comparison`: the effect and why it was read as higher/lower/no difference."""

    effect: Effect
    reason: str


@dataclass(frozen=True)
class SloClaimFigures:
    """What a `meets_slo` claim was judged from: the arm's pooled SLO and its runs'."""

    arm_slo: SloEvidence
    runs_failing: int
    runs: int


@dataclass(frozen=True)
class VerdictEvidence:
    """`verdict`: the claim, why it got its status, and what it rests on."""

    claim: Mapping[str, JsonValue]  # the claim as the trial file states it
    reason: str
    confounded_by: tuple[str, ...]  # facts that made it inconclusive
    effect: Effect | None = None  # a `vs` claim
    slo: SloClaimFigures | None = None  # a `meets_slo` claim with data

    @property
    def vs(self) -> str:
        """The arm the claim compares against ("" for a meets_slo claim)."""
        vs = self.claim.get("vs")
        return vs if isinstance(vs, str) else ""


@dataclass(frozen=True)
class ValidityEvidence:
    """`validity`: why a run is invalid, aborted or kept with reservations."""

    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    missing_tiers: tuple[str, ...]
    requests: int
    status: str  # the run's status
    abort_reason: str


@dataclass(frozen=True)
class ResourceErrors:
    """`saturation` (status errors): a resource that reported errors from `errors_at_s`."""

    errors_at_s: float
    error_total: float
    series: str
    tier: str


@dataclass(frozen=True)
class ResourceSaturated:
    """`saturation` (status saturated): a resource at capacity from `saturated_at_s`."""

    saturated_at_s: float
    peak_util: float
    mean_util: float
    capacity: float | None
    saturated_s: float
    series: str
    tier: str


@dataclass(frozen=True)
class Demand:
    """A resource's service demand and the throughput bound it sets (X ≤ 1/D)."""

    demand_ms: float
    bound_per_s: float
    mean_util: float


@dataclass(frozen=True)
class QuietTier:
    """A tier whose busiest resource stayed low: not the limit."""

    series: str
    peak_util: float


@dataclass(frozen=True)
class Limit:
    """The saturated resource a bottleneck names."""

    resource: str
    saturated_at_s: float
    peak_util: float
    capacity: float | None
    unit: str
    correlation: float
    score: float
    offered_per_s: float | None
    also_saturated: tuple[str, ...] | None = None  # None: one run's call (no vote)


@dataclass(frozen=True)
class NoBottleneck:
    """`bottleneck` (status none): nothing observed limited the arm."""

    per_run: Mapping[str, str]
    missing_tiers: tuple[str, ...]
    peaks: Mapping[str, float]
    at_capacity: Mapping[str, float]


@dataclass(frozen=True)
class BottleneckEvidence:
    """`bottleneck`: what limited an arm (a saturated resource, or a tier's errors)."""

    tier: str
    per_run: Mapping[str, str]
    runs_saturated: int
    runs: int
    not_helping: tuple[str, ...]
    not_limits: Mapping[str, QuietTier]
    missing_tiers: tuple[str, ...]
    onset_s: int | None  # whole run-clock seconds
    latency_onset_s: int | None
    error_onset_s: int | None
    throughput_per_s: float
    steady_offered_per_s: float | None
    peaks: Mapping[str, float]
    demand: Mapping[str, Demand]
    d_max: str
    error_series: Mapping[str, float]
    at_capacity: Mapping[str, float] | None = None  # present when a full resource was idle
    limit: Limit | None = None  # None: the tier reported errors, nothing saturated


@dataclass(frozen=True)
class ConfounderEvidence:
    """`confounder`: a fact whose values differ where they should not."""

    fact: str
    arms: tuple[str, ...]
    values: Mapping[str, tuple[JsonValue, ...]]  # arm (or "declared", "run N …") -> values


@dataclass(frozen=True)
class UslFit:
    """`scalability` (status fit): the Universal Scalability Law over some points."""

    sigma: float | None
    kappa: float | None
    lam: float | None
    sigma_se: float | None
    kappa_se: float | None
    lambda_se: float | None
    peak_n: float | None  # None: no coherency cost (peak at infinity)
    peak_throughput: float | None
    r2: float | None
    n_points: int
    points: tuple[Pair, ...]
    over: str


@dataclass(frozen=True)
class UslNotFitted:
    """`scalability` (status not_fitted): too few limited levels to fit."""

    points: tuple[Pair, ...]
    over: str
    levels: tuple[float, ...]


Evidence: TypeAlias = (
    SloEvidence
    | ComparisonEvidence
    | VerdictEvidence
    | ValidityEvidence
    | ResourceErrors
    | ResourceSaturated
    | NoBottleneck
    | BottleneckEvidence
    | ConfounderEvidence
    | UslFit
    | UslNotFitted
)

EVIDENCE_OF: Mapping[str, tuple[type, ...]] = {
    "slo": (SloEvidence,),
    "comparison": (ComparisonEvidence,),
    "verdict": (VerdictEvidence,),
    "validity": (ValidityEvidence,),
    "saturation": (ResourceErrors, ResourceSaturated),
    "bottleneck": (NoBottleneck, BottleneckEvidence),
    "confounder": (ConfounderEvidence,),
    "scalability": (UslFit, UslNotFitted),
}


@dataclass(frozen=True)
class Finding:
    """One conclusion with its evidence (of the class its kind calls for)."""

    kind: FindingKind
    subject: str  # what it is about: "run 3", "arm bigger-db", "claim 1", "db.connections"
    summary: str  # one sentence a person can read
    status: str  # kind-specific: pass|fail, supported|refuted|inconclusive, higher|...
    evidence: Evidence
    arm: str = ""
    run_id: int | None = None

    def __post_init__(self) -> None:
        # a finding of one kind with another kind's evidence is a bug: say so where it's made
        if not isinstance(self.evidence, EVIDENCE_OF[self.kind]):
            raise TypeError(f"{self.kind} finding with {type(self.evidence).__name__}")
