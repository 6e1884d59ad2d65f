"""The paper's Fig. 3 right measured: eventual divergence for 1/2 < nu < 1 (theory.md §7).

On a binned, effectively infinite ``k^-nu`` spectrum (spectra.binned_power_law;
``c_k = k^-(kappa+1)``, one "sample", so ``K = 1/kappa``) with beta = 0, tau = 0 (the paper's
simplifications, §7) and a fixed gamma, every SE run diverges at rate ln(1/r).  The learning rates
are chosen by the U(r) = 1 root so that the predicted divergence times span a configured range
(that is what the runs cost); each run lasts a fixed number of divergence times.  Measured on each
run: the growth rate (least squares of ln L over the run's last half) and so 1 - r and t_div; and
the transition time, where the noiseless loss (the same spectrum run with gamma = 0) meets the
late exponential extrapolated back -- the very definition behind ``t_tr = x* t_div`` (§7).  They
are compared with the root of U(r) = 1, the closed form ``1 - r ~ alpha^(1/(1-nu))`` and
``x* t_div``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import gamma as gamma_fn

from .divergence_checks import divergence_root, eventual_divergence_closed_form
from .spectra import binned_power_law
from .theory import gd_constant, log_spaced_steps, se_loss_trajectory

#: Modes of the eventual-divergence spectra: the tail past k = 1e18 shifts U(r) by < 1% at nu = 0.6
#: (it adds ~ gamma alpha^2 k^(1-2nu) / ((2nu-1)(1-r)) for the modes with alpha lambda_k << 1 - r).
DIVERGENCE_N_MODES = 1e18


def transition_x_star(nu: float, zeta: float) -> float:
    """x* solving ``x^zeta e^x = (1 - nu) / (nu Gamma(1 - zeta))`` (§7; needs 0 < zeta < 1)."""
    if not (0 < zeta < 1 and 0 < nu < 1):
        return math.nan
    rhs = math.log((1 - nu) / (nu * gamma_fn(1 - zeta)))
    return math.exp(brentq(lambda lx: zeta * lx + math.exp(lx) - rhs, -80.0, 5.0, xtol=1e-14))


def exponential_fit(steps, loss, window: float = 0.5) -> tuple[float, float]:
    """``(rate, ln prefactor)`` of ``ln L ~ ln P + rate t``, least squares over the last ``window``
    of the run's finite span (its late exponential: :func:`divergence_checks.growth_rate` plus the
    intercept)."""
    t, y = np.asarray(steps, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    ok = np.isfinite(y) & (y > 0)
    t, y = t[ok], y[ok]
    if len(t) < 3:
        return math.nan, math.nan
    sel = t >= t[0] + (1 - window) * (t[-1] - t[0])
    if sel.sum() < 2:
        return math.nan, math.nan
    rate, log_p = np.polyfit(t[sel], np.log(y[sel]), 1)
    return float(rate), float(log_p)


def first_crossing(steps, log_gap) -> float:
    """First t > 0 where ``log_gap`` (sampled at ``steps``) turns from negative to >= 0, by linear
    interpolation in ln t; nan when it never does (or is never negative first)."""
    t, g = np.asarray(steps, dtype=np.float64), np.asarray(log_gap, dtype=np.float64)
    ok = (t > 0) & np.isfinite(g)
    t, g = t[ok], g[ok]
    up = np.flatnonzero((g[:-1] < 0) & (g[1:] >= 0))
    if not len(up):
        return math.nan
    i = up[0]
    w = -g[i] / (g[i + 1] - g[i])
    return float(np.exp((1 - w) * np.log(t[i]) + w * np.log(t[i + 1])))


def lrs_for_divergence_times(nu: float, gamma: float, t_divs, spectrum, grid_points: int = 60) -> np.ndarray:
    """Learning rates whose U(r) = 1 root has ``t_div`` = each of ``t_divs`` (beta = tau = 0): a
    geometric alpha scan, then brentq in ln alpha between the bracketing scan points."""
    lam, coef, mult = spectrum
    t_of = lambda la: (lambda r: r["t_div"] if r else math.inf)(
        divergence_root(lam, coef, math.exp(la), 0.0, gamma, 0.0, 1, mult)
    )
    grid = np.linspace(math.log(1e-4), math.log(1.9), grid_points)
    t_grid = np.array([t_of(la) for la in grid])
    out = []
    for target in t_divs:
        above = np.flatnonzero((t_grid[:-1] >= target) & (t_grid[1:] < target))
        if not len(above):
            out.append(math.nan)
            continue
        i = above[0]
        f = lambda la: math.log(t_of(la)) - math.log(target)
        out.append(
            math.exp(brentq(f, grid[i], grid[i + 1], xtol=1e-12))
            if np.isfinite(t_grid[i])
            else math.exp(grid[i + 1])
        )
    return np.array(out)


def eventual_divergence_run(
    spectrum, nu: float, kappa: float, lr: float, gamma: float, steps: int, points: int = 400
) -> dict:
    """One SE run (beta = tau = 0, gamma) and its noiseless twin (gamma = 0) on ``spectrum``
    (binned, one sample): measured growth rate, 1 - r, t_div, prefactor and transition time
    against U(r) = 1, the closed form and ``x* t_div``.  Also returns the two curves."""
    lam, coef, mult = spectrum
    t = np.union1d(log_spaced_steps(steps, points), np.linspace(0, steps, points + 1).astype(np.int64))
    loss, div = se_loss_trajectory(lam, coef, lr, 0.0, [gamma, 0.0], 0.0, t, 1, multiplicity=mult)
    rate, log_p = exponential_fit(t, loss[0])
    root = divergence_root(lam, coef, lr, 0.0, gamma, 0.0, 1, mult)
    zeta = kappa / nu
    x_star = transition_x_star(nu, zeta)
    c_gd = gd_constant(nu, kappa, 1.0, 1.0 / kappa, lr)
    out = dict(
        nu=nu,
        kappa=kappa,
        zeta=zeta,
        lr=float(lr),
        gamma=gamma,
        steps=int(steps),
        diverged_at=int(div[0]),
        growth_measured=rate,
        one_minus_r_measured=-math.expm1(-rate) if np.isfinite(rate) else math.nan,
        t_div_measured=1 / rate if rate > 0 else math.inf,
        x_star=x_star,
        one_minus_r_closed_form=eventual_divergence_closed_form(nu, lr, gamma),
        # where the measured noiseless loss meets the measured late exponential (the t_tr definition)
        t_tr_measured=first_crossing(t, log_p + rate * t - np.log(loss[1])) if rate > 0 else math.nan,
        # where the loss is twice the noiseless one (the terms equal, had the noise added nothing else)
        t_twice_noiseless=first_crossing(t, np.log(loss[0] / loss[1]) - math.log(2.0)),
    )
    if root is None:
        return (
            dict(
                out,
                one_minus_r_root=math.nan,
                t_div_root=math.nan,
                t_tr_predicted=math.nan,
                t_tr_asymptotes=math.nan,
                prefactor_ratio=math.nan,
                rate_ratio=math.nan,
            ),
            t,
            loss,
        )
    g_root = -math.log(root["r"])
    # the definition with exact ingredients: C t^-zeta = P r^-t (GD asymptote, eq. 24 prefactor)
    gap = lambda lt: math.log(c_gd) - zeta * lt - math.log(root["prefactor"]) - g_root * math.exp(lt)
    t_asym = (
        math.exp(brentq(gap, -30.0, math.log(50 * root["t_div"])))
        if gap(-30.0) > 0 > gap(math.log(50 * root["t_div"]))
        else math.nan
    )
    out.update(
        one_minus_r_root=root["one_minus_r"],
        t_div_root=root["t_div"],
        t_tr_predicted=x_star * root["t_div"],
        t_tr_asymptotes=t_asym,
        prefactor_ratio=math.exp(log_p) / root["prefactor"],
        rate_ratio=rate / g_root,
    )
    return out, t, loss


def loglog_fit_slope(x, y) -> float:
    """Least-squares slope of ln y against ln x over the finite positive pairs (nan if < 2)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0]) if ok.sum() >= 2 else math.nan


