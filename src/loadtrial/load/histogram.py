"""HDR histograms of latency in microseconds: bulk build, encode, decode, merge, quantiles.

The hot path only appends latencies to arrays; once per interval `from_values_us` bins
them with numpy straight into an HdrHistogram's counts (the ~0.6 µs per value of
`record_value` stays off the path). Histograms travel encoded (HdrHistogram's compressed
base64 V2 format), so intervals from any process or machine merge exactly, and any window's
percentiles are those of the merged histogram, never averages of percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    """Return an empty histogram with loadtrial's range and precision."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def counts_indexes(hist: HdrHistogram, values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Vectorised HdrHistogram._counts_index_for: values (µs, ≥ 1) → counts indexes."""
    v = values | hist.sub_bucket_mask
    # bit length of v = floor(log2(v)) + 1; exact for v < 2**53, which covers one hour in µs
    pow2ceiling = np.floor(np.log2(v.astype(np.float64))).astype(np.int64) + 1
    bucket = pow2ceiling - hist.unit_magnitude - (hist.sub_bucket_half_count_magnitude + 1)
    sub_bucket = values >> (bucket + hist.unit_magnitude)
    base = (bucket + 1) << hist.sub_bucket_half_count_magnitude
    return np.asarray(base + (sub_bucket - hist.sub_bucket_half_count), dtype=np.int64)


def from_values_us(values_us: Sequence[float] | npt.NDArray[np.float64]) -> HdrHistogram:
    """Return a histogram of the given latencies (µs); values are clipped to the range."""
    hist = new_histogram()
    arr = np.asarray(values_us, dtype=np.float64)
    if arr.size == 0:
        return hist
    clipped = np.clip(np.rint(arr), LOWEST_US, HIGHEST_US).astype(np.int64)
    idx = counts_indexes(hist, clipped)
    binned = np.bincount(idx, minlength=0)
    nonzero = np.flatnonzero(binned)
    for i in nonzero.tolist():
        hist.counts[i] += int(binned[i])
    hist.set_internal_tacking_values(int(nonzero[0]), int(nonzero[-1]), int(arr.size))
    # keep exact extremes (the tracking values above are bucket-equivalents)
    hist.min_value = int(clipped.min())
    hist.max_value = int(clipped.max())
    return hist


def encode(hist: HdrHistogram) -> bytes:
    """Return the compressed base64 form; an empty histogram encodes to b''."""
    return b"" if hist.get_total_count() == 0 else bytes(hist.encode())


def decode(encoded: bytes) -> HdrHistogram:
    """Return the histogram of an encoded form (b'' gives an empty histogram)."""
    if not encoded:
        return new_histogram()
    return HdrHistogram.decode(encoded)


def merge(encoded: Iterable[bytes]) -> HdrHistogram:
    """Return the sum of encoded histograms."""
    total = new_histogram()
    for item in encoded:
        if item:
            total.decode_and_add(item)
    return total


def merge_encoded(encoded: Iterable[bytes]) -> bytes:
    """Return the encoded sum of encoded histograms."""
    return encode(merge(encoded))


def quantiles_us(hist: HdrHistogram, percents: Sequence[float]) -> dict[float, int]:
    """Return {percent: value in µs}; 0 for every percent when the histogram is empty.

    percent 100 gives the maximum, to the histogram's precision (0.1 %).
    """
    if hist.get_total_count() == 0:
        return {p: 0 for p in percents}
    out: dict[float, int] = {}
    for p in percents:
        out[p] = int(hist.get_max_value()) if p >= 100 else int(hist.get_value_at_percentile(p))
    return out
