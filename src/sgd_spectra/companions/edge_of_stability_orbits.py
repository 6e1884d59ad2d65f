"""Seed 001 (:mod:`.edge_of_stability`): the flip-bifurcation normal form, orbit detection, and part (a),
the 1-D contrast of log cosh (a stable 2-cycle) against a convex quartic (divergence)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import brentq

#: Orbit detection (companions.md): period 2 iff |x_T − x_{T−2}| < PERIOD_TOL and |x_T − x_{T−1}| > MIN_SWING.
PERIOD_TOL = 1e-10
MIN_SWING = 1e-3
#: Periods up to this are detected; the last MAX_PERIOD + 1 iterates are kept.
MAX_PERIOD = 16


# ----------------------------------------------------------------------------------------------------------
# Normal form
# ----------------------------------------------------------------------------------------------------------
def flip_bifurcation_coefficients(f2, f3, f4, eta):
    """(μ, α, β) of g(y) = −(1+μ)y + αy² + βy³, the GD map x − ηf'(x) around a minimum with f''=f2, f'''=f3,
    f''''=f4:  μ = η f2 − 2,  α = −η f3 / 2,  β = −η f4 / 6.  Works elementwise on arrays."""
    eta = np.asarray(eta, float)
    return eta * f2 - 2.0, -eta * f3 / 2.0, -eta * f4 / 6.0


def third_derivative_condition(f2, f3, f4):
    """3 f'''² − f'' f'''': positive iff α² + β > 0 at η = 2/f'' (supercritical flip, stable 2-cycle)."""
    return 3.0 * f3**2 - f2 * f4


def leading_order_half_amplitude(mu, alpha, beta):
    """δ = √(μ / (α² + β)), the 2-cycle half-amplitude to leading order in μ; NaN where μ ≤ 0 or α²+β ≤ 0."""
    mu, curvature = np.asarray(mu, float), np.asarray(alpha, float) ** 2 + np.asarray(beta, float)
    ok = (mu > 0) & (curvature > 0)
    return np.where(ok, np.sqrt(np.where(ok, mu / np.where(ok, curvature, 1.0), 0.0)), np.nan)


# ----------------------------------------------------------------------------------------------------------
# (a) 1-D contrast
# ----------------------------------------------------------------------------------------------------------
def _sech2(x):
    return 1.0 / np.cosh(x) ** 2


#: name -> gradient f' and the derivatives f'', f''', f'''' (closed forms), minimum at x = 0 with f''(0) = 1.
ONE_D_LOSSES = {
    "log cosh": dict(
        grad=np.tanh,
        d2=_sech2,
        d3=lambda x: -2.0 * np.tanh(x) * _sech2(x),
        d4=lambda x: _sech2(x) * (4.0 * np.tanh(x) ** 2 - 2.0 * _sech2(x)),
    ),
    "convex quartic": dict(
        grad=lambda x: x + x**3 / 6.0,
        d2=lambda x: 1.0 + x**2 / 2.0,
        d3=lambda x: np.asarray(x, float) * 1.0,
        d4=lambda x: np.ones_like(np.asarray(x, float)),
    ),
}


def gd_1d(grad, etas, x0, steps, bound):
    """GD x ← x − η f'(x) for every η at once, from x0, for ``steps`` updates.

    Needs steps > MAX_PERIOD.  Returns (last, diverged_at): ``last`` has shape (MAX_PERIOD+1, len(etas)) with
    rows x_{T−MAX_PERIOD} … x_T; ``diverged_at[j]`` is the first step t with |x_t| > bound or x_t non-finite
    (−1 if never).  A diverged entry is frozen at that iterate, so nothing overflows (and numpy emits no
    warnings)."""
    etas = np.asarray(etas, float)
    x = np.full(etas.shape, float(x0))
    diverged_at = np.full(etas.shape, -1, dtype=np.int64)
    last = np.empty((MAX_PERIOD + 1, etas.size))
    first_recorded = steps - MAX_PERIOD
    for t in range(1, steps + 1):
        alive = diverged_at < 0
        x = np.where(alive, x - etas * grad(x), x)
        diverged_at[alive & ~(np.abs(x) <= bound)] = t
        if t >= first_recorded:
            last[t - first_recorded] = x
    return last, diverged_at


def log_cosh_two_cycle_half_amplitude(eta):
    """Exact 2-cycle of x ← x − η tanh x for η > 2: by oddness the cycle is ±x*, x* = (η/2) tanh x* (brentq)."""
    if not eta > 2:
        return math.nan
    return brentq(lambda x: x - 0.5 * eta * math.tanh(x), 1e-8, eta, xtol=1e-15, rtol=1e-15)


def period_and_residuals(last):
    """Smallest p ≤ MAX_PERIOD with max|z_T − z_{T−p}| < PERIOD_TOL (0 if none), plus the period-2 residual
    max|z_T − z_{T−2}| and the swing max|z_T − z_{T−1}|.  ``last`` has the step on axis 0 (oldest first) and
    the run on axis 1, any trailing axes being reduced by max."""
    last = np.asarray(last, float)
    final = last[-1]
    diffs = np.stack(
        [
            np.abs(final - last[-1 - p]).reshape(final.shape[0], -1).max(axis=1)
            for p in range(1, MAX_PERIOD + 1)
        ]
    )
    periodic = diffs < PERIOD_TOL
    period = np.where(periodic.any(axis=0), periodic.argmax(axis=0) + 1, 0)
    return period, diffs[1], diffs[0]


def onedim_tables(params):
    """Orbits, per-(function, η) summary and the log cosh theory curve of part (a)."""
    etas = np.asarray(params["onedim_etas"], float)
    steps = int(params["onedim_steps"])
    orbit_rows, summary_rows = [], []
    for name, loss in ONE_D_LOSSES.items():
        f2, f3, f4 = (float(loss[k](0.0)) for k in ("d2", "d3", "d4"))
        mu, alpha, beta = flip_bifurcation_coefficients(f2, f3, f4, etas)
        leading = leading_order_half_amplitude(mu, alpha, beta)
        last, diverged_at = gd_1d(loss["grad"], etas, params["onedim_x0"], steps, params["divergence_bound"])
        period, period2_residual, swing = period_and_residuals(last)
        for j, eta in enumerate(etas):
            diverged = bool(diverged_at[j] >= 0)
            exact = log_cosh_two_cycle_half_amplitude(eta) if name == "log cosh" else math.nan
            summary_rows.append(
                dict(
                    function=name,
                    eta=float(eta),
                    mu=float(mu[j]),
                    f2=f2,
                    f3=f3,
                    f4=f4,
                    condition=float(third_derivative_condition(f2, f3, f4)),
                    alpha=float(alpha[j]),
                    beta=float(beta[j]),
                    leading_half_amplitude=float(leading[j]),
                    exact_half_amplitude=exact,
                    measured_half_amplitude=math.nan if diverged else float(swing[j] / 2),
                    period=0 if diverged else int(period[j]),
                    period2_residual=math.nan if diverged else float(period2_residual[j]),
                    swing=math.nan if diverged else float(swing[j]),
                    is_period2=bool(
                        not diverged and period2_residual[j] < PERIOD_TOL and swing[j] > MIN_SWING
                    ),
                    diverged=diverged,
                    diverged_at_step=int(diverged_at[j]),
                )
            )
            if not diverged:
                orbit_rows += [
                    dict(function=name, eta=float(eta), step=steps - MAX_PERIOD + k, x=float(last[k, j]))
                    for k in range(MAX_PERIOD + 1)
                ]
    summary = pd.DataFrame(summary_rows)
    orbits = pd.DataFrame(orbit_rows, columns=["function", "eta", "step", "x"])
    grid = np.linspace(2.0, max(2.0 + 1e-3, float(etas.max()) * 1.02), int(params["theory_points"]))[1:]
    log_cosh = ONE_D_LOSSES["log cosh"]
    mu, alpha, beta = flip_bifurcation_coefficients(
        *(float(log_cosh[k](0.0)) for k in ("d2", "d3", "d4")), grid
    )
    theory = pd.DataFrame(
        dict(
            function="log cosh",
            eta=grid,
            leading_half_amplitude=leading_order_half_amplitude(mu, alpha, beta),
            exact_half_amplitude=[log_cosh_two_cycle_half_amplitude(e) for e in grid],
        )
    )
    return orbits, summary, theory
