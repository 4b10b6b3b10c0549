"""One run's load measurements as arrays: the shared input of every analysis step.

In: a store `RunData` (IntervalStats per second) and whether the load was closed-model.
Out: a frozen `RunView`: per-second counts, error rate, throughput and latency quantiles
(µs, NaN where nothing completed; for onsets and charts only), the steady window, the
onsets of latency and of errors, and the window's `WindowSample` (per-second histograms
and counts: the input of every figure and comparison, see estimate.py).

A request's view (`request=` a request name) holds that request's figures alone over the
*whole run's* steady window, so a request-scoped SLO or claim is judged on the same
seconds as the run, by the same estimate functions.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from loadtrial.analysis import hist
from loadtrial.analysis.estimate import WindowSample, window_sample
from loadtrial.analysis.windows import Window, onset, steady_window
from loadtrial.load.model import request_seconds
from loadtrial.store.model import RunData

FloatArray = npt.NDArray[np.float64]
PERCENTS = (50.0, 90.0, 99.0, 99.9)
LATENCY_SD_FLOOR = 0.05  # log units: changes under ~5 % are not an onset
ERROR_SD_FLOOR = 0.005  # error-rate units: half a percentage point
LATENCY_MIN_SHIFT = 0.25  # log units: p99 up by ~30 % or more
ERROR_MIN_SHIFT = 0.01  # one percentage point


@dataclass(frozen=True, eq=False)  # arrays inside: identity, not element-wise equality
class RunView:
    """Per-second arrays of one run (index = run second) and its derived windows."""

    run_id: int
    arm: str
    repetition: int
    status: str
    offered: FloatArray
    completed: FloatArray
    ok: FloatArray
    errors: FloatArray
    dropped: FloatArray
    error_rate: FloatArray  # errors / completed, NaN when nothing completed
    latency_us: dict[float, FloatArray]  # percent -> per-second value
    error_kinds: dict[str, int]  # kind -> count over the steady window
    window: Window
    window_counts: npt.NDArray[np.int64]  # merged latency counts over the window
    sample: WindowSample  # the window's per-second histograms and counts
    latency_onset_s: int | None
    error_onset_s: int | None
    closed: bool = False  # closed model: `offered` follows the target's speed

    @property
    def n_seconds(self) -> int:
        """Seconds recorded."""
        return int(self.offered.size)

    def in_window(self, values: FloatArray) -> FloatArray:
        """The steady-window slice of a per-second array."""
        return values[self.window.start_s : self.window.end_s]

    @property
    def onset_s(self) -> int | None:
        """The earlier of the latency and error onsets."""
        found = [t for t in (self.latency_onset_s, self.error_onset_s) if t is not None]
        return min(found) if found else None


def _per_second(run: RunData, n: int) -> dict[str, FloatArray]:
    """Dense per-second count arrays (missing seconds stay zero)."""
    keys = ("offered", "completed", "ok", "errors", "dropped")
    out = {k: np.zeros(n) for k in keys}
    for s in run.seconds:
        if 0 <= s.second < n:
            out["offered"][s.second] = s.offered
            out["completed"][s.second] = s.completed
            out["ok"][s.second] = s.ok
            out["errors"][s.second] = sum(s.errors.values())
            out["dropped"][s.second] = s.dropped
    return out


def build_run_view(
    run: RunData, *, closed: bool = False, request: str | None = None, parts: bool = False
) -> RunView:
    """Return the arrays, windows and onsets of one run, or of one request of it.

    `parts`: the run's plan had several request names, so the request's figures must come
    from its recorded parts; a run without any (stored before the store kept them) then
    has no figures for it, rather than the whole run's passed off as the request's.
    """
    n = max((s.second for s in run.seconds), default=-1) + 1
    window = steady_window(_per_second(run, n)["offered"], run.info.warmup_s, closed=closed)
    if request is not None:
        recorded = not parts or any(s.requests for s in run.seconds)
        own = request_seconds(run.seconds, request) if recorded else []
        run = replace(run, seconds=tuple(own))
    arrays = _per_second(run, n)
    encoded = [b""] * n
    for s in run.seconds:
        if 0 <= s.second < n:
            encoded[s.second] = s.latency_hist
    matrix = hist.counts_matrix(encoded)
    q = hist.quantiles_rows(matrix, PERCENTS) if n else np.zeros((0, len(PERCENTS)))
    latency = {p: q[:, j] for j, p in enumerate(PERCENTS)}
    with np.errstate(divide="ignore", invalid="ignore"):
        err_rate = np.where(arrays["completed"] > 0, arrays["errors"] / arrays["completed"], np.nan)
    # onsets are looked for from second 0: the light-load seconds of warm-up and ramp are
    # the best picture of "before"; a knee often lies in the ramp
    kinds: dict[str, int] = {}
    for s in run.seconds:
        if window.start_s <= s.second < window.end_s:
            for kind, count in s.errors.items():
                kinds[kind] = kinds.get(kind, 0) + count
    return RunView(
        run_id=run.info.run_id,
        arm=run.info.arm,
        repetition=run.info.repetition,
        status=run.info.status,
        offered=arrays["offered"],
        completed=arrays["completed"],
        ok=arrays["ok"],
        errors=arrays["errors"],
        dropped=arrays["dropped"],
        error_rate=err_rate,
        latency_us=latency,
        error_kinds=kinds,
        window=window,
        window_counts=matrix[window.start_s : window.end_s].sum(axis=0),
        sample=window_sample(
            run.info.run_id,
            matrix[window.start_s : window.end_s],
            arrays["completed"][window.start_s : window.end_s],
            arrays["errors"][window.start_s : window.end_s],
            arrays["ok"][window.start_s : window.end_s],
        ),
        latency_onset_s=onset(
            latency[99.0],
            0,
            log_scale=True,
            sd_floor=LATENCY_SD_FLOOR,
            min_shift=LATENCY_MIN_SHIFT,
        ),
        error_onset_s=onset(
            err_rate, 0, log_scale=False, sd_floor=ERROR_SD_FLOOR, min_shift=ERROR_MIN_SHIFT
        ),
        closed=closed,
    )
