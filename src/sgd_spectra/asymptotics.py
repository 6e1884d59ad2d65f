"""Late-time theory measured on SE runs and put next to its closed forms (theory.md §6, §7, §10, §11).

Each function measures one quantity -- on SE loss curves or on exact sums over a spectrum -- and
returns it with its prediction as plain numbers (a dict, or a DataFrame for scans); nothing is
formatted here, and only the named tolerances below turn a comparison into a yes/no.

Conventions are theory.py's: output space (eigenvalues of K/N, ``c_k = <u_k, e0>^2``,
``L = sum c / (2N)``), with the parameter-space moments ``C_k = c_k / (N lambda_k)`` where a
formula needs them.  Binned spectra (spectra.binned_power_law: Hurwitz-zeta bin sums, so a
tail to k = 1e15 is cheap) carry a ``multiplicity`` per entry.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import brentq, minimize_scalar

from .spectra import binned_power_law
from .theory import (
    asymptotic_loss,
    characteristic_polynomial,
    critical_lr,
    critical_regularisation,
    divergence_rate,
    effective_lr_bounds,
    gd_constant,
    noiseless_lr_bound,
    se_loss_trajectory,
    signal_gf,
    transition_time,
    u_at_one,
    v_at_one,
)

#: A momentum that lowers the final loss by less than this fraction is "no effect".
MIN_MOMENTUM_GAIN = 0.01
#: Measured/predicted transition time within this relative error "agrees".
TRANSITION_TOLERANCE = 0.10
#: Measured/predicted exponential growth rate within this relative error "agrees".
RATE_TOLERANCE = 0.02
#: alpha_eff,c / (2 / (gamma lambda_crit)) within this of 1 at the largest momentum is "tight".
TIGHTNESS_TOLERANCE = 0.01


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _weights(eigenvalues, multiplicity):
    lam = np.asarray(eigenvalues, dtype=np.float64)
    return lam, (np.ones_like(lam) if multiplicity is None else np.asarray(multiplicity, dtype=np.float64))


def parameter_moments(eigenvalues, coefficients, n_samples: int | None = None) -> np.ndarray:
    """``C_k = c_k / (N lambda_k)``: the parameter-space moments the §11 criterion is written in."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n = len(lam) if n_samples is None else n_samples
    return np.asarray(coefficients, dtype=np.float64) / (n * lam)


def noise_gf_binned(
    z, eigenvalues, lr: float, momentum: float, gamma: float, tau: float = 1.0, multiplicity=None
):
    """theory.noise_gf with a multiplicity per eigenvalue (binned spectra), tau1 = 1."""
    lam, mult = _weights(eigenvalues, multiplicity)
    zz = np.asarray(z, dtype=np.float64)
    s = characteristic_polynomial(zz, lam, lr, momentum, gamma, tau)
    return gamma * lr**2 * np.sum(mult * lam**2 * (zz * (1 + momentum * zz))[..., None] / s, axis=-1)


def local_slopes(steps, loss) -> np.ndarray:
    """``d ln L / d ln t`` of a sampled curve (steps > 0), by centred differences in ln t."""
    return np.gradient(
        np.log(np.asarray(loss, dtype=np.float64)), np.log(np.asarray(steps, dtype=np.float64))
    )


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


# --------------------------------------------------------------------------------------------
# 1. negative momentum in the noise phase (§11)
# --------------------------------------------------------------------------------------------


def noise_phase_log_loss(
    eigenvalues,
    coefficients,
    nu: float,
    kappa: float,
    lr: float,
    momentum: float,
    gamma: float,
    tau: float = 0.0,
    n_samples=None,
    multiplicity=None,
) -> float:
    """ln of the (28b) asymptote's constant (Lambda = K = 1, t = 1); inf when U(1) >= 1."""
    u1 = u_at_one(eigenvalues, lr, momentum, gamma, tau, multiplicity)
    if not u1 < 1:
        return math.inf
    v1 = v_at_one(eigenvalues, coefficients, lr, momentum, gamma, tau, n_samples)
    return float(np.log(asymptotic_loss(1.0, nu, kappa, 1.0, 1.0, lr, momentum, gamma, u1, v1)))


