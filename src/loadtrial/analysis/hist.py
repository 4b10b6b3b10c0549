"""Fast HDR arithmetic for analysis: encoded histograms → count arrays → quantiles.

In: encoded per-second latency histograms (µs, as `loadtrial.load.histogram` encodes them).
Out: numpy count arrays that add exactly (merging is a sum, never an average of
percentiles) and quantiles that equal `loadtrial.load.histogram.quantiles_us` on the
merged histogram. hdrh's own percentile walk is a Python loop (~1.5 ms per call); doing
it on numpy arrays keeps a whole trial's analysis well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np
import numpy.typing as npt

from loadtrial.load import histogram

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@cache
def _highest_values(counts_len: int, unit_mag: int, half_mag: int) -> IntArray:
    """Highest value equivalent to each counts index (immutable, memoised per layout)."""
    idx = np.arange(counts_len + 1, dtype=np.int64)
    half = 1 << half_mag
    bucket = (idx >> half_mag) - 1
    sub = (idx & (half - 1)) + half
    low_bucket = bucket < 0
    sub = np.where(low_bucket, sub - half, sub)
    bucket = np.where(low_bucket, 0, bucket)
    lowest = sub << (bucket + unit_mag)
    highest = lowest[1:] - 1  # HDR indexes are contiguous in value space
    highest.setflags(write=False)
    return highest


@cache
def _layout() -> tuple[int, int, int]:
    """(counts length, unit magnitude, sub-bucket half-count magnitude) of our histograms."""
    h = histogram.new_histogram()
    return int(h.counts_len), int(h.unit_magnitude), int(h.sub_bucket_half_count_magnitude)


def highest_values() -> IntArray:
    """Highest value (µs) equivalent to each counts index of our histograms (read-only)."""
    return _highest_values(*_layout())


def counts_of(encoded: bytes) -> IntArray:
    """Return the count array of one encoded histogram (zeros when empty)."""
    hist = histogram.decode(encoded)
    return np.frombuffer(hist.counts, dtype=np.uint64).astype(np.int64)


def counts_matrix(encoded: Sequence[bytes]) -> IntArray:
    """Return one row of counts per encoded histogram (shape: len(encoded) × counts_len)."""
    n_idx = _layout()[0]
    out = np.zeros((len(encoded), n_idx), dtype=np.int64)
    for row, item in enumerate(encoded):
        if item:
            raw = np.frombuffer(histogram.decode(item).counts, dtype=np.uint64)
            out[row, : min(raw.size, n_idx)] = raw[:n_idx]
    return out


def merge_counts(rows: Iterable[IntArray]) -> IntArray:
    """Return the exact sum of count arrays."""
    total = np.zeros(_layout()[0], dtype=np.int64)
    for row in rows:
        total += row
    return total


def quantiles_rows(matrix: IntArray, percents: Sequence[float]) -> FloatArray:
    """Per-row quantiles in µs (shape: rows × len(percents)); NaN for an empty row.

    Same rule as hdrh: the first index whose running count reaches
    max(1, int(p/100 × total + 0.5)), reported as that bucket's highest value; p ≥ 100
    gives the largest recorded bucket's highest value.
    """
    m = np.atleast_2d(matrix)
    highest = _highest_values(*_layout())
    cum = np.cumsum(m, axis=1)
    total = cum[:, -1] if m.shape[1] else np.zeros(m.shape[0], dtype=np.int64)
    out = np.full((m.shape[0], len(percents)), np.nan)
    for j, p in enumerate(percents):
        target = np.maximum(np.floor(min(p, 100.0) * total / 100.0 + 0.5), 1).astype(np.int64)
        if p >= 100:
            target = total
        idx = np.array([np.searchsorted(cum[i], target[i]) for i in range(m.shape[0])])
        idx = np.minimum(idx, highest.size - 1) if idx.size else idx
        vals = highest[idx].astype(np.float64) if idx.size else np.zeros(0)
        out[:, j] = np.where(total > 0, vals, np.nan)
    return out


def quantiles(counts: IntArray, percents: Sequence[float]) -> dict[float, float]:
    """Quantiles in µs of one count array; NaN for every percent when it is empty."""
    row = quantiles_rows(counts[None, :], percents)[0]
    return {p: float(v) for p, v in zip(percents, row, strict=True)}
