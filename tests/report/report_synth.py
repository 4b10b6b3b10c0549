"""A synthetic trial with known answers, for the report's tests and benchmarks (a test
fixture: it lived in src/loadtrial/report/ though no command uses it; the bench scripts
import it from here).

In: the arm names, repetitions, seconds per run and a few strings (so tests can plant
`<script>` in every user- and server-supplied field). Out: (TrialData, Trial, findings)
shaped like the real thing: the first two arms run out of database connections at about
t = 60 % of the run (502s, latency spike), the last arm does not; its writer flips mid-run
(a confounder). Deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loadtrial.analysis import analyze_trial
from loadtrial.env.model import Action
from loadtrial.findings import Finding
from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats
from loadtrial.spec.model import Trial
from loadtrial.store.model import Event, RunData, RunInfo, Series, TrialData, TrialInfo

T0_WALL = 1_764_129_600.0  # 2025-11-26 04:00 UTC


@dataclass(frozen=True)
class Scenario:
    """What to synthesise."""

    arms: tuple[str, ...] = ("baseline", "more-app-nodes", "bigger-db")
    repeat: int = 3
    seconds: int = 60
    hypothesis: str = (
        "At 600 req/s the 5xx come from the database running out of connections: "
        "a bigger database removes them; more app nodes do not."
    )
    name: str = "db-vs-app-scale"
    fact_suffix: str = ""  # appended to snapshot values (escaping tests)
    event_message: str = "observer db: connection refused"
    values_per_second: int = 300  # latencies binned per second (the histogram's sample)
    seed: int = 7


def make_trial(sc: Scenario) -> Trial:
    """Return the Trial a user would have written for the scenario."""
    good = sc.arms[-1]
    return Trial.model_validate(
        {
            "name": sc.name,
            "hypothesis": sc.hypothesis,
            "target": {"base_url": "http://127.0.0.1:8080"},
            "load": {"warmup": "5s", "stages": [{"ramp_to": 600, "duration": f"{sc.seconds}s"}]},
            "arms": {a: _params(i, len(sc.arms)) for i, a in enumerate(sc.arms)},
            "repeat": sc.repeat,
            "slo": {"p99": "500ms", "error_rate": "0.1%"},
            "env": {"provider": "testbed"},  # its arms' parameters are the testbed's
            "expected_to_vary": ["db.instance_type"],  # the bigger db is a bigger instance
            "expect": [
                {"arm": good, "meets_slo": True},
                {"arm": sc.arms[min(1, len(sc.arms) - 1)], "vs": sc.arms[0]}
                | {"metric": "error_rate", "expect": "not_lower"},
            ],
        }
    )


def _params(i: int, n: int) -> dict[str, int]:
    """Arm parameters: the last arm has the bigger database, the second more app nodes."""
    big = i == n - 1 and n > 1
    return {"app_nodes": 8 if i == 1 else 4, "db_max_connections": 60 if big else 20}


def make_data(sc: Scenario) -> TrialData:
    """Return the stored trial: runs interleaved by repetition."""
    rng = np.random.default_rng(sc.seed)
    runs: list[RunData] = []
    for rep in range(1, sc.repeat + 1):
        for i, arm in enumerate(sc.arms):
            broken = i < len(sc.arms) - 1 or len(sc.arms) == 1
            runs.append(_run(sc, rng, len(runs) + 1, arm, rep, broken))
    info = TrialInfo(
        1, sc.name, sc.hypothesis, T0_WALL, "trial.yaml", _file_text(sc), "ab12cd34", "complete"
    )
    return TrialData(info=info, runs=tuple(runs))


def _file_text(sc: Scenario) -> str:
    """The trial file as the user wrote it (abridged)."""
    arms = "\n".join(f"  {a}: {{}}" for a in sc.arms)
    return f"name: {sc.name}\nhypothesis: {sc.hypothesis}\narms:\n{arms}\nrepeat: {sc.repeat}\n"


def _run(
    sc: Scenario, rng: np.random.Generator, rid: int, arm: str, rep: int, broken: bool
) -> RunData:
    """One run: load ramps to 600/s; a broken arm saturates the DB at 60 % of the run."""
    onset = int(sc.seconds * 0.6)
    cap = 20.0 if broken else 60.0
    seconds = [_second(sc, rng, k, onset if broken else None) for k in range(sc.seconds)]
    t = np.arange(sc.seconds, dtype=np.float64) + 0.5
    rate = 600.0 * (t + 0.5) / sc.seconds
    conns = np.minimum(cap, rate / 600.0 * 34 + rng.normal(0, 0.6, sc.seconds)).clip(0)
    cpu = np.minimum(100.0, rate / 6.0 * (1.0 if broken else 0.55) + rng.normal(0, 2, sc.seconds))
    series = (
        Series("db.connections.used", "count", cap, t, conns),
        Series("db.cpu.util", "percent", 100.0, t, cpu.clip(0)),
        Series("app.cpu.util", "percent", 400.0, t, (rate / 3.0).clip(0, 400)),
    )
    start = T0_WALL + rid * (sc.seconds + 20)
    flip = not broken
    before = _facts(sc, arm, cap, "db-1")
    after = _facts(sc, arm, cap, "db-2" if flip else "db-1")
    events = (Event(onset + 1.0, "observer_fault", sc.event_message),) if broken else ()
    actions = (
        Action(f"apply {arm}", start - 12.0, start - 3.5, "ok"),
        Action(f"revert {arm}", start + sc.seconds + 1, start + sc.seconds + 4, "ok"),
    )
    return RunData(
        info=RunInfo(rid, 1, arm, rep, rid - 1, "complete", {}, start, start + sc.seconds, 5.0),
        seconds=tuple(seconds),
        series=series,
        snapshots={"before": before, "after": after},
        events=events,
        actions=actions,
    )


def _facts(sc: Scenario, arm: str, cap: float, writer: str) -> dict[str, str]:
    """The facts a provider would read back."""
    return {
        "db.max_connections": f"{cap:.0f}",
        "db.writer": writer + sc.fact_suffix,
        "db.instance_type": ("db.r6g.2xlarge" if cap > 20 else "db.r6g.large") + sc.fact_suffix,
        "app.nodes": "8" if "more" in arm else "4",
        "app.version": "1.4.2",
    }


def _second(sc: Scenario, rng: np.random.Generator, k: int, onset: int | None) -> IntervalStats:
    """One second: latency lognormal around 40 ms, exploding after a saturation onset."""
    offered = round(600.0 * (k + 1) / sc.seconds)
    over = onset is not None and k >= onset
    errors = (
        {"http_502": int(rng.binomial(offered, 0.18)), "timeout": int(rng.binomial(offered, 0.03))}
        if over
        else {}
    )
    n = max(1, min(offered, sc.values_per_second))
    median_us = 40_000.0 * (12.0 if over else 1.0)
    values = rng.lognormal(np.log(median_us), 0.45, n)
    send_lag = rng.exponential(300.0, n)
    return IntervalStats(
        second=k,
        offered=offered,
        sent=offered,
        completed=offered,
        ok=offered - sum(errors.values()),
        errors=errors,
        latency_hist=hdr.encode(hdr.from_values_us(values + send_lag)),
        uncorrected_hist=hdr.encode(hdr.from_values_us(values)),
        max_send_lag_us=int(send_lag.max()),
        cpu_percent=12.0,
    )


def scenario(sc: Scenario | None = None) -> tuple[TrialData, Trial, tuple[Finding, ...]]:
    """Return (data, trial, findings) for `sc` (default: 3 arms × 3 reps × 60 s); the
    findings are the real analysis' of the synthetic data, so the report is tested on the
    shapes the analysis really produces."""
    sc = sc or Scenario()
    data, trial = make_data(sc), make_trial(sc)
    return data, trial, analyze_trial(data, trial)


def arms_named(names: Sequence[str]) -> Scenario:
    """Return the default scenario with other arm names."""
    return Scenario(arms=tuple(names))