def noise_phase_optimal_lr(
    eigenvalues,
    coefficients,
    nu: float,
    kappa: float,
    gamma: float,
    momentum: float = 0.0,
    tau: float = 0.0,
    n_samples=None,
    multiplicity=None,
) -> float:
    """alpha minimising the (28b) asymptote: where the §11 criterion is evaluated (it assumes it)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    bound = noiseless_lr_bound(momentum, float(lam.max()))
    f = lambda lr: min(u_at_one(lam, lr, momentum, gamma, tau, multiplicity), 1e6) - 1
    hi = bound if f(bound * (1 - 1e-9)) < 0 else brentq(f, 1e-12 * bound, bound * (1 - 1e-9), xtol=1e-15)
    obj = lambda x: noise_phase_log_loss(
        lam,
        coefficients,
        nu,
        kappa,
        math.exp(x),
        momentum,
        gamma,
        tau,
        n_samples,
        multiplicity,
    )
    res = minimize_scalar(
        obj,
        bounds=(math.log(hi * 1e-4), math.log(hi * (1 - 1e-9))),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(math.exp(res.x))


def momentum_sign_derived(
    eigenvalues,
    coefficients,
    lr: float,
    gamma: float,
    n_samples=None,
    multiplicity=None,
    nu: float | None = None,
) -> dict:
    """The derived §11 criterion at tau2 = 0, beta = 0: ``value`` is d ln L/d beta of (28b) when
    ``lr`` is the (28b) optimum; positive means negative momentum is better.  With ``nu`` also the
    small-alpha form ``sum lam . sum lam C - (nu-1)/nu sum lam^2 . sum C`` (sign only)."""
    lam, mult = _weights(eigenvalues, multiplicity)
    C = parameter_moments(lam, coefficients, n_samples)
    a = lr * lam
    u1 = u_at_one(lam, lr, 0.0, gamma, 0.0, multiplicity)
    v1 = np.sum(C / (2 * lr * (2 - a)))
    if np.any(a >= 2) or not u1 < 1:
        signal = noise = value = math.nan
    else:
        signal = float(np.sum(C * lam * (1 - a) / (2 - a) ** 2) / v1)
        noise = float(4 * gamma * lr**2 * np.sum(mult * lam**2 / (2 - a) ** 2) / (1 - u1))
        value = signal - noise
    out = dict(
        lr=lr,
        u1=u1,
        v1=float(v1),
        signal_term=signal,
        noise_term=noise,
        value=value,
        sign=int(np.sign(value)) if np.isfinite(value) else 0,
    )
    if nu is not None:
        small = np.sum(mult * lam) * np.sum(lam * C) - (nu - 1) / nu * np.sum(mult * lam**2) * np.sum(C)
        out.update(small_lr_value=float(small), small_lr_sign=int(np.sign(small)))
    return out


def momentum_sign_notebook(nu: float, kappa: float, n_modes: int) -> dict:
    """The authors' LossDerivative form ``sum lam sum C - (nu-1)/nu sum lam^2 sum C/lam`` with
    ``C_k = k^(-kappa+nu-1)``, ``lam_k = k^-nu`` (our small-alpha form with C -> C/lambda)."""
    k = np.arange(1, n_modes + 1, dtype=np.float64)
    lam, C = k**-nu, k ** (-kappa + nu - 1)
    value = lam.sum() * C.sum() - (nu - 1) / nu * np.sum(lam**2) * np.sum(C / lam)
    return dict(nu=nu, kappa=kappa, n_modes=n_modes, value=float(value), sign=int(np.sign(value)))


def se_momentum_slope(
    eigenvalues,
    coefficients,
    lr: float,
    gamma: float,
    tau: float,
    steps,
    n_samples=None,
    multiplicity=None,
    dbeta: float = 0.01,
) -> np.ndarray:
    """SE ``d ln L_T / d beta`` at beta = 0 for each horizon T in ``steps`` (centred, +-dbeta)."""
    loss, _ = se_loss_trajectory(
        eigenvalues,
        coefficients,
        lr,
        [-dbeta, dbeta],
        gamma,
        tau,
        steps,
        n_samples,
        multiplicity=multiplicity,
    )
    return (np.log(loss[1]) - np.log(loss[0])) / (2 * dbeta)


def _parabolic_min(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(argmin, min) of sampled y(x): the best point refined by a parabola through its neighbours."""
    i = int(np.nanargmin(y))
    if 0 < i < len(x) - 1 and np.all(np.isfinite(y[i - 1 : i + 2])):
        a, b, c = np.polyfit(x[i - 1 : i + 2], y[i - 1 : i + 2], 2)
        if a > 0:
            return float(-b / (2 * a)), float(c - b * b / (4 * a))
    return float(x[i]), float(y[i])


