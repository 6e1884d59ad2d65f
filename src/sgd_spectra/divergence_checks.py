"""Divergence above alpha_c (eq. 24) and eventual divergence for 1/2 < nu < 1 (theory.md §7),
measured on SE runs and put next to the root of U(r) = 1 and the small-alpha closed form.

Conventions are :mod:`sgd_spectra.asymptotics`': output space, binned spectra with a
``multiplicity`` per entry; results are plain numbers (a dict, or a DataFrame for scans).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from .generating_functions import divergence_rate, noise_gf_binned, signal_gf
from .spectra import binned_power_law
from .theory import se_loss_trajectory

#: Measured/predicted exponential growth rate within this relative error "agrees".
RATE_TOLERANCE = 0.02


def growth_rate(steps, loss, window: float = 0.5) -> float:
    """Least-squares slope of ``ln L`` against t over the last ``window`` of the finite part of
    the curve: the late-time exponential rate ``ln(1/r)`` (negative for a decaying run)."""
    t, y = np.asarray(steps, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    ok = np.isfinite(y) & (y > 0)
    t, y = t[ok], y[ok]
    if len(t) < 3:
        return math.nan
    sel = t >= t[0] + (1 - window) * (t[-1] - t[0])
    return float(np.polyfit(t[sel], np.log(y[sel]), 1)[0]) if sel.sum() >= 2 else math.nan


def divergence_root(
    eigenvalues,
    coefficients,
    lr: float,
    momentum: float,
    gamma: float,
    tau: float = 1.0,
    n_samples=None,
    multiplicity=None,
) -> dict | None:
    """r with U(r) = 1 on a binned spectrum, solved for ``eps = 1 - r`` in log space (eps down to
    1e-13, far below what generating_functions.divergence_rate's bracket resolves), and the eq. (24) prefactor.
    Assumes U increases on (0, 1) (true for beta >= 0, 0 <= gamma tau <= 1); None when U(1) < 1."""
    f = lambda le: (
        float(
            noise_gf_binned(
                1 - math.exp(le),
                eigenvalues,
                lr,
                momentum,
                gamma,
                tau,
                multiplicity,
            )
        )
        - 1
    )
    lo, hi = math.log(1e-13), math.log(1 - 1e-9)
    if not (np.isfinite(f(lo)) and f(lo) > 0 and f(hi) < 0):
        return None
    eps = math.exp(brentq(f, lo, hi, xtol=1e-13, rtol=1e-13))
    r = 1 - eps
    h = 1e-4 * eps
    du = (f(math.log(eps - h)) - f(math.log(eps + h))) / (2 * h)
    v_r = float(signal_gf(r, eigenvalues, coefficients, lr, momentum, gamma, tau, n_samples))
    return dict(r=r, one_minus_r=eps, t_div=float(-1 / math.log1p(-eps)), prefactor=v_r / (r * du))


def measured_divergence_rate(
    eigenvalues,
    coefficients,
    lr: float,
    momentum: float,
    gamma: float,
    tau: float,
    steps: int,
    n_samples=None,
    multiplicity=None,
    points: int = 2001,
) -> dict:
    """Late-time exponential rate of an SE run (:func:`growth_rate`, last half) against eq. (24):
    ``ln(1/r)`` and the prefactor ``V(r)/(r U'(r))`` (generating_functions.divergence_rate, or
    :func:`divergence_root` for binned spectra).  A convergent setting has no prediction."""
    if multiplicity is None:
        pred = divergence_rate(eigenvalues, coefficients, lr, momentum, gamma, tau, n_samples)
    else:
        pred = divergence_root(eigenvalues, coefficients, lr, momentum, gamma, tau, n_samples, multiplicity)
    t = np.unique(np.linspace(0, steps, points).astype(np.int64))
    loss, div = se_loss_trajectory(
        eigenvalues, coefficients, lr, momentum, gamma, tau, t, n_samples, multiplicity=multiplicity
    )
    loss = loss[0]
    g = growth_rate(t, loss)
    out = dict(
        diverges_measured=bool(g > 0 or div[0] >= 0),
        growth_measured=g,
        r_measured=math.exp(-g),
        t_div_measured=1 / g if g > 0 else math.inf,
        diverged_at=int(div[0]),
        t_exceeds_initial=next((int(s) for s, v in zip(t[1:], loss[1:]) if v >= loss[0]), -1),
        diverges_predicted=pred is not None,
        growth_predicted=math.nan,
        r_predicted=math.nan,
        t_div_predicted=math.nan,
        rate_ratio=math.nan,
        prefactor_ratios={},
    )
    if pred is None:
        return dict(out, agrees=False)
    rate = -math.log(pred["r"])
    ok = np.isfinite(loss) & (t > 0)
    quarters = [t[ok][int(q * (ok.sum() - 1))] for q in (0.25, 0.5, 0.75, 1.0)] if ok.any() else []
    ratios = {int(s): float(loss[t == s][0] / (pred["prefactor"] * math.exp(rate * s))) for s in quarters}
    out.update(
        growth_predicted=rate,
        r_predicted=pred["r"],
        t_div_predicted=pred["t_div"],
        rate_ratio=g / rate,
        prefactor_ratios=ratios,
    )
    return dict(out, agrees=bool(np.isfinite(g) and abs(g / rate - 1) <= RATE_TOLERANCE))


def eventual_divergence_closed_form(nu: float, lr: float, gamma: float, Lambda: float = 1.0) -> float:
    """``1 - r ~ [gamma Lambda^(1/nu) alpha^(1/nu) 2^-s pi / (nu sin(pi s))]^(nu/(1-nu))``, s = 2 - 1/nu
    (§7; beta = 0, tau2 = 0, small alpha, 1/2 < nu < 1)."""
    s = 2 - 1 / nu
    base = gamma * Lambda ** (1 / nu) * lr ** (1 / nu) * 2**-s * math.pi / (nu * math.sin(math.pi * s))
    return float(base ** (nu / (1 - nu)))


def eventual_divergence_scan(nu: float, lrs, gamma: float, n_modes: float = 1e15, bins: int = 800) -> dict:
    """1 - r from U(r) = 1 on a (nearly) infinite binned k^-nu spectrum for several small alpha
    (beta = tau = 0), the closed form beside it, and the fitted exponent of 1 - r in alpha
    against the predicted 1/(1 - nu).  Rows without a root (U(1) < 1) hold nan."""
    lam, coef, mult = binned_power_law(nu, 1.0, int(n_modes), bins=bins)
    rows = []
    for lr in lrs:
        root = divergence_root(lam, coef, lr, 0.0, gamma, 0.0, 1, mult)
        eps = root["one_minus_r"] if root else math.nan
        closed = eventual_divergence_closed_form(nu, lr, gamma) if 0.5 < nu < 1 else math.nan
        rows.append(
            dict(
                lr=float(lr),
                one_minus_r=eps,
                closed_form=closed,
                ratio=eps / closed,
                t_div=root["t_div"] if root else math.nan,
            )
        )
    table = pd.DataFrame(rows)
    ok = np.isfinite(table.one_minus_r)
    slope = (
        float(np.polyfit(np.log(table.lr[ok]), np.log(table.one_minus_r[ok]), 1)[0])
        if ok.sum() >= 2
        else math.nan
    )
    return dict(
        table=table, exponent_measured=slope, exponent_predicted=1 / (1 - nu) if 0.5 < nu < 1 else math.nan
    )


def measured_eventual_divergence(
    nu: float, lr: float, gamma: float, steps: int, n_modes: float = 1e12, kappa: float = 1.0, bins: int = 400
) -> dict:
    """SE run (beta = tau = 0) on a binned k^-nu spectrum: measured 1 - r, e-folding time and the
    step the loss is back at L_0, against U(r) = 1 on the same spectrum and the closed form."""
    lam, coef, mult = binned_power_law(nu, kappa, int(n_modes), bins=bins)
    m = measured_divergence_rate(lam, coef, lr, 0.0, gamma, 0.0, steps, 1, mult)
    return dict(
        m,
        one_minus_r_measured=-math.expm1(-m["growth_measured"]),
        one_minus_r_root=1 - m["r_predicted"],
        one_minus_r_closed_form=eventual_divergence_closed_form(nu, lr, gamma) if 0.5 < nu < 1 else math.nan,
    )