def eventual_divergence_study(
    nus,
    zeta: float,
    gamma: float,
    t_div_range,
    lr_points: int,
    run_tdivs: float,
    n_modes: float = DIVERGENCE_N_MODES,
    bins: int = 600,
    curve_points: int = 40,
):
    """Fig. 3 right.  Per nu (kappa = zeta nu): ``lr_points`` learning rates whose predicted t_div
    spans ``t_div_range`` (log-spaced), one :func:`eventual_divergence_run` each lasting
    ``run_tdivs`` predicted divergence times.  Returns ``(runs, theory, per_nu)``: the measured
    table, the root and closed form on a dense alpha grid (for the figure) and per-nu fitted
    exponents of measured 1 - r, of the root and the predicted 1/(1 - nu)."""
    runs, theory, per_nu = [], [], []
    for nu in nus:
        kappa = zeta * nu
        spectrum = binned_power_law(nu, kappa, int(n_modes), bins=bins)
        t_divs = np.geomspace(max(t_div_range), min(t_div_range), lr_points)
        lrs = lrs_for_divergence_times(nu, gamma, t_divs, spectrum)
        rows = [
            eventual_divergence_run(spectrum, nu, kappa, lr, gamma, int(math.ceil(run_tdivs * td)))[0]
            for lr, td in zip(lrs, t_divs)
            if np.isfinite(lr)
        ]
        runs += rows
        table = pd.DataFrame(rows)
        for lr in np.geomspace(0.5 * np.nanmin(lrs), 1.5 * np.nanmax(lrs), curve_points):
            root = divergence_root(*spectrum[:2], lr, 0.0, gamma, 0.0, 1, spectrum[2])
            theory.append(
                dict(
                    nu=nu,
                    lr=float(lr),
                    one_minus_r_root=root["one_minus_r"] if root else math.nan,
                    one_minus_r_closed_form=eventual_divergence_closed_form(nu, lr, gamma),
                )
            )
        smallest = table.loc[table.lr.idxmin()] if len(table) else None
        per_nu.append(
            dict(
                nu=nu,
                kappa=kappa,
                gamma=gamma,
                n_runs=len(table),
                lr_min=float(table.lr.min()) if len(table) else math.nan,
                lr_max=float(table.lr.max()) if len(table) else math.nan,
                exponent_predicted=1 / (1 - nu),
                exponent_measured=loglog_fit_slope(
                    table.get("lr", []), table.get("one_minus_r_measured", [])
                ),
                exponent_root=loglog_fit_slope(table.get("lr", []), table.get("one_minus_r_root", [])),
                worst_rate_error=float(np.max(np.abs(table.rate_ratio - 1))) if len(table) else math.nan,
                closed_over_root_at_smallest_lr=(
                    smallest.one_minus_r_closed_form / smallest.one_minus_r_root
                    if smallest is not None
                    else math.nan
                ),
                t_tr_measured_at_smallest_lr=smallest.t_tr_measured if smallest is not None else math.nan,
                t_tr_predicted_at_smallest_lr=smallest.t_tr_predicted if smallest is not None else math.nan,
            )
        )
    return pd.DataFrame(runs), pd.DataFrame(theory), per_nu