def se_momentum_slope_at_optimal_lr(
    eigenvalues,
    coefficients,
    gamma: float,
    tau: float,
    steps: int,
    lr_grid,
    n_samples=None,
    multiplicity=None,
    dbeta: float = 0.01,
) -> dict:
    """``d ln L*_T / d beta`` at beta = 0, with ``L*_T(beta) = min_alpha L_T(alpha, beta)`` (SE).

    This answers "is negative momentum better at horizon T" with the learning rate tuned, as in
    Fig. 6.  By the envelope theorem it is the partial beta-slope at the horizon's optimal alpha,
    but measured this way an error in that optimum enters only at second order -- the partial
    slope at a fixed alpha moves by ~0.05 per 1% of alpha near the phase boundary.  The minimum
    over ``lr_grid`` (log alpha) is refined on a 9-point grid of +-10% around it.
    """
    grid = np.asarray(lr_grid, dtype=np.float64)
    betas = np.array([-dbeta, 0.0, dbeta])

    def minima(g):
        loss, _ = se_loss_trajectory(
            eigenvalues,
            coefficients,
            np.tile(g, 3),
            np.repeat(betas, len(g)),
            gamma,
            tau,
            [steps],
            n_samples,
            multiplicity=multiplicity,
        )
        return [_parabolic_min(np.log(g), row) for row in np.log(loss[:, 0]).reshape(3, -1)]

    centre = math.exp(minima(grid)[1][0])
    fine = minima(centre * np.geomspace(1 / 1.1, 1.1, 9))
    return dict(
        dlogL_dbeta=(fine[2][1] - fine[0][1]) / (2 * dbeta),
        lr_opt=math.exp(fine[1][0]),
        lr_opt_minus=math.exp(fine[0][0]),
        lr_opt_plus=math.exp(fine[2][0]),
    )


def momentum_effect(
    loss_at_beta0: float, loss_at_best: float, best_momentum: float, min_gain: float = MIN_MOMENTUM_GAIN
) -> dict:
    """Does the best momentum beat beta = 0 by at least ``min_gain`` (relative)?  A smaller gain
    is within what a grid/horizon choice can shift, so the data then support neither sign."""
    finite = all(np.isfinite(v) for v in (loss_at_beta0, loss_at_best, best_momentum)) and loss_at_beta0 > 0
    gain = 1 - loss_at_best / loss_at_beta0 if finite else math.nan
    if not finite:  # a diverged beta = 0 run (or none at all) has no relative gain
        return dict(relative_gain=math.nan, effect=False, supported_sign="no data", min_gain=min_gain)
    effect = bool(gain >= min_gain and best_momentum != 0)
    sign = ("negative" if best_momentum < 0 else "positive") if effect else "none"
    return dict(relative_gain=float(gain), effect=effect, supported_sign=sign, min_gain=min_gain)


