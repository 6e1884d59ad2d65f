"""Power-law exponents of a spectrum, judged by the loss they are meant to predict.

Conventions (theory.md §8): ``lambda_k ~ Lambda k^-nu`` and ``sum_{l >= k} lambda_l C_l ~ K k^-kappa``
with the index k starting at 1.  In output space ``lambda_l C_l = c_l / N``, so kappa is fitted on
the tail sums ``S_k = sum_{l >= k} c_l`` of the output-space coefficients.

**What the exponents are for.**  A loss curve at step t has learned the modes with
``2 alpha_eff lambda_k t >= 1`` and still carries the rest, so ``L_t ~ S_{k*(t)} / (2N)`` with
``k*(t)`` the number of learned modes (the GD part of Theorem 2).  Its log-log slope over a window
of steps is therefore ``-kappa/nu`` with the *local* exponents of the spectrum over the modes that
window resolves -- whether or not the spectrum is a power law anywhere else.  Hence:

* both exponents are plain least-squares slopes in log-log space over one common mode range
  (:func:`fit_eigenvalue_decay`, :func:`fit_tail_decay`), so ``kappa/nu`` is the slope of
  ``log S`` against ``log lambda`` there;
* the default range follows a stated rule, :func:`horizon_fit_range`: the modes resolved over the
  last decade of the horizon, ``[k*(T/10), k*(T)]``, at the reference rate ``alpha_eff = 1``;
* :func:`range_sweep` reports the exponents over sliding ranges, so the scale dependence of a
  real spectrum is visible rather than hidden in one number.

An earlier version fitted a truncation-aware model ``S_k = A [zeta(kappa+1, k) - zeta(kappa+1, N+1)]``,
exact for a power law cut off at N.  Real kernels do not end that way and the fit collapsed (kappa ->
0.001 on Fashion-MNIST); it is kept as :func:`fit_truncated_tail_decay`, an implementation check that
recovers the synthetic generator's own exponent, and is not used for predictions.

Uncertainty: the range is split into ``n_splits`` consecutive log-equal sub-ranges, each fitted on
its own; the error is the standard deviation of the sub-range exponents (a spectrum that is not a
power law over the range gives a large spread).  Goodness of fit: R^2 of the log-log fit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .spectra import tail_sums

#: The reference effective learning rate of the default fit range (units of 1/lambda_max).
REFERENCE_LR = 1.0
#: Fewest distinct modes a fit range may hold.
MIN_FIT_MODES = 8


@dataclass
class PowerLawFit:
    """One fitted exponent with its range, uncertainty and fit quality."""

    exponent: float
    exponent_err: float
    prefactor: float  # Lambda for eigenvalues, K for tail sums (see module docstring)
    k_min: int
    k_max: int
    r2: float  # R^2 of log(value) against the fitted line on the whole range
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
    return float(1 - np.sum(resid**2) / total) if total > 0 else 1.0, float(np.sqrt(np.mean(resid**2)))


def _loglog_decay(values: np.ndarray, k_min: int, k_max: int, n_points: int):
    """``(exponent, prefactor, k, values[k-1])`` of ``values_k ~ prefactor k^-exponent``."""
    k = _fit_points(k_min, k_max, n_points)
    vals = values[k - 1]
    slope, intercept = np.polyfit(np.log(k), np.log(vals), 1)
    return -slope, np.exp(intercept), k, vals


def _decay_fit(values, k_min, k_max, n_splits, n_points, scale: float = 1.0) -> PowerLawFit:
    exponent, pref, k, vals = _loglog_decay(values, k_min, k_max, n_points)
    r2, rms = _r2(np.log(vals), np.log(pref) - exponent * np.log(k))
    subs = [_loglog_decay(values, a, b, n_points)[0] for a, b in _sub_ranges(k_min, k_max, n_splits)]
    return PowerLawFit(
        float(exponent),
        float(np.std(subs)),
        float(pref * scale),
        int(k_min),
        int(k_max),
        r2,
        rms,
        [float(s) for s in subs],
    )


def fit_eigenvalue_decay(
    eigenvalues, k_min: int, k_max: int, n_splits: int = 3, n_points: int = 100
) -> PowerLawFit:
    """Fit ``lambda_k = Lambda k^-nu`` on ``k_min <= k <= k_max`` (1-based, descending order)."""
    eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
    _check_range(eigenvalues, k_min, k_max, "eigenvalue")
    if np.any(eigenvalues[k_min - 1 : k_max] <= 0):
        raise ValueError(f"eigenvalues must be positive on the fit range [{k_min}, {k_max}]")
    return _decay_fit(eigenvalues, k_min, k_max, n_splits, n_points)


def fit_tail_decay(
    coefficients, k_min: int, k_max: int, n_samples: int | None = None, n_splits: int = 3, n_points: int = 100
) -> PowerLawFit:
    """Fit ``S_k / N = K k^-kappa`` to the coefficient tail sums on ``[k_min, k_max]`` (1-based).

    The local exponent of the finite spectrum: what the loss curve sees while it learns these
    modes (module docstring).  ``n_samples`` is N (defaults to the number of coefficients).
    """
    coefficients = np.asarray(coefficients, dtype=np.float64)
    n_samples = len(coefficients) if n_samples is None else n_samples
    _check_range(coefficients, k_min, k_max, "tail")
    tails = tail_sums(coefficients)
    if np.any(tails[k_min - 1 : k_max] <= 0):
        raise ValueError("coefficient tail sums must be positive on the fit range")
    return _decay_fit(tails, k_min, k_max, n_splits, n_points, scale=1.0 / n_samples)


def resolved_modes(eigenvalues, lr_eff: float, steps) -> np.ndarray:
    """``k*(t)``: how many modes gradient descent at effective rate ``lr_eff`` has learned by step
    t, i.e. the number of eigenvalues with ``2 lr_eff lambda_k t >= 1`` (``e^-2 a t`` <= 1/e)."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))
    t = np.asarray(steps, dtype=np.float64)
    return len(lam) - np.searchsorted(lam, 1.0 / (2 * lr_eff * t), side="left")


