"""Findings to and from the flat JSON the store keeps and `analyze --json` prints.

In: a `Finding` (or its evidence). Out: a JSON object with the keys the analysis always
wrote (docs/analysis.md); and back. The reader is the one place that looks keys up, and it
is lenient (a key an older store lacks takes its default), so stores written before the
evidence was typed still load.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from loadtrial.findings.model import (
    BottleneckEvidence,
    ComparisonEvidence,
    ConfounderEvidence,
    Demand,
    Effect,
    Evidence,
    Finding,
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

# --- to JSON ---------------------------------------------------------------------------


def _window_json(w: RunWindow | None) -> JsonDoc:
    if w is None:
        return {}
    return {"window_start_s": w.start_s, "window_end_s": w.end_s, "window_how": w.how,
            "latency_onset_s": w.latency_onset_s, "error_onset_s": w.error_onset_s}  # fmt: skip


def _slo_json(e: SloEvidence) -> JsonDoc:
    # the key order the analysis always wrote (the report's folded evidence shows it)
    out: JsonDoc = {
        "requests": e.requests,
        "errors": e.errors,
        "error_rate": e.error_rate,
        "throughput_per_s": e.throughput_per_s,
        "seconds": e.seconds,
        **{f"p{p:g}_us": v for p, v in e.latency_us},
    }
    objectives: JsonValue = [
        {"name": o.name, "limit": o.limit, "value": o.value, "met": o.met} for o in e.objectives
    ]
    if e.breaches is None:
        out.update(objectives=objectives, request=e.request)
    else:
        out.update(request=e.request, breaches=list(e.breaches), objectives=objectives)
    return {**out, **_window_json(e.window)}


def _effect_json(e: Effect) -> JsonDoc:
    return {"metric": e.metric, "unit": e.unit, "arm": e.arm, "vs": e.vs, "request": e.request,
            "level_arm": e.level_arm, "level_vs": e.level_vs, "difference": e.difference,
            "relative": e.relative, "ci": list(e.ci), "relative_ci": list(e.relative_ci),
            "p_value": e.p_value, "df": e.df, "tolerance": e.tolerance,
            "n_runs": list(e.n_runs), "test": e.test}  # fmt: skip


def _verdict_json(e: VerdictEvidence) -> JsonDoc:
    out: JsonDoc = _effect_json(e.effect) if e.effect else {}
    if e.slo is not None:
        out.update(arm_slo=_slo_json(e.slo.arm_slo), runs_failing=e.slo.runs_failing,
                   runs=e.slo.runs)  # fmt: skip
    out.update(claim=dict(e.claim), reason=e.reason, confounded_by=list(e.confounded_by))
    return out


def _limit_json(e: Limit | None) -> JsonDoc:
    if e is None:
        return {}
    out: JsonDoc = {"resource": e.resource, "saturated_at_s": e.saturated_at_s,
                    "peak_util": e.peak_util, "capacity": e.capacity, "unit": e.unit,
                    "correlation": e.correlation, "score": e.score,
                    "offered_per_s": e.offered_per_s}  # fmt: skip
    if e.also_saturated is not None:
        out["also_saturated"] = list(e.also_saturated)
    return out


def _bottleneck_json(e: BottleneckEvidence) -> JsonDoc:
    out: JsonDoc = {
        "onset_s": e.onset_s,
        "latency_onset_s": e.latency_onset_s,
        "error_onset_s": e.error_onset_s,
        "throughput_per_s": e.throughput_per_s,
        "steady_offered_per_s": e.steady_offered_per_s,
        "peaks": dict(e.peaks),
        "demand": {
            n: {"demand_ms": d.demand_ms, "bound_per_s": d.bound_per_s, "mean_util": d.mean_util}
            for n, d in e.demand.items()
        },
        "d_max": e.d_max,
        "error_series": dict(e.error_series),
        **({} if e.at_capacity is None else {"at_capacity": dict(e.at_capacity)}),
        **_limit_json(e.limit),
        "per_run": dict(e.per_run),
        "runs_saturated": e.runs_saturated,
        "runs": e.runs,
        "not_helping": list(e.not_helping),
        "not_limits": {
            t: {"series": q.series, "peak_util": q.peak_util} for t, q in e.not_limits.items()
        },
        "missing_tiers": list(e.missing_tiers),
        "tier": e.tier,
    }
    return out


def _usl_json(e: UslFit) -> JsonDoc:
    return {"sigma": e.sigma, "kappa": e.kappa, "lambda": e.lam, "sigma_se": e.sigma_se,
            "kappa_se": e.kappa_se, "lambda_se": e.lambda_se, "peak_n": e.peak_n,
            "peak_throughput": e.peak_throughput, "r2": e.r2, "n_points": e.n_points,
            "points": [list(p) for p in e.points], "over": e.over}  # fmt: skip


def evidence_json(e: Evidence) -> JsonDoc:
    """The evidence as one flat JSON object (the keys of docs/analysis.md)."""
    match e:
        case SloEvidence():
            return _slo_json(e)
        case ComparisonEvidence():
            return {**_effect_json(e.effect), "reason": e.reason}
        case VerdictEvidence():
            return _verdict_json(e)
        case ValidityEvidence():
            return {"reasons": list(e.reasons), "notes": list(e.notes),
                    "missing_tiers": list(e.missing_tiers), "requests": e.requests,
                    "status": e.status, "abort_reason": e.abort_reason}  # fmt: skip
        case ResourceErrors():
            return {"errors_at_s": e.errors_at_s, "error_total": e.error_total,
                    "kind": "errors", "series": e.series, "tier": e.tier}  # fmt: skip
        case ResourceSaturated():
            return {"saturated_at_s": e.saturated_at_s, "peak_util": e.peak_util,
                    "mean_util": e.mean_util, "capacity": e.capacity,
                    "saturated_s": e.saturated_s, "series": e.series, "tier": e.tier,
                    "kind": "utilisation"}  # fmt: skip
        case NoBottleneck():
            return {"per_run": dict(e.per_run), "missing_tiers": list(e.missing_tiers),
                    "peaks": dict(e.peaks), "at_capacity": dict(e.at_capacity)}  # fmt: skip
        case BottleneckEvidence():
            return _bottleneck_json(e)
        case ConfounderEvidence():
            return {"fact": e.fact, "arms": list(e.arms),
                    "values": {k: list(v) for k, v in e.values.items()}}  # fmt: skip
        case UslFit():
            return _usl_json(e)
        case UslNotFitted():
            return {"points": [list(p) for p in e.points], "over": e.over,
                    "levels": list(e.levels)}  # fmt: skip


def finding_json(f: Finding) -> JsonDoc:
    """A finding as JSON (as the store keeps it and `analyze --json` prints it)."""
    return {"kind": f.kind, "subject": f.subject, "summary": f.summary, "status": f.status,
            "arm": f.arm, "run_id": f.run_id, "evidence": evidence_json(f.evidence)}  # fmt: skip


# --- from JSON (lenient: a key an older store lacks takes its default) -----------------


def _num(v: object, default: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return default
    return float(v)


def _opt(v: object) -> float | None:
    """A number, or None (absent, null, or not finite)."""
    out = _num(v, math.nan)
    return out if math.isfinite(out) else None


def _opt_int(v: object) -> int | None:
    """A whole number, or None (absent, null, or not finite)."""
    out = _opt(v)
    return None if out is None else int(out)


def _int(v: object) -> int:
    x = _num(v)
    return int(x) if math.isfinite(x) else 0


def _str(v: object) -> str:
    return v if isinstance(v, str) else ""


def _list(v: object) -> list[object]:
    return list(v) if isinstance(v, list | tuple) else []


def _strs(v: object) -> tuple[str, ...]:
    return tuple(str(x) for x in _list(v))


def _doc(v: object) -> Mapping[str, object]:
    return {str(k): x for k, x in v.items()} if isinstance(v, Mapping) else {}


def _floats(v: object) -> dict[str, float]:
    return {k: _num(x) for k, x in _doc(v).items()}


def _pair(v: object) -> Pair:
    a, b = [*_list(v), math.nan, math.nan][:2]
    return _num(a, math.nan), _num(b, math.nan)


def _points(v: object) -> tuple[Pair, ...]:
    return tuple(_pair(p) for p in _list(v))


def _json(v: object) -> JsonValue:
    """`v` as JSON data (what json.loads gives back is already so)."""
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, Mapping):
        return {str(k): _json(x) for k, x in v.items()}
    return [_json(x) for x in _list(v)]


def _window(d: Mapping[str, object]) -> RunWindow | None:
    if "window_start_s" not in d:
        return None
    return RunWindow(_int(d["window_start_s"]), _int(d.get("window_end_s")),
                     _str(d.get("window_how")), _opt_int(d.get("latency_onset_s")),
                     _opt_int(d.get("error_onset_s")))  # fmt: skip


def _slo(d: Mapping[str, object]) -> SloEvidence:
    # the store writes keys sorted as text ("p99.9_us" before "p99_us"): order by percentile
    lat = tuple(
        sorted(
            (float(k[1:-3]), _opt(v))
            for k, v in d.items()
            if k.startswith("p") and k.endswith("_us")
        )
    )
    objectives = tuple(
        Objective(
            _str(o.get("name")), _num(o.get("limit")), _opt(o.get("value")), bool(o.get("met"))
        )
        for o in map(_doc, _list(d.get("objectives")))
    )
    request = d.get("request")
    return SloEvidence(
        requests=_int(d.get("requests")), errors=_int(d.get("errors")),
        error_rate=_num(d.get("error_rate")), throughput_per_s=_num(d.get("throughput_per_s")),
        seconds=_int(d.get("seconds")), latency_us=lat,
        request=request if isinstance(request, str) else None, objectives=objectives,
        breaches=_strs(d["breaches"]) if "breaches" in d else None, window=_window(d),
    )  # fmt: skip


def _effect(d: Mapping[str, object]) -> Effect:
    a, b = [*_list(d.get("n_runs")), 0, 0][:2]
    return Effect(
        metric=_str(d.get("metric")), unit=_str(d.get("unit")), arm=_str(d.get("arm")),
        vs=_str(d.get("vs")), request=_str(d.get("request")),
        level_arm=_num(d.get("level_arm"), math.nan), level_vs=_num(d.get("level_vs"), math.nan),
        difference=_num(d.get("difference"), math.nan),
        relative=_num(d.get("relative"), math.nan), ci=_pair(d.get("ci")),
        relative_ci=_pair(d.get("relative_ci")), p_value=_num(d.get("p_value"), math.nan),
        df=_num(d.get("df"), math.nan), tolerance=_num(d.get("tolerance")),
        n_runs=(_int(a), _int(b)), test=_str(d.get("test")),
    )  # fmt: skip


def _verdict(d: Mapping[str, object]) -> VerdictEvidence:
    slo = None
    if "arm_slo" in d:
        slo = SloClaimFigures(_slo(_doc(d["arm_slo"])), _int(d.get("runs_failing")),
                              _int(d.get("runs")))  # fmt: skip
    claim = {k: _json(v) for k, v in _doc(d.get("claim")).items()}
    return VerdictEvidence(claim, _str(d.get("reason")), _strs(d.get("confounded_by")),
                           _effect(d) if "metric" in d else None, slo)  # fmt: skip


def _limit(d: Mapping[str, object]) -> Limit | None:
    if not isinstance(d.get("resource"), str):
        return None
    return Limit(
        resource=_str(d["resource"]), saturated_at_s=_num(d.get("saturated_at_s")),
        peak_util=_num(d.get("peak_util")), capacity=_opt(d.get("capacity")),
        unit=_str(d.get("unit")), correlation=_num(d.get("correlation")),
        score=_num(d.get("score")), offered_per_s=_opt(d.get("offered_per_s")),
        also_saturated=_strs(d["also_saturated"]) if "also_saturated" in d else None,
    )  # fmt: skip


def _bottleneck(status: str, d: Mapping[str, object]) -> NoBottleneck | BottleneckEvidence:
    per_run = {k: _str(v) for k, v in _doc(d.get("per_run")).items()}
    missing, peaks = _strs(d.get("missing_tiers")), _floats(d.get("peaks"))
    if status == "none":
        return NoBottleneck(per_run, missing, peaks, _floats(d.get("at_capacity")))
    demand = {n: Demand(_num(x.get("demand_ms")), _num(x.get("bound_per_s")),
                        _num(x.get("mean_util")))
              for n, x in ((n, _doc(x)) for n, x in _doc(d.get("demand")).items())}  # fmt: skip
    quiet = {t: QuietTier(_str(x.get("series")), _num(x.get("peak_util")))
             for t, x in ((t, _doc(x)) for t, x in _doc(d.get("not_limits")).items())}  # fmt: skip
    return BottleneckEvidence(
        tier=_str(d.get("tier")), per_run=per_run, runs_saturated=_int(d.get("runs_saturated")),
        runs=_int(d.get("runs")), not_helping=_strs(d.get("not_helping")), not_limits=quiet,
        missing_tiers=missing, onset_s=_opt_int(d.get("onset_s")),
        latency_onset_s=_opt_int(d.get("latency_onset_s")),
        error_onset_s=_opt_int(d.get("error_onset_s")),
        throughput_per_s=_num(d.get("throughput_per_s")),
        steady_offered_per_s=_opt(d.get("steady_offered_per_s")), peaks=peaks, demand=demand,
        d_max=_str(d.get("d_max")), error_series=_floats(d.get("error_series")),
        at_capacity=_floats(d["at_capacity"]) if "at_capacity" in d else None, limit=_limit(d),
    )  # fmt: skip


def _scalability(status: str, d: Mapping[str, object]) -> UslFit | UslNotFitted:
    points, over = _points(d.get("points")), _str(d.get("over"))
    if status == "not_fitted":
        return UslNotFitted(points, over, tuple(_num(x) for x in _list(d.get("levels"))))
    return UslFit(
        sigma=_opt(d.get("sigma")), kappa=_opt(d.get("kappa")), lam=_opt(d.get("lambda")),
        sigma_se=_opt(d.get("sigma_se")), kappa_se=_opt(d.get("kappa_se")),
        lambda_se=_opt(d.get("lambda_se")), peak_n=_opt(d.get("peak_n")),
        peak_throughput=_opt(d.get("peak_throughput")), r2=_opt(d.get("r2")),
        n_points=_int(d.get("n_points")), points=points, over=over,
    )  # fmt: skip


def evidence_from_json(kind: str, status: str, d: Mapping[str, object]) -> Evidence:
    """Read evidence written by `evidence_json` (or by a store from before typed evidence)
    back into its class; `status` tells the shapes of one kind apart."""
    match kind:
        case "slo":
            return _slo(d)
        case "comparison":
            return ComparisonEvidence(_effect(d), _str(d.get("reason")))
        case "verdict":
            return _verdict(d)
        case "validity":
            return ValidityEvidence(
                _strs(d.get("reasons")), _strs(d.get("notes")), _strs(d.get("missing_tiers")),
                _int(d.get("requests")), _str(d.get("status")), _str(d.get("abort_reason")),
            )  # fmt: skip
        case "saturation" if status == "errors" or d.get("kind") == "errors":
            return ResourceErrors(_num(d.get("errors_at_s")), _num(d.get("error_total")),
                                  _str(d.get("series")), _str(d.get("tier")))  # fmt: skip
        case "saturation":
            return ResourceSaturated(
                _num(d.get("saturated_at_s")), _num(d.get("peak_util")),
                _num(d.get("mean_util")), _opt(d.get("capacity")), _num(d.get("saturated_s")),
                _str(d.get("series")), _str(d.get("tier")),
            )  # fmt: skip
        case "bottleneck":
            return _bottleneck(status, d)
        case "confounder":
            values = {
                k: tuple(_json(x) for x in _list(v)) for k, v in _doc(d.get("values")).items()
            }
            return ConfounderEvidence(_str(d.get("fact")), _strs(d.get("arms")), values)
        case "scalability":
            return _scalability(status, d)
    raise ValueError(f"unknown finding kind {kind!r}")


def finding_from_json(doc: Mapping[str, object]) -> Finding:
    """A finding as `finding_json` (or an older store) wrote it."""
    kind, status = _str(doc.get("kind")), _str(doc.get("status"))
    run_id = doc.get("run_id")
    return Finding(
        kind=kind,  # type: ignore[arg-type]  # checked by evidence_from_json
        subject=_str(doc.get("subject")), summary=_str(doc.get("summary")), status=status,
        evidence=evidence_from_json(kind, status, _doc(doc.get("evidence"))),
        arm=_str(doc.get("arm")), run_id=run_id if isinstance(run_id, int) else None,
    )  # fmt: skip