def momentum_scan_effect(
    eigenvalues,
    coefficients,
    lr: float,
    momenta,
    gamma: float,
    tau: float,
    steps: int,
    n_samples=None,
    multiplicity=None,
) -> dict:
    """SE loss at ``steps`` over a momentum grid (must contain 0): :func:`momentum_effect` of its best."""
    momenta = np.asarray(momenta, dtype=np.float64)
    loss, _ = se_loss_trajectory(
        eigenvalues, coefficients, lr, momenta, gamma, tau, [steps], n_samples, multiplicity=multiplicity
    )
    best = int(np.nanargmin(loss[:, 0])) if np.isfinite(loss[:, 0]).any() else 0
    zero = int(np.argmin(np.abs(momenta)))
    out = momentum_effect(
        loss[zero, 0], loss[best, 0], momenta[best] if np.isfinite(loss[best, 0]) else math.nan
    )
    return dict(
        out,
        best_momentum=float(momenta[best]),
        loss_at_beta0=float(loss[zero, 0]),
        loss_at_best=float(loss[best, 0]),
    )


def momentum_sign_comparison(
    nu: float,
    kappa: float,
    n_samples: int,
    gamma: float,
    horizons,
    tau: float = 0.0,
    n_modes: float | None = None,
    lr_grid=None,
) -> dict:
    """All §11 signs on one binned power law of ``n_modes`` modes (default N; the notebook form
    always sums N): derived, small-alpha, notebook, a finite difference of (28b) and SE
    d ln L/d beta at each horizon, all at the (28b) optimal lr for beta = 0.  Horizons whose
    k*(T) = (2 alpha T)^(1/nu) nears n_modes see the spectrum's end: use n_modes >> k*(T).
    With ``lr_grid`` also the tuned slope at each horizon (:func:`se_momentum_slope_at_optimal_lr`)."""
    lam, c, mult = binned_power_law(nu, kappa, int(n_samples if n_modes is None else n_modes))
    lr = noise_phase_optimal_lr(lam, c, nu, kappa, gamma, 0.0, tau, n_samples, mult)
    derived = momentum_sign_derived(lam, c, lr, gamma, n_samples, mult, nu)
    h = 1e-4
    fd = (
        noise_phase_log_loss(lam, c, nu, kappa, lr, h, gamma, tau, n_samples, mult)
        - noise_phase_log_loss(lam, c, nu, kappa, lr, -h, gamma, tau, n_samples, mult)
    ) / (2 * h)
    se = se_momentum_slope(lam, c, lr, gamma, tau, list(horizons), n_samples, mult)
    tuned = (
        {}
        if lr_grid is None
        else {
            int(T): se_momentum_slope_at_optimal_lr(lam, c, gamma, tau, int(T), lr_grid, n_samples, mult)[
                "dlogL_dbeta"
            ]
            for T in horizons
        }
    )
    return dict(
        nu=nu,
        kappa=kappa,
        lr=lr,
        tau=tau,
        derived=derived["value"],
        derived_sign=derived["sign"],
        small_lr_sign=derived["small_lr_sign"],
        notebook_sign=momentum_sign_notebook(nu, kappa, n_samples)["sign"],
        formula_fd=float(fd),
        se_dlogL_dbeta={int(T): float(v) for T, v in zip(horizons, se)},
        se_tuned_dlogL_dbeta=tuned,
    )


# --------------------------------------------------------------------------------------------
# 2. signal -> noise transition time (eq. 29, §10)
# --------------------------------------------------------------------------------------------


