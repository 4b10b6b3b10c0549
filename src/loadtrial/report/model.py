"""Data of the report's door: one trial's report as a typed document.

In: built by `loadtrial.report.build.build_report` from a TrialData, its Trial and the
analysis findings. Out: the same document feeds the HTML page (tables rendered in Python,
charts drawn in the browser from the document's JSON), the terminal summary and
`--format json`, so all three say the same thing.

Latencies are milliseconds (`*_ms`), rates per second (`*_per_s`), times on the run clock
in seconds (`t_s`), fractions in [0, 1]. Values that could not be computed are None.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from loadtrial.findings import Evidence, VerdictEvidence
from loadtrial.report.whatif_section import WhatifRow

PERCENTS = (50.0, 90.0, 99.0)


@dataclass(frozen=True)
class Estimate:
    """A value with its 95 % confidence interval (bounds None when unknown)."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: str = ""  # how the interval was computed, e.g. "t over 3 runs"


@dataclass(frozen=True)
class FindingView:
    """A finding as shown: its sentence, status and typed evidence."""

    kind: str
    subject: str
    summary: str
    status: str
    arm: str
    run_id: int | None
    evidence: Evidence


@dataclass(frozen=True)
class ClaimView:
    """One claim of the hypothesis with its verdict."""

    index: int  # 1-based, in the order of the trial file's `expect:`
    text: str  # the claim in words: "bigger-db meets the SLO"
    status: str  # supported | refuted | inconclusive | not analysed
    summary: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    effect_unit: str
    rests_on_confounder: bool
    evidence: VerdictEvidence | None


@dataclass(frozen=True)
class ArmRow:
    """One arm pooled over its repetitions (warm-up seconds excluded)."""

    arm: str
    params: Mapping[str, Any]
    runs: int
    valid_runs: int
    throughput_per_s: Estimate
    latency_ms: Mapping[str, Estimate]  # "p50" | "p90" | "p99" -> estimate
    requests: int
    error_rate: float | None
    errors_by_kind: Mapping[str, int]
    slo: str  # pass | fail | n/a
    slo_detail: str
    validity: tuple[str, ...]  # reasons a run of this arm cannot be trusted (not counted valid)
    notes: tuple[str, ...] = ()  # runs kept with reservations, and why


@dataclass(frozen=True)
class RequestCell:
    """One request name in one arm, pooled over the arm's valid runs like its ArmRow."""

    arm: str
    request: str
    throughput_per_s: Estimate
    latency_ms: Mapping[str, Estimate]  # "p50" | "p99" -> estimate
    requests: int
    error_rate: float | None
    errors_by_kind: Mapping[str, int]


@dataclass(frozen=True)
class TierSeries:
    """One observed metric of a run, with utilisation when its capacity is known."""

    name: str
    unit: str
    capacity: float | None
    t_s: tuple[float, ...]
    values: tuple[float | None, ...]  # None: a gap (the observer could not sample)
    util: tuple[float | None, ...] | None  # value / capacity (fraction), None when unknown


@dataclass(frozen=True)
class Band:
    """A time range on a run's clock to shade (a saturation) or mark (start == end)."""

    start_s: float
    end_s: float
    label: str


@dataclass(frozen=True)
class RunTimeline:
    """Everything to draw one run's timeline on the shared time axis."""

    run_id: int
    arm: str
    repetition: int
    status: str
    abort_reason: str
    warmup_s: float
    t_s: tuple[int, ...]
    offered: tuple[int, ...]
    achieved: tuple[int, ...]  # completed per second
    ok: tuple[int, ...]
    dropped: tuple[int, ...]
    latency_ms: Mapping[str, tuple[float | None, ...]]  # "p50".."p99", corrected
    uncorrected_ms: Mapping[str, tuple[float | None, ...]]
    errors: Mapping[str, tuple[int, ...]]  # kind -> count per second
    tiers: tuple[TierSeries, ...]
    bands: tuple[Band, ...]  # saturation ranges
    onsets: tuple[Band, ...]  # bottleneck onset markers
    events: tuple[Band, ...]  # events (abort, observer faults) as markers
    window_s: tuple[float, float] | None = None  # the analysis' steady window, if it chose one


@dataclass(frozen=True)
class EnvRow:
    """One snapshot fact across arms."""

    key: str
    values: Mapping[str, str]  # arm -> value ("a → b" when it changed during runs)
    differs: bool  # differs between arms
    declared: bool  # the arms declare it (a parameter) or the trial expects it to vary
    confounder: bool
    changed_during_run: bool


@dataclass(frozen=True)
class ActionRow:
    """One provider action, for the journal table."""

    run_id: int | None
    arm: str
    name: str
    started_at: float
    duration_s: float
    status: str
    error: str


@dataclass(frozen=True)
class Provenance:
    """Where the results came from."""

    trial_name: str
    trial_id: int
    file_path: str
    file_hash: str
    file_text: str
    created_at: float
    loadtrial_version: str
    python_version: str
    host: str
    store_path: str
    generated_at: float


@dataclass(frozen=True)
class Report:
    """The whole report of one trial."""

    title: str
    hypothesis: str
    overall: str  # supported | refuted | inconclusive | mixed | no claims
    claims: tuple[ClaimView, ...]
    confounders: tuple[FindingView, ...]
    bottleneck: FindingView | None
    arms: tuple[ArmRow, ...]
    runs: tuple[RunTimeline, ...]
    env_rows: tuple[EnvRow, ...]
    env_arms: tuple[str, ...]
    actions: tuple[ActionRow, ...]
    scalability: tuple[FindingView, ...]
    findings: tuple[FindingView, ...]  # every finding, for the full list
    provenance: Provenance
    slo_text: str
    duration_s: float  # the longest run, for the shared time axis
    notes: tuple[str, ...] = field(default_factory=tuple)
    slo_p99_ms: float | None = None
    bottlenecks: tuple[FindingView, ...] = ()  # every arm's bottleneck finding
    load_text: str = ""  # the load in words
    repeat: int = 1
    requests: tuple[RequestCell, ...] = ()  # arms × request names (2+ names only)
    whatif: tuple[WhatifRow, ...] = ()  # each arm predicted from the others (whatif_section)
    slo_request: str | None = None  # the request the SLO judges (None: the whole run)
