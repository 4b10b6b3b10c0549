"""Load figures pooled over a window of seconds: histograms merged, counts summed.

In: IntervalStats (one per second, as measured or read back from the store). Out: a
`Pooled` with the window's totals, errors by kind, the merged latency histogram and the
derived figures (quantiles, error rate, throughput), each None when the window has no
data to judge. The one place the runner's SLO checks and abort rules and the store's
summaries take their figures from, so they always agree; percentiles of a window come
from the merged histogram, never from averaged percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

from loadtrial.load import histogram
from loadtrial.load.model import IntervalStats


def after_warmup(seconds: Iterable[IntervalStats], warmup_s: float) -> list[IntervalStats]:
    """The seconds that start at or after the warmup (second k starts at k s)."""
    return [s for s in seconds if s.second >= warmup_s]


def loaded_seconds(seconds: Sequence[IntervalStats]) -> int:
    """Seconds up to the last one that offered load (the drain seconds after it are not)."""
    for i in range(len(seconds) - 1, -1, -1):
        if seconds[i].offered > 0:
            return i + 1
    return len(seconds)


@dataclass(frozen=True)
class Pooled:
    """The totals of a window of seconds."""

    seconds: int  # seconds that offered load (drain seconds not counted)
    offered: int
    completed: int
    ok: int
    dropped: int
    errors: dict[str, int] = field(default_factory=dict)  # by kind, sorted
    latency: HdrHistogram = field(default_factory=histogram.new_histogram)  # µs

    @property
    def error_count(self) -> int:
        """All errors of the window."""
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float | None:
        """Errors / completed requests; None when nothing completed."""
        return self.error_count / self.completed if self.completed else None

    @property
    def throughput_per_s(self) -> float:
        """Completed requests per loaded second (0 for an empty window)."""
        return self.completed / max(1, self.seconds)

    def quantiles_us(self, percents: Sequence[float]) -> dict[float, int]:
        """{percent: µs} of the merged latency (100 = max); 0s when nothing was measured."""
        return histogram.quantiles_us(self.latency, percents)

    def quantile_s(self, percent: float) -> float | None:
        """One latency percentile in seconds; None when no response was measured."""
        if self.latency.get_total_count() == 0:
            return None
        return self.quantiles_us([percent])[percent] / 1e6


def pool(seconds: Iterable[IntervalStats]) -> Pooled:
    """Pool a window of seconds (any order) into one Pooled."""
    window = sorted(seconds, key=lambda s: s.second)
    errors: dict[str, int] = {}
    for s in window:
        for kind, n in s.errors.items():
            errors[kind] = errors.get(kind, 0) + n
    return Pooled(
        seconds=loaded_seconds(window),
        offered=sum(s.offered for s in window),
        completed=sum(s.completed for s in window),
        ok=sum(s.ok for s in window),
        dropped=sum(s.dropped for s in window),
        errors=dict(sorted(errors.items())),
        latency=histogram.merge(s.latency_hist for s in window),
    )