def transition_time_from_curve(steps, loss, nu: float, kappa: float) -> float:
    """Time the local log-log slope last rises through ``-(zeta + 2 - 1/nu)/2``.

    For ``L = C_s t^-zeta + C_n t^-p`` the local slope is the term-weighted mean of -zeta and -p,
    so it is exactly half way where the two terms are equal: this *is* eq. (29)'s t_trans, but it
    reads only the exponents off the curve, none of the (28a/b) constants under test (a "2x one
    term" rule would need one of them).  The *last upward* crossing: the first steps are
    transients (the slope starts near 0 and wiggles through the midpoint on its way down to
    -zeta).  nan when the curve ends with its slope below the midpoint (transition not reached).
    """
    t, y = np.asarray(steps, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    ok = (t > 0) & np.isfinite(y) & (y > 0)
    t, y = t[ok], y[ok]
    mid = -(kappa / nu + 2 - 1 / nu) / 2
    s = local_slopes(t, y)
    up = np.flatnonzero((s[:-1] < mid) & (s[1:] >= mid))
    if not len(up) or s[-1] < mid:
        return math.nan
    i = up[-1]
    w = (mid - s[i]) / (s[i + 1] - s[i])
    return float(np.exp((1 - w) * np.log(t[i]) + w * np.log(t[i + 1])))


def transition_time_check(
    eigenvalues,
    coefficients,
    nu: float,
    kappa: float,
    Lambda: float,
    K: float,
    lr: float,
    gamma: float,
    steps: int,
    tau: float = 1.0,
    momentum: float = 0.0,
    n_samples=None,
    multiplicity=None,
    points: int = 400,
) -> dict:
    """Eq. (29) against :func:`transition_time_from_curve` on an SE run; also the two-term model
    ``C_s t^-zeta + C_n t^-p`` over SE at the predicted time (theory.md §10: about 1.006)."""
    u1 = u_at_one(eigenvalues, lr, momentum, gamma, tau, multiplicity)
    v1 = v_at_one(eigenvalues, coefficients, lr, momentum, gamma, tau, n_samples)
    pred = transition_time(nu, kappa, Lambda, K, lr, momentum, gamma, u1, v1) if u1 < 1 else math.nan
    t = np.unique(np.round(np.geomspace(1, steps, points)).astype(np.int64))
    loss, _ = se_loss_trajectory(
        eigenvalues, coefficients, lr, momentum, gamma, tau, t, n_samples, multiplicity=multiplicity
    )
    measured = transition_time_from_curve(t, loss[0], nu, kappa)
    two_term = math.nan
    if np.isfinite(pred) and t[0] <= pred <= t[-1]:
        z, p = kappa / nu, 2 - 1 / nu
        c_s = gd_constant(nu, kappa, Lambda, K, lr, momentum) / (1 - u1)
        c_n = float(asymptotic_loss(1.0, nu, kappa, Lambda, K, lr, momentum, gamma, u1, v1))
        se_at = np.exp(np.interp(np.log(pred), np.log(t), np.log(loss[0])))
        two_term = float((c_s * pred**-z + c_n * pred**-p) / se_at)
    ratio = measured / pred if np.isfinite(pred) and pred > 0 else math.nan
    return dict(
        predicted=pred,
        measured=measured,
        ratio=ratio,
        two_term_over_se=two_term,
        u1=u1,
        agrees=bool(np.isfinite(ratio) and abs(ratio - 1) <= TRANSITION_TOLERANCE),
    )


# --------------------------------------------------------------------------------------------
# 3./4. divergence above alpha_c (eq. 24) and eventual divergence for 1/2 < nu < 1 (§7)
# --------------------------------------------------------------------------------------------


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
    1e-13, far below what theory.divergence_rate's bracket resolves), and the eq. (24) prefactor.
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
    ``ln(1/r)`` and the prefactor ``V(r)/(r U'(r))`` (theory.divergence_rate, or
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


# --------------------------------------------------------------------------------------------
# 5. Prop. 4 bounds on the critical effective learning rate
# --------------------------------------------------------------------------------------------


def critical_lr_bounds_check(eigenvalues, momenta, gamma: float, tau: float = 1.0) -> dict:
    """Per momentum: alpha_c (U(1) = 1, capped by the noiseless bound) inside
    ``(1-beta) [lower, upper]`` of theory.effective_lr_bounds, and ``alpha_eff,c / (2/(gamma
    lambda_crit))``, which should approach 1 as beta -> 1 (eq. 23).  The bounds need tau >= 0 and
    gamma > 0; otherwise they are nan and nothing is inside."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    try:
        lc = critical_regularisation(lam, tau) if gamma > 0 else math.nan
    except ValueError:
        lc = math.nan
    rows = []
    for beta in momenta:
        lr_c = critical_lr(lam, beta, gamma, tau)
        lo, hi = effective_lr_bounds(lam, beta, gamma, tau) if np.isfinite(lc) else (math.nan, math.nan)
        lo, hi = lo * (1 - beta), hi * (1 - beta)
        rows.append(
            dict(
                momentum=float(beta),
                lr_critical=lr_c,
                lr_lower=lo,
                lr_upper=hi,
                inside=bool(lo * (1 - 1e-9) <= lr_c <= hi * (1 + 1e-9)),
                noiseless_limited=bool(lr_c >= noiseless_lr_bound(beta, float(lam.max())) * (1 - 1e-6)),
                ratio=lr_c / (1 - beta) * gamma * lc / 2,
            )
        )
    table = pd.DataFrame(rows).sort_values("momentum", ignore_index=True)
    r = table.ratio.to_numpy()
    tight = bool(
        np.all(np.isfinite(r)) and np.all(np.diff(r) >= -1e-12) and abs(r[-1] - 1) <= TIGHTNESS_TOLERANCE
    )
    return dict(table=table, lambda_crit=lc, all_inside=bool(table.inside.all()), tight=tight)


# --------------------------------------------------------------------------------------------
# the workflow's per-dataset checks (one dict, stored in the theory summary)
# --------------------------------------------------------------------------------------------

#: Momenta of the Prop. 4 check: the bounds must hold at each and tighten as beta -> 1.
PROP4_MOMENTA = (0.0, 0.5, 0.9, 0.99, 0.999)
#: The transition-time check runs at theory.md §10's example setting (alpha, gamma): late enough
#: for both power laws to show, early enough for a 10^6-step run.
TRANSITION_SETTING = (0.5, 0.03)


def spectrum_asymptotics(
    eigenvalues,
    coefficients,
    nu: float,
    kappa: float,
    gamma: float = 1.0,
    divergence_steps: int = 4000,
    transition_steps: int = 10**6,
) -> dict:
    """Prop. 4, eq. (24) and eq. (29) on one dataset, tau = 1.  ``gamma = 1`` (b = 1) by default:
    there the batch noise, not the noiseless bound, sets alpha_c, so 1.05 alpha_c tests U(r) = 1.

    * ``prop4``: alpha_c inside its bounds at :data:`PROP4_MOMENTA`, tight as beta -> 1;
    * ``divergence``: the SE loss of the dataset's own spectrum at 1.05 alpha_c (beta = 0) grows at
      the rate ln(1/r) of U(r) = 1;
    * ``transition``: in the noise phase, the signal -> noise transition time of an SE run on the
      fitted power law made infinite, at :data:`TRANSITION_SETTING`, against eq. (29).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    prop4 = critical_lr_bounds_check(lam, PROP4_MOMENTA, gamma, 1.0)
    lr_div = 1.05 * critical_lr(lam, 0.0, gamma, 1.0)
    div = measured_divergence_rate(lam, coefficients, lr_div, 0.0, gamma, 1.0, divergence_steps)
    out = {
        "prop4": dict(prop4, table=prop4["table"].to_dict("records")),
        "divergence": dict(div, lr=lr_div, steps=divergence_steps),
        "transition": None,
    }
    if nu > 1 and kappa / nu > 2 - 1 / nu:
        b_lam, b_coef, mult = binned_power_law(nu, kappa, 10**12)
        lr, g = TRANSITION_SETTING
        check = transition_time_check(
            b_lam,
            b_coef,
            nu,
            kappa,
            1.0,
            1.0 / kappa,
            lr,
            g,
            transition_steps,
            1.0,
            0.0,
            n_samples=1,
            multiplicity=mult,
        )
        out["transition"] = dict(check, lr=lr, gamma=g, steps=transition_steps, nu=nu, kappa=kappa)
    return out
