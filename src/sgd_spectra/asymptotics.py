"""Late-time theory measured on SE runs and put next to its closed forms (theory.md §6, §11):
negative momentum in the noise phase (§11), the Prop. 4 bounds on alpha_c, and the workflow's
per-dataset checks (:func:`spectrum_asymptotics`), which also use the divergence rate
(:mod:`sgd_spectra.divergence_checks`, §7) and the transition time
(:mod:`sgd_spectra.transition_checks`, §10).

Each function measures one quantity -- on SE loss curves or on exact sums over a spectrum -- and
returns it with its prediction as plain numbers (a dict, or a DataFrame for scans); nothing is
formatted here, and only the named tolerances turn a comparison into a yes/no.

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

from .divergence_checks import measured_divergence_rate
from .spectra import binned_power_law
from .theory import (
    asymptotic_loss,
    critical_lr,
    critical_regularisation,
    effective_lr_bounds,
    noiseless_lr_bound,
    se_loss_trajectory,
    u_at_one,
    v_at_one,
)
from .transition_checks import transition_time_check

#: A momentum that lowers the final loss by less than this fraction is "no effect".
MIN_MOMENTUM_GAIN = 0.01
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
# 2. Prop. 4 bounds on the critical effective learning rate
# --------------------------------------------------------------------------------------------

#: Relative round-off allowed when alpha_c is compared with its Prop. 4 bounds.
BOUNDS_ROUND_OFF = 1e-9
#: alpha_c within this relative distance below the noiseless bound 2(1+beta) is "noiseless-limited".
NOISELESS_LIMITED_SLACK = 1e-6
#: Round-off allowed in "the ratio alpha_eff,c gamma lambda_crit / 2 does not decrease with beta".
MONOTONE_ROUND_OFF = 1e-12


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
                inside=bool(lo * (1 - BOUNDS_ROUND_OFF) <= lr_c <= hi * (1 + BOUNDS_ROUND_OFF)),
                noiseless_limited=bool(
                    lr_c >= noiseless_lr_bound(beta, float(lam.max())) * (1 - NOISELESS_LIMITED_SLACK)
                ),
                ratio=lr_c / (1 - beta) * gamma * lc / 2,
            )
        )
    table = pd.DataFrame(rows).sort_values("momentum", ignore_index=True)
    r = table.ratio.to_numpy()
    tight = bool(
        np.all(np.isfinite(r))
        and np.all(np.diff(r) >= -MONOTONE_ROUND_OFF)
        and abs(r[-1] - 1) <= TIGHTNESS_TOLERANCE
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
#: Modes of the binned power law "made infinite" for the transition-time check.
TRANSITION_N_MODES = 10**12
#: The divergence check runs at this multiple of alpha_c (beta = 0), just above the boundary.
DIVERGENCE_LR_FACTOR = 1.05


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
    there the batch noise, not the noiseless bound, sets alpha_c, so :data:`DIVERGENCE_LR_FACTOR` alpha_c
    tests U(r) = 1.

    * ``prop4``: alpha_c inside its bounds at :data:`PROP4_MOMENTA`, tight as beta -> 1;
    * ``divergence``: the SE loss of the dataset's own spectrum at 1.05 alpha_c (beta = 0) grows at
      the rate ln(1/r) of U(r) = 1;
    * ``transition``: in the noise phase, the signal -> noise transition time of an SE run on the
      fitted power law made infinite, at :data:`TRANSITION_SETTING`, against eq. (29).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    prop4 = critical_lr_bounds_check(lam, PROP4_MOMENTA, gamma, 1.0)
    lr_div = DIVERGENCE_LR_FACTOR * critical_lr(lam, 0.0, gamma, 1.0)
    div = measured_divergence_rate(lam, coefficients, lr_div, 0.0, gamma, 1.0, divergence_steps)
    out = {
        "prop4": dict(prop4, table=prop4["table"].to_dict("records")),
        "divergence": dict(div, lr=lr_div, steps=divergence_steps),
        "transition": None,
    }
    if nu > 1 and kappa / nu > 2 - 1 / nu:
        b_lam, b_coef, mult = binned_power_law(nu, kappa, TRANSITION_N_MODES)
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
