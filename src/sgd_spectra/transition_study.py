"""The paper's Fig. 3 centre measured: the signal -> noise transition time of eq. (29) on sampled
linearized SGD (theory.md §10).

At §10's setting: sampled linearized SGD (dynamics.linearized_sgd, a seed mean) on the authors'
synthetic generator (datasets.synthetic_power_law, Haar-random eigenbasis) with N modes, the batch
size the integer nearest to gamma(b, N) = 0.03 (theory.batch_noise_factor) and that b's exact
gamma in eq. (29).  A finite-N problem follows the infinite law only while
``k*(t) = (2 alpha t)^(1/nu) << N``; the measurement window stops where k* = N/10.  t_trans is
read as transition_checks.transition_time_from_curve reads it (the local log-log slope half way
between -zeta and -(2 - 1/nu): there the two terms are equal, and no (28a/b) constant under test
enters), with the slopes of the noisy seed mean taken by least squares over a fixed span in ln t;
its error is a leave-one-seed-out jackknife.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .spectra import binned_power_law
from .theory import (
    asymptotic_loss,
    batch_noise_factor,
    gd_constant,
    log_spaced_steps,
    se_loss_trajectory,
    transition_time,
    u_at_one,
    v_at_one,
)
from .transition_checks import transition_time_from_curve

#: Local log-log slopes of a noisy seed mean: least squares over +-this in ln t (a factor e^0.5 each way).
SLOPE_HALF_WIDTH = 0.5
#: The slopes are read from where k*(t) = this many modes (the asymptotes need k* >> 1) ...
FIT_MIN_MODES = 5.0
#: ... and stops where k*(t) = this fraction of N (the finite problem leaves the infinite law).
FIT_MAX_MODE_FRACTION = 0.1


def nearest_batch(n_samples: int, gamma: float) -> tuple[int, float]:
    """The integer b in [1, N] whose gamma(b, N) = (N - b)/(b (N - 1)) is nearest ``gamma``, and that gamma."""
    b = np.arange(1, n_samples + 1)
    g = batch_noise_factor(n_samples, b)
    i = int(np.argmin(np.abs(g - gamma)))
    return int(b[i]), float(g[i])


def fit_window(
    nu: float,
    lr: float,
    n_samples: int,
    min_modes: float = FIT_MIN_MODES,
    max_fraction: float = FIT_MAX_MODE_FRACTION,
) -> tuple[float, float]:
    """Steps where ``k*(t) = (2 lr t)^(1/nu)`` (Lambda = 1) is ``min_modes`` and ``max_fraction N``."""
    return min_modes**nu / (2 * lr), (max_fraction * n_samples) ** nu / (2 * lr)


def smoothed_transition_time(
    steps, loss, nu: float, kappa: float, t_lo: float, t_hi: float, half_width: float = SLOPE_HALF_WIDTH
) -> float:
    """transition_checks.transition_time_from_curve's rule on a noisy curve: the local log-log slope at
    each sampled t0 by least squares over ``|ln t - ln t0| <= half_width`` (every such span inside
    ``[t_lo, t_hi]``), and the time it last rises through ``-(zeta + 2 - 1/nu)/2``; nan when it
    never does or ends below it."""
    t, y = np.asarray(steps, dtype=np.float64), np.asarray(loss, dtype=np.float64)
    ok = (t >= t_lo) & (t <= t_hi) & np.isfinite(y) & (y > 0)
    lt, ly = np.log(t[ok]), np.log(y[ok])
    centres = lt[(lt >= math.log(t_lo) + half_width) & (lt <= math.log(t_hi) - half_width)]
    if len(centres) < 2:
        return math.nan
    slopes = np.array(
        [
            np.polyfit(lt[np.abs(lt - c) <= half_width], ly[np.abs(lt - c) <= half_width], 1)[0]
            for c in centres
        ]
    )
    mid = -(kappa / nu + 2 - 1 / nu) / 2
    up = np.flatnonzero((slopes[:-1] < mid) & (slopes[1:] >= mid))
    if not len(up) or slopes[-1] < mid:
        return math.nan
    i = up[-1]
    w = (mid - slopes[i]) / (slopes[i + 1] - slopes[i])
    return float(np.exp((1 - w) * centres[i] + w * centres[i + 1]))


def jackknife_transition(steps, runs, nu: float, kappa: float, t_lo: float, t_hi: float) -> dict:
    """:func:`smoothed_transition_time` of the seed mean and its leave-one-seed-out standard error."""
    runs = np.asarray(runs, dtype=np.float64)
    full = smoothed_transition_time(steps, runs.mean(axis=0), nu, kappa, t_lo, t_hi)
    n = len(runs)
    if n < 2:
        return dict(t_trans=full, t_trans_se=math.nan)
    loo = np.array(
        [
            smoothed_transition_time(steps, np.delete(runs, i, axis=0).mean(axis=0), nu, kappa, t_lo, t_hi)
            for i in range(n)
        ]
    )
    se = (
        float(np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2)))
        if np.all(np.isfinite(loo))
        else math.nan
    )
    return dict(t_trans=full, t_trans_se=se)


def transition_constants(
    lam,
    coef,
    nu: float,
    kappa: float,
    K: float,
    lr: float,
    gamma: float,
    tau: float,
    n_samples: int,
    multiplicity=None,
) -> dict:
    """U(1), V(1), the (28a) and (28b) constants C_s, C_n and eq. (29)'s t_trans (beta = 0, Lambda = 1)."""
    u1 = u_at_one(lam, lr, 0.0, gamma, tau, multiplicity)
    v1 = v_at_one(lam, coef, lr, 0.0, gamma, tau, n_samples)  # binned: the moments are summed per bin
    c_s = gd_constant(nu, kappa, 1.0, K, lr) / (1 - u1)
    c_n = float(asymptotic_loss(1.0, nu, kappa, 1.0, K, lr, 0.0, gamma, u1, v1))
    return dict(
        u1=u1,
        v1=v1,
        c_signal=c_s,
        c_noise=c_n,
        t_trans_predicted=transition_time(nu, kappa, 1.0, K, lr, 0.0, gamma, u1, v1),
    )