def horizon_fit_range(
    eigenvalues, steps: int, lr_eff: float = REFERENCE_LR, decades: float = 1.0
) -> tuple[int, int]:
    """The stated rule for a fit range: the modes resolved over the last ``decades`` of a
    horizon, ``[k*(T / 10^decades), k*(T)]`` (:func:`resolved_modes`), kept inside ``[2, N]``
    (the top mode is the kernel's mean direction, an outlier of every real spectrum) and widened
    symmetrically in log k to at least :data:`MIN_FIT_MODES` modes."""
    n = len(eigenvalues)
    lo, hi = resolved_modes(eigenvalues, lr_eff, [steps / 10**decades, steps])
    lo, hi = max(int(lo), 2), min(max(int(hi), 2), n)
    while hi - lo + 1 < MIN_FIT_MODES and (lo > 2 or hi < n):
        lo, hi = max(2, lo - max(1, lo // 4)), min(n, hi + max(1, hi // 4))
    if hi - lo + 1 < MIN_FIT_MODES:
        raise ValueError(f"a spectrum of {n} modes is too short for a fit range of {MIN_FIT_MODES} modes")
    return lo, hi


def fit_truncated_tail_decay(coefficients, k_min: int, k_max: int, n_modes: int | None = None) -> float:
    """Implementation check only: kappa of an *exact* power law truncated at N modes, from the
    model ``S_k = A [zeta(kappa+1, k) - zeta(kappa+1, N+1)]`` (amplitude profiled out).  It
    recovers the synthetic generator's exponent, and collapses on real spectra (module docstring)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import zeta

    tails = tail_sums(coefficients)
    n_modes = len(tails) if n_modes is None else n_modes
    k = _fit_points(k_min, k_max, 100)
    log_s = np.log(tails[k - 1])

    def sse(kappa):
        log_model = np.log(zeta(kappa + 1.0, k) - zeta(kappa + 1.0, n_modes + 1))
        return np.sum((log_s - log_model - np.mean(log_s - log_model)) ** 2)

    return float(minimize_scalar(sse, bounds=(1e-3, 20.0), method="bounded", options={"xatol": 1e-7}).x)


def late_time_slope(nu: float, kappa: float) -> float:
    """Theorem 2's exponent ``-min(kappa/nu, 2 - 1/nu)``; nan where no power-law decay exists
    (nu <= 1: eventual divergence for an infinite spectrum, theory.md §6)."""
    from .theory import late_time_exponent

    return late_time_exponent(nu, kappa) if nu > 1 else math.nan


def predicted_slope(nu: PowerLawFit, kappa: PowerLawFit) -> tuple[float, float]:
    """The late-time slope from two fits on one range, with its uncertainty: the spread of the
    slopes of the sub-range pairs (the same spread that gives each exponent its error)."""
    slope = late_time_slope(nu.exponent, kappa.exponent)
    subs = np.array([late_time_slope(a, b) for a, b in zip(nu.sub_exponents, kappa.sub_exponents)])
    subs = subs[np.isfinite(subs)]  # a sub-range with nu <= 1 predicts no power law
    return slope, float(np.std(subs)) if len(subs) >= 2 else math.nan


def fit_spectrum(eigenvalues, coefficients, k_min: int, k_max: int, n_samples: int | None = None) -> dict:
    """Both exponents on one range, their ratio zeta and the late-time slope they predict."""
    nu = fit_eigenvalue_decay(eigenvalues, k_min, k_max)
    kappa = fit_tail_decay(coefficients, k_min, k_max, n_samples)
    slope, slope_err = predicted_slope(nu, kappa)
    return {
        "nu": nu.to_dict(),
        "kappa": kappa.to_dict(),
        "zeta": kappa.exponent / nu.exponent,
        "late_time_exponent": slope,
        "late_time_exponent_err": slope_err,
    }


def range_sweep(eigenvalues, coefficients, windows: int = 12, width: float = 5.0) -> list[dict]:
    """Exponents over sliding ranges ``[k, width * k]`` spread evenly in log k over the spectrum:
    how much nu, kappa and the predicted slope depend on where they are measured."""
    n = len(eigenvalues)
    rows = []
    for lo in np.unique(np.round(np.geomspace(2, max(2.0, n / width), windows)).astype(int)):
        hi = min(n, int(round(lo * width)))
        if hi - lo + 1 < MIN_FIT_MODES:
            continue
        f = fit_spectrum(eigenvalues, coefficients, int(lo), hi)
        rows.append(
            {
                "k_min": int(lo),
                "k_max": hi,
                "nu": f["nu"]["exponent"],
                "kappa": f["kappa"]["exponent"],
                "zeta": f["zeta"],
                "late_time_exponent": f["late_time_exponent"],
            }
        )
    return rows


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (nan with fewer than 2 points or any y <= 0)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or np.any(y <= 0):
        return math.nan
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def late_slope(steps: np.ndarray, loss: np.ndarray, decades: float = 1.0) -> float:
    """Least-squares log-log slope of a loss curve over its last ``decades`` decades of steps."""
    steps, loss = np.asarray(steps, float), np.asarray(loss, float)
    sel = (steps >= steps.max() / 10**decades) & (steps > 0) & np.isfinite(loss) & (loss > 0)
    return loglog_slope(steps[sel], loss[sel]) if sel.sum() >= 3 else math.nan


def theorem2_slope(nu: float, kappa: float, lr: float, gamma: float, steps: int, tau: float = 1.0) -> dict:
    """Theorem 2 tested on its own terms: the SE(tau) loss (beta = 0) on an effectively infinite
    power law ``lambda_k = k^-nu``, ``c_k = k^-(kappa+1)`` (geometric bins far past the modes the
    horizon resolves), its slope over ``[T/10, T]`` against ``-min(zeta, 2 - 1/nu)``."""
    from .spectra import binned_power_law
    from .theory import critical_lr, log_spaced_steps, se_loss_trajectory

    predicted = late_time_slope(nu, kappa)
    if not np.isfinite(predicted):
        return {"predicted": predicted, "measured": math.nan, "lr": lr, "n_modes": 0}
    resolved = (2 * lr * steps) ** (1 / nu)  # k*(T) of lambda_k = k^-nu
    n_modes = int(min(1e12, max(1e6, 1e3 * resolved)))
    lam, coef, mult = binned_power_law(nu, kappa, n_modes)
    lr = min(lr, 0.5 * critical_lr(lam, 0.0, gamma, tau)) if gamma > 0 else lr
    record = log_spaced_steps(steps, 120)
    loss, div = se_loss_trajectory(lam, coef, lr, 0.0, gamma, tau, record, n_samples=1, multiplicity=mult)
    measured = late_slope(record, loss[0]) if div[0] < 0 else math.nan
    return {"predicted": predicted, "measured": float(measured), "lr": float(lr), "n_modes": n_modes}
