"""Closed-form queueing results: the known answers the simulation is checked against.

In: arrival rate λ (per s), service rate μ (per s per server), servers c, capacity K.
Out: probabilities and mean times (s). Used for product-form questions (one station, Poisson
arrivals, exponential service) and as the unit tests' reference for `whatif.simulate`.
All functions are pure and exact (computed in a numerically stable recursion).
"""

from __future__ import annotations

import math


def erlang_b(c: int, load: float) -> float:
    """Blocking probability of M/M/c/c (Erlang B) for offered load `load` = λ/μ erlangs."""
    if c < 0 or load < 0:
        raise ValueError("servers and load must be >= 0")
    b = 1.0
    for k in range(1, c + 1):  # the stable recursion B(k) = a B(k-1) / (k + a B(k-1))
        b = load * b / (k + load * b)
    return b


def erlang_c(c: int, load: float) -> float:
    """Probability that an arrival waits in M/M/c (Erlang C); 1.0 when load >= c."""
    if load >= c:
        return 1.0
    b = erlang_b(c, load)
    rho = load / c
    return b / (1.0 - rho + rho * b)


def mmc_wait_s(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue (s) of M/M/c; inf when λ >= cμ."""
    load = lam / mu
    if load >= c:
        return math.inf
    return erlang_c(c, load) / (c * mu - lam)


def mmck_probabilities(lam: float, mu: float, c: int, k: int) -> list[float]:
    """Stationary probabilities p_0..p_K of M/M/c/K (c servers, at most K in the system)."""
    if k < c:
        raise ValueError("capacity K must be >= servers c")
    weights = [1.0]
    for n in range(1, k + 1):
        weights.append(weights[-1] * lam / (mu * min(n, c)))
    total = sum(weights)
    return [w / total for w in weights]


def mmck_blocking(lam: float, mu: float, c: int, k: int) -> float:
    """Share of arrivals turned away by M/M/c/K (the system holds K already)."""
    return mmck_probabilities(lam, mu, c, k)[-1]


def mmck_wait_s(lam: float, mu: float, c: int, k: int) -> float:
    """Mean wait in queue (s) of the admitted arrivals of M/M/c/K (Little's law)."""
    p = mmck_probabilities(lam, mu, c, k)
    queued = sum((n - c) * pn for n, pn in enumerate(p) if n > c)
    admitted = lam * (1.0 - p[-1])
    return queued / admitted if admitted > 0 else 0.0
