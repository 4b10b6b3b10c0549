"""Stored runs as plain data: a summary (with each tier's peak utilisation), JSON, CSV.

In: a RunData read from the store. Out: JSON-able dicts for `loadtrial show --json` and
`loadtrial export --format json`, and CSV text with one row per second of the run clock
(load figures, latency quantiles and each metric series' value in that second).
"""

from __future__ import annotations

import base64
import csv
import io
from typing import Any

import numpy as np

from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats, request_seconds
from loadtrial.load.pooled import after_warmup, pool
from loadtrial.observe.model import is_use
from loadtrial.store.model import RunData, Series

QUANTILES = (50.0, 90.0, 99.0, 99.9, 100.0)


def peak_utilisation(run: RunData) -> dict[str, dict[str, Any]]:
    """Per tier: the series with the highest value/capacity, that maximum and when (limits
    and health counts, such as healthy backends, are not utilisations)."""
    peaks: dict[str, dict[str, Any]] = {}
    for s in run.series:
        if not s.capacity or s.values.size == 0 or not is_use(s.name):
            continue
        util = s.values / s.capacity
        i = int(np.argmax(util))
        best = peaks.get(s.tier)
        if best is None or util[i] > best["utilisation"]:
            peaks[s.tier] = {
                "series": s.name,
                "utilisation": float(util[i]),
                "value": float(s.values[i]),
                "capacity": float(s.capacity),
                "t_s": float(s.t_s[i]),
            }
    return peaks


def _load_figures(seconds: tuple[IntervalStats, ...], warmup_s: float) -> dict[str, Any]:
    """Totals and latency quantiles (µs) over the seconds after the warmup."""
    window = pool(after_warmup(seconds, warmup_s))
    return {
        "seconds": window.seconds,
        "offered": window.offered,
        "completed": window.completed,
        "ok": window.ok,
        "dropped": window.dropped,
        "errors": window.errors,
        "error_rate": window.error_rate,
        "throughput_per_s": window.throughput_per_s,
        "latency_us": {_pname(p): v for p, v in window.quantiles_us(QUANTILES).items()},
    }


def _pname(p: float) -> str:
    return "max" if p >= 100 else f"p{p:g}".replace(".", "")


def stored_request_names(run: RunData) -> list[str]:
    """The request names with per-request figures in a run, in recorded order (none when
    the run had one name: its whole figures are that name's)."""
    return list(dict.fromkeys(name for s in run.seconds for name in s.requests))


def run_summary(run: RunData) -> dict[str, Any]:
    """What `loadtrial show` prints: the run, its load figures, peaks, events, journal."""
    i = run.info
    return {
        "run_id": i.run_id,
        "trial_id": i.trial_id,
        "arm": i.arm,
        "repetition": i.repetition,
        "order_index": i.order_index,
        "status": i.status,
        "reason": i.abort_reason,
        "params": dict(i.params),
        "started_at": i.started_at,
        "ended_at": i.ended_at,
        "warmup_s": i.warmup_s,
        "load": _load_figures(run.seconds, i.warmup_s),
        "requests": {
            name: _load_figures(tuple(request_seconds(run.seconds, name)), i.warmup_s)
            for name in stored_request_names(run)
        },
        "peak_utilisation": peak_utilisation(run),
        "snapshots": {k: dict(v) for k, v in run.snapshots.items()},
        "events": [{"t_s": e.t_s, "kind": e.kind, "message": e.message} for e in run.events],
        "actions": [
            {
                "name": a.name,
                "status": a.status,
                "error": a.error,
                "duration_s": round(a.ended_at - a.started_at, 3),
            }
            for a in run.actions
        ],
    }


def run_to_json(run: RunData) -> dict[str, Any]:
    """The whole run: summary, every second (histograms base64) and every series."""
    out = run_summary(run)
    out["seconds"] = [_second_json(s) for s in run.seconds]
    out["series"] = [_series_json(s) for s in run.series]
    return out


def _second_json(s: IntervalStats) -> dict[str, Any]:
    qs = histogram.quantiles_us(histogram.decode(s.latency_hist), list(QUANTILES))
    return {
        "second": s.second, "offered": s.offered, "sent": s.sent, "completed": s.completed,
        "ok": s.ok, "late": s.late, "dropped": s.dropped, "errors": dict(s.errors),
        "latency_us": {_pname(p): v for p, v in qs.items()},
        "max_send_lag_us": s.max_send_lag_us, "cpu_percent": s.cpu_percent,
        "latency_hist": base64.b64encode(s.latency_hist).decode() if s.latency_hist else "",
        "requests": {name: _part_json(p) for name, p in s.requests.items()},
    }  # fmt: skip


def _part_json(s: IntervalStats) -> dict[str, Any]:
    """One request name's part of a second: its counts, errors and histograms."""
    qs = histogram.quantiles_us(histogram.decode(s.latency_hist), list(QUANTILES))
    return {
        "sent": s.sent, "completed": s.completed, "ok": s.ok, "late": s.late,
        "errors": dict(s.errors), "latency_us": {_pname(p): v for p, v in qs.items()},
        "latency_hist": base64.b64encode(s.latency_hist).decode() if s.latency_hist else "",
    }  # fmt: skip


def _series_json(s: Series) -> dict[str, Any]:
    return {
        "name": s.name, "unit": s.unit, "capacity": s.capacity,
        "t_s": s.t_s.tolist(), "values": s.values.tolist(),
    }  # fmt: skip


REQUEST_COLUMNS = ("completed", "ok", "errors", "p99_ms")  # per request name, in the CSV


def run_to_csv(run: RunData) -> str:
    """One row per second: load figures, p50/p99/max in ms, then per request name (when
    the run had two or more) `<name>.completed/.ok/.errors/.p99_ms`, then each series'
    last value."""
    names = [s.name for s in run.series]
    requests = list(dict.fromkeys(n for s in run.seconds for n in s.requests))
    per_request = [f"{n}.{col}" for n in requests for col in REQUEST_COLUMNS]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    head = ["second", "offered", "sent", "completed", "ok", "errors", "dropped"]
    writer.writerow([*head, "p50_ms", "p99_ms", "max_ms", *per_request, *names])
    for s in run.seconds:
        qs = histogram.quantiles_us(histogram.decode(s.latency_hist), [50.0, 99.0, 100.0])
        row: list[Any] = [s.second, s.offered, s.sent, s.completed, s.ok,
                          sum(s.errors.values()), s.dropped]  # fmt: skip
        row += [f"{qs[p] / 1000:.3f}" for p in (50.0, 99.0, 100.0)]
        for name in requests:
            row += _request_cells(s.requests.get(name))
        row += [_value_in(series, s.second) for series in run.series]
        writer.writerow(row)
    return buf.getvalue()


def _request_cells(part: IntervalStats | None) -> list[Any]:
    """completed, ok, errors, p99 ms of one request's second ('' when it sent nothing)."""
    if part is None:
        return [0, 0, 0, ""]
    p99 = histogram.quantiles_us(histogram.decode(part.latency_hist), [99.0])[99.0]
    return [part.completed, part.ok, sum(part.errors.values()), f"{p99 / 1000:.3f}"]


def _value_in(series: Series, second: int) -> str:
    """The last sample of `series` in [second, second + 1), or '' when there is none."""
    mask = (series.t_s >= second) & (series.t_s < second + 1)
    if not mask.any():
        return ""
    return f"{float(series.values[mask][-1]):.15g}"  # :g kept 6 digits (bytes lost precision)
