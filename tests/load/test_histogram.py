"""Bulk-built HDR histograms equal value-by-value ones, and merge exactly."""

from __future__ import annotations

import numpy as np

from loadtrial.load import histogram as hdr


def test_bulk_build_matches_record_value() -> None:
    values = np.random.default_rng(7).lognormal(7, 1.5, 20_000)
    bulk = hdr.from_values_us(values)
    slow = hdr.new_histogram()
    for v in values:
        slow.record_value(int(min(max(round(v), 1), hdr.HIGHEST_US)))
    assert list(bulk.counts) == list(slow.counts)
    assert bulk.get_total_count() == 20_000
    for p in (50.0, 99.0, 99.9):
        assert bulk.get_value_at_percentile(p) == slow.get_value_at_percentile(p)


def test_merge_of_encoded_intervals_is_exact() -> None:
    a, b = np.full(900, 1_000.0), np.full(100, 2_000_000.0)
    merged = hdr.merge([hdr.encode(hdr.from_values_us(a)), hdr.encode(hdr.from_values_us(b)), b""])
    q = hdr.quantiles_us(merged, [50, 90, 95, 100])
    assert merged.get_total_count() == 1000
    assert abs(q[50] - 1_000) <= 1
    assert abs(q[95] - 2_000_000) <= 2_000_000 * 0.001
    assert abs(q[100] - 2_000_000) <= 2_000_000 * 0.001


def test_empty_histogram() -> None:
    assert hdr.encode(hdr.from_values_us([])) == b""
    assert hdr.quantiles_us(hdr.decode(b""), [50, 99]) == {50: 0, 99: 0}


def test_binning_in_pieces_equals_one_build() -> None:
    values = np.random.default_rng(3).lognormal(6, 2, 9_000)
    folded = None
    for part in np.array_split(values, 7):
        folded = hdr.add_binned(folded, hdr.bin_values_us(part))
    whole = hdr.from_values_us(values)
    pieces = hdr.from_binned(folded)
    assert list(pieces.counts) == list(whole.counts)
    assert pieces.get_total_count() == 9_000
    assert (pieces.min_value, pieces.max_value) == (whole.min_value, whole.max_value)
    assert hdr.encode(pieces) == hdr.encode(whole)
