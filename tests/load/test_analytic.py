"""The analytic reference of the coordinated-omission test."""

from __future__ import annotations

import pytest

from loadtrial.load.analytic import exact_quantile_s, freeze_quantile_s


def test_issue_figures() -> None:
    assert freeze_quantile_s(0.99, 10.0, 2.0, 0.0) == pytest.approx(1.90)
    assert freeze_quantile_s(0.999, 10.0, 2.0, 0.0) == pytest.approx(1.99)
    assert freeze_quantile_s(0.5, 10.0, 2.0, 0.001) == 0.001


def test_exact_matches_closed_form() -> None:
    # 30 s at 200/s with freezes at [8,10), [18,20), [28,30): 3 × 2 s of 30 s
    freezes = [(8.0, 10.0), (18.0, 20.0), (28.0, 30.0)]
    exact = exact_quantile_s(0.99, 200.0, 30.0, freezes, 0.0)
    assert exact == pytest.approx(freeze_quantile_s(0.99, 10.0, 2.0, 0.0), abs=0.01)
    # a 6 s run with one 2 s freeze: a third of arrivals frozen, p99 = 2 - 0.01·6
    assert exact_quantile_s(0.99, 200.0, 6.0, [(2.0, 4.0)], 0.0) == pytest.approx(1.94, abs=0.01)
