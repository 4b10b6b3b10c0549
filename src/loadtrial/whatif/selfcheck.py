"""The model checked against itself: each measured arm predicted from the other arms.

In: `TrialData` and its `Trial`. Out: one `SelfCheck` per (measured arm, source arm): the
model measured on the source arm, given the measured arm's topology and arrival rate,
predicts throughput, p99, error rate and the bottleneck; beside each, what was measured
(the analysis' pooled figures of the arm's steady windows) and whether the measurement lies
inside the stated interval. A prediction outside its interval says so in its sentence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from loadtrial.analysis.slo import pooled_figures
from loadtrial.analysis.windows import MIN_STEADY_S
from loadtrial.errors import UserError
from loadtrial.load import schedule
from loadtrial.load.model import OpenModel
from loadtrial.spec.model import Trial
from loadtrial.store.model import TrialData
from loadtrial.whatif.measure import arm_setting, model_from_arm, usable_runs
from loadtrial.whatif.model import TOPOLOGY_KNOBS, Topology, WhatifModel, with_settings
from loadtrial.whatif.predict import Figure, Prediction, label, predict

# what an arm declares or the system reports as configured; not what the source arm
# measured about its own run (other sessions' slots, warm pools)
ARM_KNOBS = tuple(
    k for k in TOPOLOGY_KNOBS if not k.startswith("warm_") and k != "db_other_connections"
)
CHECKED = ("throughput_per_s", "p99_s", "error_rate")


@dataclass(frozen=True)
class Measured:
    """An arm's pooled figures (the analysis' own)."""

    throughput_per_s: float
    p99_s: float
    error_rate: float


@dataclass(frozen=True)
class SelfCheck:
    """One arm predicted from another, beside what it measured."""

    arm: str
    from_arm: str
    prediction: Prediction
    measured: Measured
    inside: dict[str, bool]  # metric -> measured value inside the predicted interval

    @property
    def holds(self) -> bool:
        """True when every checked figure lies inside its interval."""
        return all(self.inside.values())

    def sentence(self) -> str:
        """One line: the figures, and whether the model's error exceeded its uncertainty."""
        p, m = self.prediction, self.measured
        head = (
            f"{self.arm} from {self.from_arm}: predicted {_x(p.throughput_per_s)} ok/s, "
            f"p99 {_s(p.p99_s)}, errors {_pct(p.error_rate)} ({label(p.bottleneck)}); "
            f"measured {m.throughput_per_s:.1f} ok/s, p99 {m.p99_s:.2f}s, "
            f"errors {m.error_rate:.1%}"
        )
        if self.holds:
            return head + ": within the stated uncertainty."
        off = ", ".join(k for k, ok in self.inside.items() if not ok)
        return head + f": OUTSIDE the stated uncertainty on {off} — do not trust this model here."


def _x(f: Figure) -> str:
    return f"{f.value:.1f} [{f.low:.1f}-{f.high:.1f}]"


def _s(f: Figure) -> str:
    return f"{f.value:.2f}s [{f.low:.2f}-{f.high:.2f}]"


def _pct(f: Figure) -> str:
    return f"{f.value:.1%} [{f.low:.1%}-{f.high:.1%}]"


def measured_figures(data: TrialData, trial: Trial, arm: str) -> Measured | None:
    """The arm's pooled figures over its valid runs; None when it has none."""
    try:
        views = [v for _, v in usable_runs(data, trial, arm)]
    except UserError:
        return None
    f = pooled_figures(views)
    return Measured(f.throughput_per_s, f.latency_us[99.0] / 1e6, f.error_rate)


def retarget(source: WhatifModel, topology: Topology, rate_per_s: float) -> WhatifModel:
    """The source arm's model with another arm's topology knobs and arrival rate."""
    settings = {
        k: str(getattr(topology, k))
        for k in ARM_KNOBS
        if getattr(topology, k) != getattr(source.topology, k)
    }
    settings["rate"] = str(rate_per_s)
    return with_settings(source, settings)


def capped_run(model: WhatifModel, max_requests: int) -> WhatifModel:
    """The model with its run's last stage shortened so it sends about `max_requests` at
    most (a report's glance at a 2000/s trial stays seconds); never to under MIN_STEADY_S
    of that stage after warm-up. A shorter plateau grows a shorter backlog: a glance only."""
    segs = schedule.segments(OpenModel(model.stages))
    if not segs:
        return model
    peak = max(max(g.rate0, g.rate1) for g in segs)
    k = model.rate_per_s / peak if peak > 0 else 0.0
    last = segs[-1]
    excess = k * last.count1 - max_requests
    mean_rate = k * (last.rate0 + last.rate1) / 2
    if excess <= 0 or mean_rate <= 0:
        return model
    floor = max(0.0, model.warmup_s - last.start_s) + MIN_STEADY_S
    duration = max(min(floor, last.duration_s), last.duration_s - excess / mean_rate)
    stages = (*model.stages[:-1], dataclasses.replace(model.stages[-1], duration_s=duration))
    return dataclasses.replace(model, stages=stages)


@dataclass(frozen=True)
class SelfCheckResult:
    """The checks, and the arms no model could be measured on (arm -> why)."""

    checks: tuple[SelfCheck, ...]
    unmodelled: dict[str, str]

    @property
    def missed(self) -> list[SelfCheck]:
        """Checks whose measurement fell outside the predicted interval."""
        return [c for c in self.checks if not c.holds]


def self_check(
    data: TrialData,
    trial: Trial,
    *,
    replications: int = 3,
    max_requests: int | None = None,
) -> SelfCheckResult:
    """Every measured arm predicted from every other arm that yields a model (each
    replication simulates the trial's run at the measured arm's rate); with `max_requests`,
    a run that would send more has its last stage shortened (`capped_run`)."""
    arms = list(dict.fromkeys(r.info.arm for r in data.runs))
    if trial.load.model == "closed":
        return SelfCheckResult((), {a: "a closed-model trial is not modelled" for a in arms})
    models: dict[str, WhatifModel] = {}
    unmodelled: dict[str, str] = {}
    for arm in arms:
        try:
            models[arm] = model_from_arm(data, trial, arm)
        except UserError as exc:  # still checked as a target, from the other arms
            unmodelled[arm] = exc.message
    out = []
    for arm in arms:
        measured = measured_figures(data, trial, arm)
        if measured is None:
            continue
        topology, rate = arm_setting(data, trial, arm)
        for source in (a for a in arms if a != arm and a in models):
            try:
                target = retarget(models[source], topology, rate)
            except UserError as exc:  # e.g. an arm that offered nothing
                unmodelled.setdefault(arm, exc.message)
                continue
            if max_requests is not None:
                target = capped_run(target, max_requests)
            p = predict(target, replications=replications)
            inside = {k: getattr(p, k).contains(getattr(measured, k)) for k in CHECKED}
            out.append(SelfCheck(arm, source, p, measured, inside))
    return SelfCheckResult(tuple(out), unmodelled)


def checks_doc(checks: Sequence[SelfCheck]) -> list[dict[str, object]]:
    """JSON-able rows of the self-check."""
    return [
        {
            "arm": c.arm,
            "from_arm": c.from_arm,
            "holds": c.holds,
            "inside": dict(c.inside),
            "predicted": {k: dataclasses.asdict(getattr(c.prediction, k)) for k in CHECKED},
            "bottleneck": c.prediction.bottleneck,
            "measured": dataclasses.asdict(c.measured),
            "summary": c.sentence(),
        }
        for c in checks
    ]
