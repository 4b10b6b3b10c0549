"""Per-second recording for one engine: cheap appends on the hot path, histograms after.

In: the engine appends latencies (seconds, as floats) and bumps counters on an `Interval`;
once per second it swaps in a fresh one (wrk2's active/inactive histograms) and calls
`finish()` on the old one.
Out: an IntervalStats with the arrays binned into encoded HDR histograms (µs).

Per request name: when a plan has more than one request name, an `Interval` holds one
part per name and every request's outcome goes to its own part (`iv.by[request index]`);
the whole second is then the exact sum of the parts (merge_intervals), so recording costs
one list index per request whatever the number of names, and nothing is recorded twice.
With one name, `iv.by[i]` is the Interval itself and nothing changes.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from loadtrial.load import histogram as hdr
from loadtrial.load.model import IntervalStats

# A send more than this after its intended time counts as late (the 1 ms timer resolution
# of the event loop must not count; a request queued behind a full connection pool must).
LATE_BOUND_S = 0.002


_HTTP_KINDS = {code: f"http_{code}" for code in range(400, 600)}


def _bin(values: array[float]) -> hdr.Binned | None:
    """Bucket counts of latencies in seconds (None when there are none)."""
    if not len(values):
        return None
    return hdr.bin_values_us(np.frombuffer(values, dtype=np.float64) * 1e6)


class Interval:
    """Mutable accumulator of one second of one engine; touched only by its event loop."""

    __slots__ = (
        "binned",
        "both",
        "by",
        "chained",
        "completed",
        "dropped",
        "errors",
        "lag",
        "lat",
        "late",
        "offered",
        "ok",
        "parts",
        "sent",
        "unc",
    )

    def __init__(self, index: Sequence[int] = (0,), names: int = 1) -> None:
        """`index[i]` is request i's name number (0..names-1); parts only with 2+ names."""
        self.offered = 0
        self.sent = 0
        self.completed = 0
        self.ok = 0
        self.late = 0
        self.dropped = 0
        self.errors: dict[str, int] = {}
        self.lat = array("d")  # corrected latency (from intended send time), seconds
        self.unc = array("d")  # uncorrected latency (from actual send), seconds
        self.lag = array("d")  # dispatch lag of the generator behind its schedule, seconds
        self.both = array("d")  # sent at their intended time: corrected = uncorrected
        self.chained = 0  # closed model: sent at once on the connection that just answered
        # bucket counts of values already folded out of the arrays: lat, unc, lag
        self.binned: list[hdr.Binned | None] = [None, None, None]
        # one part per request name (none with one name); `by[i]`: where request i records
        self.parts: list[Interval] = [Interval() for _ in range(names)] if names > 1 else []
        self.by: list[Interval] = (
            [self.parts[k] for k in index] if self.parts else [self] * max(1, len(index))
        )

    def fold(self) -> None:
        """Bin the values appended so far and start fresh arrays.

        Called every few tens of milliseconds, so the once-a-second histogram build is
        short and never stalls the event loop for long.
        """
        for name_part in self.parts:
            name_part.fold()
        arrays = (self.lat, self.unc, self.lag, self.both)
        self.lat, self.unc, self.lag, self.both = array("d"), array("d"), array("d"), array("d")
        binned = [_bin(values) for values in arrays]
        both = binned.pop()
        for i, part in enumerate(binned):
            self.binned[i] = hdr.add_binned(self.binned[i], part)
        if both is not None:
            for i in (0, 1):
                self.binned[i] = hdr.add_binned(self.binned[i], both)

    def http_error(self, status: int) -> None:
        """Count one response with a status ≥ 400 (error kind http_<status>)."""
        kind = _HTTP_KINDS.get(status) or f"http_{status}"
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def ok_failed(self, kind: str) -> None:
        """A response already counted ok fails after all (a flow's extraction): error."""
        self.ok -= 1
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def error(self, kind: str) -> None:
        """Count one finished request that failed with `kind`."""
        self.completed += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def reclassify(self, status: int, kind: str) -> None:
        """A response's checks overrule its status: undo what `status` counted (ok below
        400, else http_<status>) and count it as ok (kind "") or as error `kind`."""
        if status < 400:
            self.ok -= 1
        else:
            http = _HTTP_KINDS.get(status) or f"http_{status}"
            left = self.errors[http] - 1
            if left:
                self.errors[http] = left
            else:
                del self.errors[http]
        if kind:
            self.errors[kind] = self.errors.get(kind, 0) + 1
        else:
            self.ok += 1

    def timed_out(self, elapsed_s: float, sent_elapsed_s: float | None) -> None:
        """Count a request past its deadline as error `timeout`, censored, not lost: its
        elapsed time from the intended send goes into the corrected latency, and, when it
        was sent, its time since the actual send into the uncorrected one."""
        self.error("timeout")
        self.lat.append(elapsed_s)
        if sent_elapsed_s is not None:
            self.unc.append(sent_elapsed_s)


