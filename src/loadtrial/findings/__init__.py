"""Findings: what the analysis concludes, as the store keeps it and the report shows it.

A neutral package below store, analysis and report (all three use it; none owns it).
Door: `Finding` and one frozen evidence class per finding kind and shape (model.py), and
`finding_json` / `finding_from_json` / `evidence_json` / `evidence_from_json`, the flat
JSON the store keeps and `analyze --json` prints (codec.py).
"""

from __future__ import annotations

from loadtrial.findings.codec import (
    evidence_from_json,
    evidence_json,
    finding_from_json,
    finding_json,
)
from loadtrial.findings.model import (
    EVIDENCE_OF,
    BottleneckEvidence,
    ComparisonEvidence,
    ConfounderEvidence,
    Demand,
    Effect,
    Evidence,
    Finding,
    FindingKind,
    JsonDoc,
    JsonValue,
    Limit,
    NoBottleneck,
    Objective,
    Pair,
    QuietTier,
    ResourceErrors,
    ResourceSaturated,
    RunWindow,
    SloClaimFigures,
    SloEvidence,
    UslFit,
    UslNotFitted,
    ValidityEvidence,
    VerdictEvidence,
)

__all__ = [
    "EVIDENCE_OF",
    "BottleneckEvidence",
    "ComparisonEvidence",
    "ConfounderEvidence",
    "Demand",
    "Effect",
    "Evidence",
    "Finding",
    "FindingKind",
    "JsonDoc",
    "JsonValue",
    "Limit",
    "NoBottleneck",
    "Objective",
    "Pair",
    "QuietTier",
    "ResourceErrors",
    "ResourceSaturated",
    "RunWindow",
    "SloClaimFigures",
    "SloEvidence",
    "UslFit",
    "UslNotFitted",
    "ValidityEvidence",
    "VerdictEvidence",
    "evidence_from_json",
    "evidence_json",
    "finding_from_json",
    "finding_json",
]
