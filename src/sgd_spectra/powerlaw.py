"""Power-law fits of the spectrum: nu from the eigenvalues, kappa from the coefficient tail.

Conventions (theory.md §8): ``lambda_k ~ Lambda k^-nu`` and ``sum_{l >= k} lambda_l C_l ~ K k^-kappa``
with the index k starting at 1.  In output space ``lambda_l C_l = c_l / N``, so kappa is fitted on
the tail sums of the output-space coefficients ``c_k``.

Two deliberate departures from the authors' notebook fit (which we found to be biased, §12):

* the index is 1-based (``lambda_k = k^-nu`` is then fitted exactly, the 0-based index gives
  nu = 1.474 for an exact 1.5);
* a finite spectrum of N modes truncates the tail sums, ``S_k ~ k^-kappa - N^-kappa``, which biases
  kappa upward at small kappa (0.75 -> 0.99 at N=1000).  The tail fit therefore uses the exact
  truncated model ``S_k = A [zeta(kappa+1, k) - zeta(kappa+1, N+1)]`` (Hurwitz zeta: the tail of
  ``sum_l l^-(kappa+1)`` from k to N), which is unbiased for any fit range inside [1, N].

Uncertainty: the range is split into ``n_splits`` consecutive log-equal sub-ranges, each fitted on
its own; the reported error is the standard deviation of the sub-range exponents (a spectrum that
is not a power law gives a large spread).  Goodness of fit: R^2 of the log-log fit.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import zeta

from .spectra import tail_sums


@dataclass
class PowerLawFit:
    """One fitted exponent with its range, uncertainty and fit quality."""
    exponent: float
    exponent_err: float
    prefactor: float          # Lambda for eigenvalues, K for tail sums (see module docstring)
    k_min: int
    k_max: int
    r2: float                 # R^2 of log(value) against the fitted model on the whole range
    rms_log_residual: float
    sub_exponents: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _fit_points(k_min: int, k_max: int, n_points: int) -> np.ndarray:
    """Integer indices spread evenly in log k (so every decade weighs the same in the fit)."""
    return np.unique(np.round(np.geomspace(k_min, k_max, n_points)).astype(int))


def _sub_ranges(k_min: int, k_max: int, n_splits: int):
    edges = np.round(np.geomspace(k_min, k_max, n_splits + 1)).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a + 1]


def _check_range(values: np.ndarray, k_min: int, k_max: int, what: str):
    n = len(values)
    if not (1 <= k_min < k_max <= n):
        raise ValueError(f"{what} fit range [{k_min}, {k_max}] must satisfy 1 <= k_min < k_max <= {n}")


def _r2(log_y: np.ndarray, log_model: np.ndarray) -> tuple[float, float]:
    resid = log_y - log_model
    total = np.sum((log_y - log_y.mean()) ** 2)
    return float(1 - np.sum(resid ** 2) / total) if total > 0 else 1.0, float(np.sqrt(np.mean(resid ** 2)))


def _eigen_slope(eigenvalues, k_min, k_max, n_points):
    k = _fit_points(k_min, k_max, n_points)
    vals = eigenvalues[k - 1]
    if np.any(vals <= 0):
        raise ValueError(f"eigenvalues must be positive on the fit range [{k_min}, {k_max}]")
    slope, intercept = np.polyfit(np.log(k), np.log(vals), 1)
    return -slope, np.exp(intercept), k, vals


def fit_eigenvalue_decay(eigenvalues, k_min: int, k_max: int, n_splits: int = 3,
                         n_points: int = 100) -> PowerLawFit:
    """Fit ``lambda_k = Lambda k^-nu`` on ``k_min <= k <= k_max`` (1-based, descending order)."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    _check_range(eigenvalues, k_min, k_max, "eigenvalue")
    nu, lam, k, vals = _eigen_slope(eigenvalues, k_min, k_max, n_points)
    r2, rms = _r2(np.log(vals), np.log(lam) - nu * np.log(k))
    subs = [_eigen_slope(eigenvalues, a, b, n_points)[0] for a, b in _sub_ranges(k_min, k_max, n_splits)]
    return PowerLawFit(float(nu), float(np.std(subs)), float(lam), int(k_min), int(k_max), r2, rms,
                       [float(s) for s in subs])


def truncated_tail_model(k: np.ndarray, kappa: float, n_modes: int) -> np.ndarray:
    """``sum_{l=k}^{N} l^-(kappa+1)``: the tail sum of an exact power law cut at N modes."""
    return zeta(kappa + 1.0, k) - zeta(kappa + 1.0, n_modes + 1)


def _tail_slope(tails, k_min, k_max, n_modes, n_points):
    k = _fit_points(k_min, k_max, n_points)
    log_s = np.log(tails[k - 1])

    def sse(kappa):
        log_model = np.log(truncated_tail_model(k, kappa, n_modes))
        log_amp = np.mean(log_s - log_model)          # amplitude profiled out in closed form
        return np.sum((log_s - log_amp - log_model) ** 2)

    res = minimize_scalar(sse, bounds=(1e-3, 20.0), method="bounded", options={"xatol": 1e-7})
    kappa = float(res.x)
    log_model = np.log(truncated_tail_model(k, kappa, n_modes))
    log_amp = float(np.mean(log_s - log_model))
    return kappa, log_amp, k, log_s, log_model


def fit_tail_decay(coefficients, k_min: int, k_max: int, n_samples: int | None = None,
                   n_splits: int = 3, n_points: int = 100) -> PowerLawFit:
    """Fit kappa from the tail sums of the output-space coefficients ``c_k`` (1-based).

    ``prefactor`` is K in ``sum_{l>=k} lambda_l C_l = S_k / N ~ K k^-kappa`` (for 1 << k << N);
    ``n_samples`` is N (defaults to the number of coefficients).
    """
    coefficients = np.asarray(coefficients, dtype=np.float64)
    n_modes = len(coefficients)
    n_samples = n_modes if n_samples is None else n_samples
    _check_range(coefficients, k_min, k_max, "tail")
    tails = tail_sums(coefficients)
    if np.any(tails[k_min - 1:k_max] <= 0):
        raise ValueError("coefficient tail sums must be positive on the fit range")
    kappa, log_amp, k, log_s, log_model = _tail_slope(tails, k_min, k_max, n_modes, n_points)
    r2, rms = _r2(log_s, log_amp + log_model)
    subs = [_tail_slope(tails, a, b, n_modes, n_points)[0] for a, b in _sub_ranges(k_min, k_max, n_splits)]
    # zeta(kappa+1, k) ~ k^-kappa / kappa for large k, hence K = A / (kappa N)
    prefactor = np.exp(log_amp) / (kappa * n_samples)
    return PowerLawFit(kappa, float(np.std(subs)), float(prefactor), int(k_min), int(k_max), r2, rms,
                       [float(s) for s in subs])
