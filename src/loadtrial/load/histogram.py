"""HDR histograms of latency in microseconds: bulk build, encode, decode, merge, quantiles.

The hot path only appends latencies to arrays; once per interval `from_values_us` bins
them with numpy straight into an HdrHistogram's counts (the ~0.6 µs per value of
`record_value` stays off the path). Histograms travel encoded (HdrHistogram's compressed
base64 V2 format), so intervals from any process or machine merge exactly, and any window's
percentiles are those of the merged histogram, never averages of percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
    # bit length of v: frexp's exponent (v = m·2**e, 0.5 ≤ m < 1); exact for v < 2**53,
    # which covers one hour in µs
    pow2ceiling = np.frexp(v.astype(np.float64))[1].astype(np.int64)
    bucket = pow2ceiling - hist.unit_magnitude - (hist.sub_bucket_half_count_magnitude + 1)
    sub_bucket = values >> (bucket + hist.unit_magnitude)
    base = (bucket + 1) << hist.sub_bucket_half_count_magnitude
    return np.asarray(base + (sub_bucket - hist.sub_bucket_half_count), dtype=np.int64)


@dataclass(frozen=True)
class Binned:
    """Counts per HdrHistogram bucket index, with the exact extremes and total (µs)."""

    counts: npt.NDArray[np.int64]
    total: int
    min_us: int
    max_us: int


_LAYOUT = new_histogram()  # read-only: only its bucket layout constants are used


def bin_values_us(values_us: Sequence[float] | npt.NDArray[np.float64]) -> Binned | None:
    """Return the bucket counts of latencies (µs, clipped to the range); None if empty.

    Lets a recorder bin values a little at a time and build the histogram once.
    """
    arr = np.asarray(values_us, dtype=np.float64)
    if arr.size == 0:
        return None
    clipped = np.clip(np.rint(arr), LOWEST_US, HIGHEST_US).astype(np.int64)
    counts = np.bincount(counts_indexes(_LAYOUT, clipped))
    return Binned(counts, int(arr.size), int(clipped.min()), int(clipped.max()))


def add_binned(a: Binned | None, b: Binned | None) -> Binned | None:
    """Return the sum of two Binned (either may be None)."""
    if a is None or b is None:
        return a if b is None else b
    big, small = (a.counts, b.counts) if a.counts.size >= b.counts.size else (b.counts, a.counts)
    total = big.copy()
    total[: small.size] += small
    return Binned(total, a.total + b.total, min(a.min_us, b.min_us), max(a.max_us, b.max_us))


def from_binned(binned: Binned | None) -> HdrHistogram:
    """Return the histogram of bucket counts (an empty one for None)."""
    hist = new_histogram()
    if binned is None:
        return hist
    nonzero = np.flatnonzero(binned.counts)
    view = _counts_view(hist)
    if view is not None:  # add in place through the ctypes buffer (no Python loop)
        view[: binned.counts.size] += binned.counts.astype(view.dtype)
    else:
        for i in nonzero.tolist():
            hist.counts[i] += int(binned.counts[i])
    hist.set_internal_tacking_values(int(nonzero[0]), int(nonzero[-1]), binned.total)
    # keep exact extremes (the tracking values above are bucket-equivalents)
    hist.min_value = binned.min_us
    hist.max_value = binned.max_us
    return hist


def from_values_us(values_us: Sequence[float] | npt.NDArray[np.float64]) -> HdrHistogram:
    """Return a histogram of the given latencies (µs); values are clipped to the range."""
    return from_binned(bin_values_us(values_us))


def _counts_view(hist: HdrHistogram) -> npt.NDArray[np.integer] | None:
    """Return a numpy view of the histogram's ctypes counts (None if not a ctypes array)."""
    try:
        return np.ctypeslib.as_array(hist.counts)
    except (TypeError, AttributeError):
        return None


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