def _encoded(binned: hdr.Binned | None) -> tuple[bytes, int]:
    """Return (encoded histogram, max in µs) of bucket counts."""
    if binned is None:
        return b"", 0
    return hdr.encode(hdr.from_binned(binned)), binned.max_us


def _same(a: hdr.Binned | None, b: hdr.Binned | None) -> bool:
    """True when two bucket counts are equal (both None included)."""
    if a is None or b is None:
        return a is b
    ends = (a.total, a.min_us, a.max_us) == (b.total, b.min_us, b.max_us)
    return ends and bool(np.array_equal(a.counts, b.counts))


def finish(
    iv: Interval, second: int, cpu_percent: float, names: Sequence[str] = ()
) -> IntervalStats:
    """Return the IntervalStats of a closed accumulator; with parts, the sum of the parts
    (one IntervalStats per request name in `requests`) plus the engine's own figures."""
    iv.fold()
    if not iv.parts:
        return _finish_one(iv, second, cpu_percent)
    parts = [_finish_one(part, second, 0.0) for part in iv.parts]
    whole = merge_intervals(second, parts)
    lag, max_lag = _encoded(iv.binned[2])
    return replace(
        whole,
        offered=iv.offered + whole.offered,  # arrivals, plus closed-model chained sends
        dropped=iv.dropped,
        max_send_lag_us=max_lag,
        cpu_percent=cpu_percent,
        send_lag_hist=lag,
        # a name's offered is what it sent: arrivals are drawn to a name only when sent
        requests={n: replace(p, offered=p.sent) for n, p in zip(names, parts, strict=True)},
    )


def _finish_one(iv: Interval, second: int, cpu_percent: float) -> IntervalStats:
    """Return the IntervalStats of one accumulator without parts."""
    lat, _ = _encoded(iv.binned[0])
    # every request sent at its intended time (the closed model): one histogram, encoded once
    unc = lat if _same(iv.binned[0], iv.binned[1]) else _encoded(iv.binned[1])[0]
    lag, max_lag = _encoded(iv.binned[2])
    return IntervalStats(
        second=second,
        offered=iv.offered + iv.chained,
        sent=iv.sent + iv.chained,
        completed=iv.completed,
        ok=iv.ok,
        late=iv.late,
        dropped=iv.dropped,
        errors=dict(iv.errors),
        latency_hist=lat,
        uncorrected_hist=unc,
        max_send_lag_us=max_lag,
        cpu_percent=cpu_percent,
        send_lag_hist=lag,
    )


def merge_intervals(second: int, parts: list[IntervalStats]) -> IntervalStats:
    """Return the sum of several workers' stats for the same second (exact for histograms)."""
    if len(parts) == 1:
        return parts[0]
    errors: dict[str, int] = {}
    for p in parts:
        for kind, n in p.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    names = list(dict.fromkeys(name for p in parts for name in p.requests))
    requests = {
        name: merge_intervals(second, [p.requests[name] for p in parts if name in p.requests])
        for name in names
    }
    return IntervalStats(
        second=second,
        offered=sum(p.offered for p in parts),
        sent=sum(p.sent for p in parts),
        completed=sum(p.completed for p in parts),
        ok=sum(p.ok for p in parts),
        late=sum(p.late for p in parts),
        dropped=sum(p.dropped for p in parts),
        errors=errors,
        latency_hist=hdr.merge_encoded(p.latency_hist for p in parts),
        uncorrected_hist=hdr.merge_encoded(p.uncorrected_hist for p in parts),
        max_send_lag_us=max(p.max_send_lag_us for p in parts),
        cpu_percent=sum(p.cpu_percent for p in parts),
        send_lag_hist=hdr.merge_encoded(p.send_lag_hist for p in parts),
        requests=requests,
    )


def total_errors(errors: Mapping[str, int]) -> int:
    """Return the number of failed requests."""
    return sum(errors.values())