def _two_term_curves(t, c):
    """The (28a) and (28b) asymptotes ``C_s t^-zeta``, ``C_n t^-p`` of :func:`transition_constants`' dict."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return c["c_signal"] * t ** -c["zeta"], c["c_noise"] * t ** -c["p"]


#: The taus at which eq. (29)'s t_trans is also reported, to show how much it depends on tau.
SENSITIVITY_TAUS = (-1.0, 0.0, 1.0)


def _generator_spectra(n: int, nu: float, kappa: float, n_modes_infinite: float):
    """The synthetic generator's spectrum ``(lam, coef)`` (N modes, ``c_k = k^-(kappa+1) / sum``),
    the prefactor K of ``sum_{l>=k} c_l / N ~ K k^-kappa``, and the same law binned to
    ``n_modes_infinite`` modes ``(lam, coef, multiplicity)``: the infinite law."""
    lam = np.arange(1, n + 1, dtype=np.float64) ** -nu
    z_norm = float(np.sum(np.arange(1, n + 1, dtype=np.float64) ** -(kappa + 1)))
    coef = lam ** ((kappa + 1) / nu) / z_norm  # the generator's c_k = k^-(kappa+1) / sum
    K = 1 / (kappa * n * z_norm)  # sum_{l>=k} c_l / N ~ K k^-kappa
    b_lam, b_coef, mult = binned_power_law(nu, kappa, int(n_modes_infinite))
    return (lam, coef), K, (b_lam, b_coef / z_norm, mult)


def _regime_result(name: str, loss, const: dict, t, linearized_runs, nu: float, kappa: float, t_lo, t_hi):
    """One regime's curve (the loss, its standard error for the linearized seed mean, the two
    asymptotes) and its measured transition times beside ``const`` (:func:`transition_constants`
    with zeta and p).  ``linearized_runs``: the converged linearized seeds."""
    sig, noi = _two_term_curves(t, const)
    n_ok = len(linearized_runs)
    sem = (
        linearized_runs.std(axis=0, ddof=1) / math.sqrt(n_ok) if name == "linearized" and n_ok > 1 else np.nan
    )
    frame = pd.DataFrame(
        dict(regime=name, step=t, loss=loss, loss_sem=sem, signal_asymptote=sig, noise_asymptote=noi)
    )
    fit = (
        jackknife_transition(t, linearized_runs, nu, kappa, t_lo, t_hi)
        if name == "linearized"
        else dict(t_trans=smoothed_transition_time(t, loss, nu, kappa, t_lo, t_hi), t_trans_se=math.nan)
    )
    result = dict(
        const,
        t_trans_measured=fit["t_trans"],
        t_trans_measured_se=fit["t_trans_se"],
        t_trans_local_slope=transition_time_from_curve(t[1:], loss[1:], nu, kappa),
    )
    return frame, result


def linearized_transition(
    nu: float,
    kappa: float,
    lr: float,
    gamma_target: float,
    n_samples: int,
    seeds: int,
    steps: int,
    tau: float = -1.0,
    base_seed: int = 0,
    data_seed: int = 0,
    n_modes_infinite: float = 1e12,
    points: int = 160,
):
    """Fig. 3 centre: eq. (29) against sampled linearized SGD on the synthetic generator (N modes,
    nearest integer b, its exact gamma), and against SE on the same spectrum (finite, and binned
    to ``n_modes_infinite``: the infinite law), each read by :func:`smoothed_transition_time` over
    :func:`fit_window` (and by transition_checks.transition_time_from_curve, which needs a smooth curve).
    ``tau = -1``: a Haar-random eigenbasis is the Gaussian-feature case (theory.md §4).
    Returns ``(curves, summary)``."""
    from .datasets import synthetic_power_law
    from .dynamics import linearized_sgd

    n = int(n_samples)
    b, gam = nearest_batch(n, gamma_target)
    zeta, p = kappa / nu, 2 - 1 / nu
    t = log_spaced_steps(steps, points)
    kernel, e0 = synthetic_power_law(n, nu, kappa, data_seed)
    runs, div = linearized_sgd(kernel, e0, lr, 0.0, b, range(seeds), t, base_seed=base_seed)
    del kernel
    (lam, coef), K, (b_lam, b_coef, mult) = _generator_spectra(n, nu, kappa, n_modes_infinite)
    t_lo, t_hi = fit_window(nu, lr, n)
    regimes = {}
    regimes["se_finite"] = (
        se_loss_trajectory(lam, coef, lr, 0.0, gam, tau, t, n)[0][0],
        transition_constants(lam, coef, nu, kappa, K, lr, gam, tau, n),
    )
    regimes["se_infinite"] = (
        se_loss_trajectory(b_lam, b_coef, lr, 0.0, gam, tau, t, n, multiplicity=mult)[0][0],
        transition_constants(b_lam, b_coef, nu, kappa, K, lr, gam, tau, n, mult),
    )
    ok = div < 0
    regimes["linearized"] = (runs[ok].mean(axis=0), regimes["se_finite"][1])
    frames, out = [], {}
    for name, (loss, const) in regimes.items():
        const = dict(const, zeta=zeta, p=p)
        frame, out[name] = _regime_result(name, loss, const, t, runs[ok], nu, kappa, t_lo, t_hi)
        frames.append(frame)
    sensitivity = {
        f"{s:+g}": transition_constants(lam, coef, nu, kappa, K, lr, gam, s, n)["t_trans_predicted"]
        for s in SENSITIVITY_TAUS
    }
    summary = dict(
        nu=nu,
        kappa=kappa,
        lr=lr,
        momentum=0.0,
        gamma_target=gamma_target,
        batch=b,
        gamma=gam,
        tau=tau,
        n_samples=n,
        seeds=int(seeds),
        seeds_diverged=int((~ok).sum()),
        steps=int(steps),
        fit_t_min=t_lo,
        fit_t_max=t_hi,
        fit_min_modes=FIT_MIN_MODES,
        fit_max_mode_fraction=FIT_MAX_MODE_FRACTION,
        t_k_star_equals_n=n**nu / (2 * lr),
        predicted_by_tau=sensitivity,
        predicted_infinite_at_gamma_target=transition_constants(
            b_lam, b_coef, nu, kappa, K, lr, gamma_target, tau, n, mult
        )["t_trans_predicted"],
        **out,
    )
    return pd.concat(frames, ignore_index=True), summary
