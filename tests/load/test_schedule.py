"""Arrival schedules are exact, pure and shared fairly between workers (no sleeping)."""

from __future__ import annotations

import numpy as np
import pytest

from loadtrial.clock import FakeClock
from loadtrial.load import estimate
from loadtrial.load.model import ClosedModel, LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.load.schedule import Pacer, iter_chunks, total_duration_s, user_starts


def _all(model: OpenModel, worker: int = 0, workers: int = 1) -> np.ndarray:
    return np.concatenate(list(iter_chunks(model, worker, workers)))


def test_constant_rate_is_evenly_spaced() -> None:
    chunks = list(iter_chunks(OpenModel((Stage(3.0, 100.0),))))
    assert [c.size for c in chunks] == [100, 100, 100]
    assert np.allclose(chunks[1][:3], [1.0, 1.01, 1.02])
    assert all(((c >= k) & (c < k + 1)).all() for k, c in enumerate(chunks))


def test_linear_ramp_counts_follow_the_area() -> None:
    # 0 → 100/s over 10 s: second k gets the area under the ramp, 10k + 5
    chunks = list(iter_chunks(OpenModel((Stage(10.0, None, 100.0),))))
    sizes = [c.size for c in chunks]
    assert sum(sizes) == 500
    assert all(abs(s - (10 * k + 5)) <= 1 for k, s in enumerate(sizes))
    times = np.concatenate(chunks)
    assert (np.diff(times) > 0).all()


def test_steps_and_ramp_down_from_previous_stage() -> None:
    model = OpenModel((Stage(2.0, 50.0), Stage(1.0, 200.0), Stage(2.0, None, 0.0)))
    sizes = [c.size for c in iter_chunks(model)]
    assert sizes[:3] == [50, 50, 200]
    assert abs(sum(sizes[3:]) - 200) <= 1  # ramp 200 → 0 over 2 s: area 200
    assert sizes[3] > sizes[4]
    assert estimate(LoadPlan((RequestSpec("a", "GET", "http://x/"),), model)).duration_s == 5.0


def test_fractional_last_second_and_zero_rate_stage() -> None:
    model = OpenModel((Stage(1.0, 0.0), Stage(1.5, 10.0)))
    sizes = [c.size for c in iter_chunks(model)]
    assert sizes == [0, 10, 5]
    assert total_duration_s(model) == 2.5


def test_workers_share_every_arrival_exactly_once() -> None:
    model = OpenModel((Stage(2.0, 999.0), Stage(2.0, None, 10.0)))
    whole = _all(model)
    parts = [_all(model, w, 3) for w in range(3)]
    assert sum(p.size for p in parts) == whole.size
    assert np.allclose(np.sort(np.concatenate(parts)), whole)
    assert max(p.size for p in parts) - min(p.size for p in parts) <= 1


def test_poisson_is_seeded_and_close_to_the_rate() -> None:
    model = OpenModel((Stage(20.0, 500.0),), poisson=True, seed=3)
    a, b = _all(model), _all(model)
    assert np.array_equal(a, b)
    assert abs(a.size - 10_000) < 4 * 100  # 4 sigma of a Poisson count of 10,000
    gaps = np.diff(a)
    assert abs(gaps.std() / gaps.mean() - 1.0) < 0.05  # exponential gaps: cv = 1
    other = _all(OpenModel((Stage(20.0, 500.0),), poisson=True, seed=4))
    assert not np.array_equal(a[:100], other[:100])
    split = [_all(model, w, 2) for w in range(2)]
    assert np.array_equal(np.sort(np.concatenate(split)), a)


def test_closed_model_user_ramp_up_and_estimate() -> None:
    model = ClosedModel(users=4, duration_s=10.0, ramp_up_s=2.0, think_time_s=0.1)
    assert user_starts(model) == [0.0, 0.5, 1.0, 1.5]
    assert user_starts(model, 1, 2) == [0.5, 1.5]
    est = estimate(LoadPlan((RequestSpec("a", "GET", "http://x/"),), model))
    assert est.duration_s == 10.0 and est.expected_requests is None


def test_estimate_of_an_open_plan() -> None:
    model = OpenModel((Stage(10.0, 100.0), Stage(20.0, None, 600.0), Stage(60.0, 600.0)))
    est = estimate(LoadPlan((RequestSpec("a", "GET", "http://x/"),), model))
    assert est.duration_s == 90.0
    assert est.expected_requests == pytest.approx(1000 + 7000 + 36000)


def test_pacer_hands_out_due_arrivals_on_a_fake_clock() -> None:
    clock = FakeClock(start=50.0)
    pacer = Pacer(OpenModel((Stage(2.0, 10.0),)), clock, t0=50.0)
    assert pacer.take_due() == [0.0]
    assert pacer.next_due_s() == pytest.approx(0.1)
    clock.advance(0.35)
    assert pacer.take_due() == pytest.approx([0.1, 0.2, 0.3])
    clock.advance(1.0)  # a stalled caller gets every missed arrival, intended times kept
    due = pacer.take_due()
    assert due == pytest.approx([0.4 + i / 10 for i in range(10)])
    clock.advance(10.0)
    assert len(pacer.take_due()) == 6
    assert pacer.next_due_s() is None and pacer.take_due() == []
