"""Findings: what the analysis concludes, as the store keeps it and the report shows it.

A neutral module below store, analysis and report (all three use it; none owns it).
Every finding carries one plain sentence (`summary`) and the numbers behind it
(`evidence`, JSON-able), so the terminal, the HTML report and `--json` say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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


@dataclass(frozen=True)
class Finding:
    """One conclusion with its evidence."""

    kind: FindingKind
    subject: str  # what it is about: "run 3", "arm bigger-db", "claim 1", "db.connections"
    summary: str  # one sentence a person can read
    status: str = ""  # kind-specific: pass|fail, supported|refuted|inconclusive, higher|...
    evidence: Mapping[str, Any] = field(default_factory=dict)
    arm: str = ""
    run_id: int | None = None
