"""The Universal Scalability Law fitted to throughput measured at several counts N.

X(N) = λN / (1 + σ(N − 1) + κN(N − 1)): λ the throughput of one unit, σ contention
(serialisation), κ coherency (crosstalk). In: arrays of N (nodes, users, rate) and the
throughput measured at each (repetitions are separate points). Out: a `UslFit` with
standard errors, R², the peak N* = √((1 − σ)/κ) (∞ when κ = 0) and the throughput
predicted there. Fitted by bounded nonlinear least squares (λ > 0, 0 ≤ σ ≤ 1, κ ≥ 0),
from a few starting points, keeping the best.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loadtrial import findings
from loadtrial.errors import UserError

FloatArray = npt.NDArray[np.float64]
MIN_LEVELS = 3  # distinct N needed: three parameters


@dataclass(frozen=True)
class UslFit:
    """A USL fit and what it predicts."""

    sigma: float
    kappa: float
    lam: float  # λ, throughput of one unit
    sigma_se: float
    kappa_se: float
    lam_se: float
    r2: float
    n_points: int
    peak_n: float  # ∞ when κ = 0
    peak_throughput: float  # X(N*), or the asymptote λ/σ when κ = 0 (∞ when σ = 0 too)

    def as_dict(self) -> dict[str, float | int | None]:
        """JSON-able figures (∞ as None)."""
        raw = {
            "sigma": self.sigma,
            "kappa": self.kappa,
            "lambda": self.lam,
            "sigma_se": self.sigma_se,
            "kappa_se": self.kappa_se,
            "lambda_se": self.lam_se,
            "peak_n": self.peak_n,
            "peak_throughput": self.peak_throughput,
            "r2": self.r2,
        }
        out: dict[str, float | int | None] = {
            k: (v if math.isfinite(v) else None) for k, v in raw.items()
        }
        out["n_points"] = self.n_points
        return out

    def evidence(self, points: tuple[tuple[float, float], ...], over: str) -> findings.UslFit:
        """The evidence of a `scalability` finding: the fit (∞ as None) over `points`."""

        def finite(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return findings.UslFit(
            sigma=finite(self.sigma), kappa=finite(self.kappa), lam=finite(self.lam),
            sigma_se=finite(self.sigma_se), kappa_se=finite(self.kappa_se),
            lambda_se=finite(self.lam_se), peak_n=finite(self.peak_n),
            peak_throughput=finite(self.peak_throughput), r2=finite(self.r2),
            n_points=self.n_points, points=points, over=over,
        )  # fmt: skip


def usl(n: FloatArray, sigma: float, kappa: float, lam: float) -> FloatArray:
    """Throughput the USL predicts at counts n."""
    n = np.asarray(n, dtype=np.float64)
    return np.asarray(lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)))


def _peak(sigma: float, kappa: float, lam: float) -> tuple[float, float]:
    if kappa > 0:
        n_star = math.sqrt(max(1.0 - sigma, 0.0) / kappa)
        return n_star, float(usl(np.array([max(n_star, 1.0)]), sigma, kappa, lam)[0])
    return math.inf, (lam / sigma if sigma > 0 else math.inf)


def fit_usl(n: npt.ArrayLike, throughput: npt.ArrayLike) -> UslFit:
    """Fit the USL; raises UserError when the data cannot support a fit."""
    # imported here, not at the top: scipy's ~0.6 s of import CPU would otherwise land on
    # every `loadtrial load`, which never calls this
    from scipy.optimize import least_squares

    x = np.asarray(n, dtype=np.float64)
    y = np.asarray(throughput, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[ok], y[ok]
    levels = np.unique(x).size
    if levels < MIN_LEVELS:
        raise UserError(
            f"a USL fit needs throughput at {MIN_LEVELS} or more distinct counts, got {levels}",
            hint="measure more levels of N",
        )
    lam0 = float(np.max(y[x == x.min()] / x.min()))
    scale = max(float(np.max(y)), 1e-12)

    def resid(p: FloatArray) -> FloatArray:
        return (usl(x, p[0], p[1], p[2]) - y) / scale

    best = None
    for s0, k0 in ((0.01, 1e-4), (0.1, 1e-3), (0.5, 1e-6), (0.0, 0.0)):
        res = least_squares(
            resid,
            [s0, k0, max(lam0, 1e-9)],
            method="trf",
            x_scale="jac",
            bounds=([0.0, 0.0, 1e-12], [1.0, np.inf, np.inf]),
        )
        if best is None or res.cost < best.cost:
            best = res
    assert best is not None
    sigma, kappa, lam = (float(v) for v in best.x)
    n_max = float(x.max())
    # the solver stops a hair inside a bound; a term too small to move any prediction
    # by a billionth is that bound (so κ = 0 gives N* = ∞, not 10⁸)
    sigma = 0.0 if sigma * n_max < 1e-9 else sigma
    kappa = 0.0 if kappa * n_max * n_max < 1e-9 else kappa
    return _finish(x, y, sigma, kappa, lam, best.jac * scale)


def _finish(
    x: FloatArray, y: FloatArray, sigma: float, kappa: float, lam: float, jac: FloatArray
) -> UslFit:
    """Standard errors (from the Jacobian), R², and the peak."""
    pred = usl(x, sigma, kappa, lam)
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    dof = max(x.size - 3, 1)
    try:
        cov = np.linalg.pinv(jac.T @ jac) * ss_res / dof
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:
        se = np.full(3, np.nan)
    peak_n, peak_x = _peak(sigma, kappa, lam)
    return UslFit(
        sigma, kappa, lam, float(se[0]), float(se[1]), float(se[2]), r2, int(x.size), peak_n, peak_x
    )
