"""Time windows of a run: the steady state, the load stages, and the onset of trouble.

In: per-second arrays on the run clock (offered arrivals, p99 latency, error rate) and the
run's warm-up. Out: `Window`s (half-open [start_s, end_s) in run seconds) and an onset
second (or None). All pure; no fixed latency thresholds: onset is a change-point against
the run's own early level (median/MAD baseline, one-sided CUSUM).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

MAD_TO_SD = 1.4826  # MAD of a normal sample × this ≈ its standard deviation
CUSUM_K = 1.0  # allowance, in baseline standard deviations (at least half of min_shift)
CUSUM_H = 10.0  # decision interval, in baseline standard deviations
MIN_STEADY_S = 5


@dataclass(frozen=True)
class Window:
    """Seconds [start_s, end_s) of one run; `how` says how it was chosen."""

    start_s: int
    end_s: int
    how: str = ""

    @property
    def length_s(self) -> int:
        """Number of seconds in the window."""
        return max(0, self.end_s - self.start_s)


def _longest_true_run(mask: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """Return [start, end) of the longest run of True in mask ((0, 0) when none)."""
    best = (0, 0)
    start = None
    for i, flag in enumerate([*mask.tolist(), False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def steady_window(offered: FloatArray, warmup_s: float, *, closed: bool = False) -> Window:
    """Return the steady-state window of one run from its offered rate per second.

    Warm-up seconds are excluded, and so is a last second that is only partly recorded.
    Open model: the longest stretch whose offered rate stays within a tolerance of the
    run's top level (90th percentile; tolerance max(10 %, 3 Poisson SDs)), so ramps are
    left out. Closed model: offered follows the target's speed, so it cannot tell a ramp
    from a slowdown; the window is everything after warm-up.
    """
    x = np.asarray(offered, dtype=np.float64)
    first = min(math.ceil(warmup_s), x.size)
    last = x.size
    if last - first >= 2 and x[last - 1] < 0.5 * np.median(x[first:last]):
        last -= 1  # the run ended part-way through its final second
    if closed or last - first < MIN_STEADY_S:
        return Window(first, last, "after warm-up")
    seg = x[first:last]
    level = float(np.percentile(seg, 90))
    if level <= 0:
        return Window(first, last, "after warm-up (no load offered)")
    tol = max(0.10 * level, 3.0 * math.sqrt(level))
    lo, hi = _longest_true_run(np.abs(seg - level) <= tol)
    if hi - lo < MIN_STEADY_S:
        return Window(first, last, "after warm-up (no plateau found)")
    return Window(first + lo, first + hi, f"plateau at ~{level:.0f} req/s")


def stage_windows(
    durations_s: Sequence[float], levels: Sequence[float], warmup_s: float, n_seconds: int
) -> list[tuple[float, Window]]:
    """Return (level, window) for each held stage of a stepped load.

    A stage's first second and its first 20 % are left out as the system settles; the
    warm-up too. Stages left with fewer than 3 seconds are dropped.
    """
    out: list[tuple[float, Window]] = []
    t = 0.0
    for dur, level in zip(durations_s, levels, strict=True):
        settle = max(1.0, 0.2 * dur)
        start = math.ceil(max(t + settle, warmup_s))
        end = min(math.floor(t + dur), n_seconds)
        if end - start >= 3:
            out.append((level, Window(start, end, f"stage at {level:g}")))
        t += dur
    return out


def _cusum_onset(z: FloatArray, k: float) -> int | None:
    """Index where the first sustained upward shift of standardised z began, or None."""
    s = 0.0
    began = 0
    for i, zi in enumerate(z.tolist()):
        if not math.isfinite(zi):
            continue
        if s == 0.0:
            began = i
        s = max(0.0, s + zi - k)
        if s > CUSUM_H:
            return began
    return None


def onset(
    values: FloatArray,
    start_s: int,
    *,
    log_scale: bool,
    sd_floor: float,
    min_shift: float = 0.0,
    baseline_s: int = 0,
) -> int | None:
    """Return the first run second where `values` departs upward from its early level.

    The baseline is the first `baseline_s` seconds from `start_s` (default: a sixth of
    what follows, at least 6 s): its median and MAD give the level and spread; a spread
    below `sd_floor` (in the values' scale, or in log units when `log_scale`) is raised to
    it so quantised, flat series do not alarm on noise. The CUSUM allowance is at least
    half of `min_shift` (same units), so only rises of about that size or more count: a
    small baseline misjudges its spread, and a 5 % wobble is not an onset. NaN seconds
    (nothing measured) are skipped. Returns None when there is no sustained rise.
    """
    x = np.asarray(values, dtype=np.float64)[start_s:]
    if log_scale:
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log(np.where(x > 0, x, np.nan))
    n_base = baseline_s or max(6, x.size // 6)
    base = x[:n_base]
    base = base[np.isfinite(base)]
    if base.size < 3 or x.size < n_base + 3:
        return None
    med = float(np.median(base))
    sd = max(MAD_TO_SD * float(np.median(np.abs(base - med))), sd_floor)
    idx = _cusum_onset((x - med) / sd, max(CUSUM_K, min_shift / (2.0 * sd)))
    return None if idx is None else start_s + idx
