"""The signal -> noise transition time of eq. (29) (theory.md §10): read off an SE loss curve by
its local log-log slope and compared with the closed form.

Conventions are :mod:`sgd_spectra.asymptotics`': output space, binned spectra with a
``multiplicity`` per entry; results are plain numbers.
"""

from __future__ import annotations

import math

import numpy as np

from .theory import asymptotic_loss, gd_constant, se_loss_trajectory, transition_time, u_at_one, v_at_one

#: Measured/predicted transition time within this relative error "agrees".
TRANSITION_TOLERANCE = 0.10


def local_slopes(steps, loss) -> np.ndarray:
    """``d ln L / d ln t`` of a sampled curve (steps > 0), by centred differences in ln t."""
    return np.gradient(
        np.log(np.asarray(loss, dtype=np.float64)), np.log(np.asarray(steps, dtype=np.float64))
    )


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
