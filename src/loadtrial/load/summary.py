"""The JSON summary of a LoadResult (the `--json` file of `loadtrial load`).

In: a LoadResult. Out: a plain dict with exactly these keys: target, model, duration_s,
completed, ok, offered_rate_per_s, achieved_rate_per_s, latency_ms{p50,p90,p99,p999,max},
uncorrected_latency_ms{...}, errors{kind: count}, late, dropped,
generator{cpu_percent, max_send_lag_ms}, engine{engine, workers, ...}, valid,
invalid_reasons[], partial_seconds[], seconds[], requests{name: {completed, ok, sent,
rate_per_s, error_rate, errors{}, latency_ms{...}, uncorrected_latency_ms{...}}}.

`completed` counts finished requests (a response or an error); `requests` holds the
same figures per request name (a flow step is named `flow.step`); `achieved_rate_per_s` is
requests sent per second of schedule run. Percentiles come from the histograms merged
over every second, never from averaging per-second percentiles.
"""

from __future__ import annotations

from typing import Any

from hdrh.histogram import HdrHistogram

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats, LoadResult, request_names, request_seconds
from loadtrial.load.pooled import pool

_PERCENTS = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9, "max": 100.0}


def latency_ms(hist: HdrHistogram) -> dict[str, float]:
    """Return {p50, p90, p99, p999, max} in milliseconds of a µs histogram."""
    q = hdr.quantiles_us(hist, list(_PERCENTS.values()))
    return {name: round(q[p] / 1000.0, 3) for name, p in _PERCENTS.items()}


def second_entry(iv: IntervalStats) -> dict[str, Any]:
    """Return one `seconds[]` entry: the counts and p50/p99 of that second."""
    q = hdr.quantiles_us(hdr.decode(iv.latency_hist), [50.0, 99.0])
    return {
        "second": iv.second,
        "offered": iv.offered,
        "sent": iv.sent,
        "completed": iv.completed,
        "ok": iv.ok,
        "errors": sum(iv.errors.values()),
        "late": iv.late,
        "dropped": iv.dropped,
        "p50_ms": round(q[50.0] / 1000.0, 3),
        "p99_ms": round(q[99.0] / 1000.0, 3),
        "cpu_percent": round(iv.cpu_percent, 1),
    }


def engine_entry(result: LoadResult) -> dict[str, Any]:
    """Where the load came from: the engine, its workers and, on Ray, nodes and actors."""
    prov = result.provenance
    entry: dict[str, Any] = {"engine": prov.engine, "workers": prov.workers}
    if prov.engine == "ray":
        entry["address"] = prov.address
        entry["nodes"] = len(prov.nodes)
        entry["t0_spread_bound_ms"] = round(prov.t0_spread_bound_ms, 3)
        entry["actors"] = [
            {"worker": a.worker, "node_ip": a.node_ip, "node_id": a.node_id, "pid": a.pid,
             "clock_offset_ms": a.clock_offset_ms,
             "clock_uncertainty_ms": a.clock_uncertainty_ms}
            for a in prov.actors
        ]  # fmt: skip
    return entry


def request_entry(result: LoadResult, name: str) -> dict[str, Any]:
    """One `requests` entry: the figures of request `name` alone, pooled like the whole."""
    ivs = request_seconds(result.intervals, name)
    window = pool(ivs)
    secs = _run_seconds(result)
    sent = sum(i.sent for i in ivs)
    rate = window.error_rate
    return {
        "completed": window.completed,
        "ok": window.ok,
        "sent": sent,
        "rate_per_s": round(sent / secs, 2) if secs else 0.0,
        "error_rate": round(rate, 6) if rate is not None else None,
        "errors": window.errors,
        "latency_ms": latency_ms(window.latency),
        "uncorrected_latency_ms": latency_ms(hdr.merge(i.uncorrected_hist for i in ivs)),
    }


def _run_seconds(result: LoadResult) -> float:
    """Seconds of schedule run (falls back to the number of seconds recorded)."""
    return result.duration_s or float(len(result.intervals))


def summarize(result: LoadResult) -> dict[str, Any]:
    """Return the JSON-ready summary of a run."""
    ivs = result.intervals
    secs = _run_seconds(result)
    window = pool(ivs)
    sent = sum(i.sent for i in ivs)
    lag = hdr.merge(i.send_lag_hist for i in ivs)
    return {
        "target": result.plan.requests[0].url if result.plan.requests else "",
        "model": result.plan.kind,
        "duration_s": round(secs, 3),
        "completed": window.completed,
        "ok": window.ok,
        "offered_rate_per_s": round(window.offered / secs, 2) if secs else 0.0,
        "achieved_rate_per_s": round(sent / secs, 2) if secs else 0.0,
        "latency_ms": latency_ms(window.latency),
        "uncorrected_latency_ms": latency_ms(hdr.merge(i.uncorrected_hist for i in ivs)),
        "errors": window.errors,
        "late": sum(i.late for i in ivs),
        "dropped": window.dropped,
        "generator": {
            "cpu_percent": round(sum(i.cpu_percent for i in ivs) / len(ivs), 1) if ivs else 0.0,
            "max_send_lag_ms": round(int(lag.get_max_value()) / 1000.0, 3)
            if lag.get_total_count()
            else 0.0,
        },
        "engine": engine_entry(result),
        "valid": result.valid,
        "invalid_reasons": list(result.invalid_reasons),
        "partial_seconds": list(result.partial_seconds),
        "seconds": [second_entry(i) for i in ivs],
        "requests": {name: request_entry(result, name) for name in request_names(result.plan)},
    }
