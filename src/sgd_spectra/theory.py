"""Theory of mini-batch SGD with momentum on a quadratic problem (theory.md §3-§9).

Everything is in *output space*: the kernel is the normalised ``K/N`` (largest eigenvalue 1 for
the workflow's kernels), the state is the error ``e = f(X) - y``, the loss is ``|e|^2 / (2N)``,
and the spectrum is given as eigenvalues ``lambda_k`` of ``K/N`` with coefficients
``c_k = <u_k, e_0>^2``.  Learning rates are the paper's effective ones (units of 1/lambda_max).

Functions here are pure NumPy/SciPy on arrays; settings (learning rate, momentum, batch noise
factor gamma, tau) broadcast along a leading axis so a whole grid runs as one vectorised state.
The generating functions for |z| < 1 and the divergence rate are in
:mod:`sgd_spectra.generating_functions`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from scipy.optimize import brentq
from scipy.special import gamma as gamma_fn

#: A run whose loss exceeds ``DIVERGENCE_FACTOR * L_0`` (or is not finite) has diverged.
DIVERGENCE_FACTOR = 1e6


def batch_noise_factor(n_samples: int, batch_size) -> np.ndarray:
    """``gamma = (N - b) / (b (N - 1))`` for batches of b distinct points out of N (eq. 5)."""
    b = np.asarray(batch_size, dtype=np.float64)
    return (n_samples - b) / (b * (n_samples - 1))


def unique_steps(record_steps):
    """Sorted distinct steps and the index that maps them back to the order asked for."""
    steps, inverse = np.unique(np.asarray(record_steps, dtype=np.int64), return_inverse=True)
    if len(steps) == 0 or steps[0] < 0:
        raise ValueError("record_steps must be a non-empty list of non-negative steps")
    return steps, inverse.reshape(-1)


def log_spaced_steps(n_steps: int, n_points: int = 200) -> np.ndarray:
    """Step 0 and about ``n_points`` integer steps up to ``n_steps``, evenly spread in log t."""
    grid = np.round(np.geomspace(1, n_steps, n_points)).astype(int)
    return np.unique(np.concatenate([[0], grid, [n_steps]]))


# --------------------------------------------------------------------------------------------
# Dynamics: SE recursion (vectorised over settings) and the exact N x N recursion
# --------------------------------------------------------------------------------------------


def _settings(*arrays):
    """Broadcast scalar-or-array settings to 1-D arrays of one common length S."""
    out = np.broadcast_arrays(*[np.atleast_1d(np.asarray(a, dtype=np.float64)) for a in arrays])
    return [a.reshape(-1).copy() for a in out]


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract", "nsz"})
def _se_steps(
    lam, mult, lr, beta, gam, tau, C, J, V, total, t0, n_steps, record_steps, out, limit, diverged_at
):  # pragma: no cover - compiled
    """Advance every setting ``n_steps`` steps from step ``t0``; fused per-mode update.

    One setting's state (three arrays of M modes) stays in cache for all its steps, and settings
    run in parallel: ~40x faster than whole-array NumPy passes, which are memory-bound.  No
    'nnan'/'ninf' fast-math flags: the divergence test relies on inf and nan comparisons.
    """
    n_set, n_modes = C.shape
    for s in prange(n_set):
        if diverged_at[s] >= 0:
            continue
        al, b, g, ta = lr[s], beta[s], gam[s], tau[s]
        tot = total[s]
        r = 0
        while r < record_steps.size and record_steps[r] < t0:
            r += 1
        for t in range(t0, t0 + n_steps):
            if not tot <= limit[s]:  # not finite, or past the divergence cut-off
                diverged_at[s] = t
                break
            while r < record_steps.size and record_steps[r] == t:
                out[s, r] = tot
                r += 1
            new_tot = 0.0
            for k in range(n_modes):
                a = al * lam[k]
                c, j, v = C[s, k], J[s, k], V[s, k]
                common = b * b * v + g * a * a * (mult[k] * tot - ta * c)
                C[s, k] = (1 - a) * (1 - a) * c + 2 * b * (1 - a) * j + common
                J[s, k] = -a * (1 - a) * c + b * (1 - 2 * a) * j + common
                V[s, k] = a * a * c - 2 * b * a * j + common
                new_tot += C[s, k]
            tot = new_tot
        total[s] = tot


def se_loss_trajectory(
    eigenvalues,
    coefficients,
    lr,
    momentum,
    gamma,
    tau,
    record_steps,
    n_samples: int | None = None,
    progress: bool = False,
    multiplicity=None,
):
    """SE(tau) loss of SGD with momentum, for S settings at once (theory.md §4.1, output space).

    Per eigenvalue, with ``a = lr * lambda_k`` and noise ``n = gamma a^2 (sum_l c_l - tau c_k)``::

        C' = (1-a)^2 C + 2 beta (1-a) J + beta^2 V + n
        J' = -a(1-a) C + beta (1-2a) J  + beta^2 V + n
        V' =  a^2 C    - 2 beta a J     + beta^2 V + n

    starting from ``C = c, J = V = 0``; ``L_t = sum_k C_k / (2N)``.

    Args:
        lr, momentum, gamma, tau: scalars or arrays broadcast to S settings.
        record_steps: steps at which the loss is returned.
        multiplicity: optional count of equal eigenvalues merged into each entry (their moments
            summed): exact, since the rank-one noise term then counts each merged mode.  Binning
            a power-law tail this way emulates an infinite spectrum cheaply (§4.1, §9).
    Returns:
        ``(loss, diverged_at)``: loss of shape (S, len(record_steps)) with ``inf`` after a
        setting diverged, and for each setting the first step its loss exceeded
        ``DIVERGENCE_FACTOR * L_0`` (or -1).
    """
    lam = np.ascontiguousarray(eigenvalues, dtype=np.float64)
    c0 = np.asarray(coefficients, dtype=np.float64)
    n_samples = len(lam) if n_samples is None else n_samples
    mult = np.ones_like(lam) if multiplicity is None else np.ascontiguousarray(multiplicity, dtype=np.float64)
    lr, beta, gam, tau = _settings(lr, momentum, gamma, tau)
    steps_in = np.asarray(record_steps, dtype=np.int64)
    order = np.argsort(steps_in, kind="stable")
    record = steps_in[order]
    n_set = len(lr)

    C = np.tile(c0, (n_set, 1))
    J = np.zeros_like(C)
    V = np.zeros_like(C)
    total = C.sum(axis=1)
    limit = DIVERGENCE_FACTOR * total
    out = np.full((n_set, len(record)), np.inf)
    diverged_at = np.full(n_set, -1, dtype=np.int64)
    horizon = int(record.max()) + 1 if len(record) else 0
    chunk = max(1, horizon // 50) if progress else horizon
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=horizon, desc="SE", mininterval=5)
    for t0 in range(0, horizon, max(chunk, 1)):
        n = min(chunk, horizon - t0)
        _se_steps(lam, mult, lr, beta, gam, tau, C, J, V, total, t0, n, record, out, limit, diverged_at)
        if bar is not None:
            bar.update(n)
    if bar is not None:
        bar.close()
    loss = np.empty_like(out)
    loss[:, order] = out / (2 * n_samples)
    return loss, diverged_at


def exact_loss_trajectory(
    kernel_over_n, initial_error, lr: float, momentum: float, gamma: float, record_steps
):
    """Exact averaged second moments of output-space SGD (theory.md §3), an N x N recursion.

    With ``K = kernel_over_n``, error ``e`` and momentum buffer ``v`` (``e' = (I - lr K) e + beta v
    - lr xi``, ``v' = -lr K e + beta v - lr xi``) the moments ``C = E e e^T``, ``J = E e v^T``,
    ``P = E v v^T`` evolve as::

        C' = C - lr (KC + CK) + lr^2 KCK + beta (J + J^T) - lr beta (KJ + J^T K) + beta^2 P + lr^2 S
        J' = beta J - lr CK + lr^2 KCK - lr beta (KJ + J^T K) + beta^2 P + lr^2 S
        P' = lr^2 KCK - lr beta (KJ + J^T K) + beta^2 P + lr^2 S

    with the sampling noise ``S = gamma (N K diag(C) K - KCK)``.  C, KCK and K diag(C) K are
    re-symmetrised each step: without it round-off grows an antisymmetric part of C that
    ``lr^2 KCK`` amplifies, and long runs blow up (theory.md §3, numerical pitfall).
    Returns the loss ``tr(C) / (2N)`` at ``record_steps``.
    """
    K = np.asarray(kernel_over_n, dtype=np.float64)
    e0 = np.asarray(initial_error, dtype=np.float64)
    n = len(e0)
    sym = lambda m: (m + m.T) / 2
    C = np.outer(e0, e0)
    J = np.zeros_like(C)
    P = np.zeros_like(C)
    record_steps, inverse = unique_steps(record_steps)
    out = np.empty(len(record_steps))
    rec = 0
    for t in range(int(record_steps.max()) + 1):
        if t == record_steps[rec]:
            out[rec] = np.trace(C) / (2 * n)
            rec += 1
            if rec == len(record_steps):
                break
        CK = C @ K
        KCK = sym(K @ CK)
        KdK = sym((K * np.diag(C)) @ K)
        cross = K @ J + J.T @ K
        common = lr * lr * KCK - lr * momentum * cross + momentum**2 * P + lr * lr * gamma * (n * KdK - KCK)
        C_new = sym(C - lr * (CK.T + CK) + momentum * (J + J.T) + common)
        J = momentum * J - lr * CK + common
        P = sym(common)
        C = C_new
    return out[inverse]


# --------------------------------------------------------------------------------------------
# Generating functions at z = 1, stability, critical learning rate
# --------------------------------------------------------------------------------------------


def _stability_denominator(eigenvalues, lr, momentum, gamma, tau):
    """``2(1 - beta^2) - lr lambda ((1 - beta) - gamma tau (1 + beta))``  (= S_k(1) / (lr lambda))."""
    return 2 * (1 - momentum**2) - lr * eigenvalues * ((1 - momentum) - gamma * tau * (1 + momentum))


def u_at_one(
    eigenvalues, lr: float, momentum: float, gamma: float, tau: float = 1.0, multiplicity=None
) -> float:
    """Noise generating function at z = 1 (eq. 21); the loss converges iff U(1) < 1 (Prop. 3).

    Returns ``inf`` when a denominator is non-positive (a pole was crossed: no convergence).
    ``multiplicity`` counts merged equal eigenvalues (see :func:`se_loss_trajectory`).
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    mult = 1.0 if multiplicity is None else np.asarray(multiplicity, dtype=np.float64)
    den = _stability_denominator(lam, lr, momentum, gamma, tau)
    if np.any(den <= 0):
        return math.inf
    return float(gamma * np.sum(mult * lr * lam * (1 + momentum) / den))


def v_at_one(
    eigenvalues,
    coefficients,
    lr: float,
    momentum: float,
    gamma: float,
    tau: float = 1.0,
    n_samples: int | None = None,
) -> float:
    """Signal generating function at z = 1, ``sum_t V_t`` (output-space coefficients).

    ``V(1) = 1/(2N) sum_k (c_k / lambda_k) ((1-beta)(1-beta^2) + 2 lr beta lambda_k)
    / (lr [2(1-beta^2) - lr lambda_k ((1-beta) - gamma tau (1+beta))])``.
    A coefficient on a zero eigenvalue never decays, so V(1) is then infinite.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    c = np.asarray(coefficients, dtype=np.float64)
    n_samples = len(lam) if n_samples is None else n_samples
    den = _stability_denominator(lam, lr, momentum, gamma, tau)
    if np.any(den <= 0) or np.any((lam <= 0) & (c > 0)):
        return math.inf
    pos = lam > 0
    num = (1 - momentum) * (1 - momentum**2) + 2 * lr * momentum * lam[pos]
    return float(np.sum(c[pos] / lam[pos] * num / (lr * den[pos])) / (2 * n_samples))


def noiseless_lr_bound(momentum: float, lambda_max: float = 1.0) -> float:
    """Heavy-ball GD converges iff ``0 < lr lambda_max < 2 (1 + beta)`` and |beta| < 1 (App. H)."""
    return 2 * (1 + momentum) / lambda_max


def critical_lr(eigenvalues, momentum: float, gamma: float, tau: float = 1.0) -> float:
    """Largest stable learning rate alpha_c(beta): the U(1) = 1 root capped by the noiseless bound."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if not -1 < momentum < 1:
        raise ValueError(f"momentum must lie in (-1, 1), got {momentum}")
    bound = noiseless_lr_bound(momentum, float(lam.max()))
    # the first pole of U(1) in lr, if the coefficient of lr in the denominator is positive
    slope = lam.max() * ((1 - momentum) - gamma * tau * (1 + momentum))
    hi = bound if slope <= 0 else min(bound, 2 * (1 - momentum**2) / slope)
    f = lambda lr: u_at_one(lam, lr, momentum, gamma, tau) - 1.0
    hi_eval = hi * (1 - 1e-12)
    if f(hi_eval) < 0:
        return float(bound if hi == bound else hi)
    return float(brentq(f, 1e-300, hi_eval, xtol=1e-14, rtol=1e-12, maxiter=500))


def critical_regularisation(eigenvalues, tau: float = 1.0) -> float:
    """lambda_crit (Prop. 4): the root of ``sum_k lambda_k / (tau lambda_k + x) = 1`` (tau >= 0)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    lam = lam[lam > 0]
    if tau < 0:
        raise ValueError("lambda_crit is defined here for tau >= 0")
    if tau == 0:
        return float(lam.sum())
    f = lambda x: np.sum(lam / (tau * lam + x)) - 1.0
    if f(0.0) <= 0:  # fewer than ~tau modes: already below 1 at x = 0
        return 0.0
    return float(brentq(f, 0.0, lam.sum(), xtol=1e-14, rtol=1e-12))


def stability(eigenvalues, lr: float, momentum: float, gamma: float, tau: float = 1.0) -> dict:
    """Everything the stability analysis says about one setting (all plain floats/bools)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    u1 = u_at_one(lam, lr, momentum, gamma, tau)
    bound = noiseless_lr_bound(momentum, float(lam.max()))
    lr_c = critical_lr(lam, momentum, gamma, tau)
    return {
        "u1": u1,
        "lr_critical": lr_c,
        "lr_noiseless_bound": bound,
        "stable": bool(-1 < momentum < 1 and 0 < lr < bound and u1 < 1),
        "effective_lr": lr / (1 - momentum),
    }


# --------------------------------------------------------------------------------------------
# Phases and late-time asymptotics for power-law spectra
# --------------------------------------------------------------------------------------------


def phase(nu: float, kappa: float) -> str:
    """Convergence phase of an infinite power-law problem (theory.md §6, §8)."""
    if nu <= 0.5:
        return "immediate divergence"
    if nu <= 1.0:
        return "eventual divergence"
    return "signal-dominated" if kappa < 2 * nu - 1 else "noise-dominated"


def late_time_exponent(nu: float, kappa: float) -> float:
    """Exponent of ``L_t ~ t^p`` for a convergent run: ``p = -min(kappa/nu, 2 - 1/nu)``."""
    return -min(kappa / nu, 2 - 1 / nu)


def asymptotic_loss(
    t,
    nu: float,
    kappa: float,
    Lambda: float,
    K: float,
    lr: float,
    momentum: float,
    gamma: float,
    u1: float,
    v1: float,
    tau1: float = 1.0,
) -> np.ndarray:
    """Late-time SE loss (Theorem 2): eq. (28a) in the signal phase, (28b) in the noise phase.

    ``Lambda`` and ``K`` are the prefactors of ``lambda_k ~ Lambda k^-nu`` and
    ``sum_{l>=k} lambda_l C_l ~ K k^-kappa``; ``u1, v1`` are U(1) and V(1) of the setting.
    """
    if nu <= 1:
        raise ValueError(f"no power-law asymptote for nu = {nu} <= 1 ({phase(nu, kappa)})")
    t = np.asarray(t, dtype=np.float64)
    zeta_ = kappa / nu
    lr_eff = lr / (1 - momentum)
    if phase(nu, kappa) == "signal-dominated":
        return K * gamma_fn(zeta_ + 1) / (2 * (1 - u1)) * (2 * lr_eff * Lambda * t) ** (-zeta_)
    p = 2 - 1 / nu
    const = (
        gamma
        * tau1
        * v1
        * gamma_fn(p)
        / (nu * (1 - u1) ** 2)
        * Lambda ** (1 / nu)
        * 2 ** (1 / nu - 2)
        * lr_eff ** (1 / nu)
    )
    return const * t ** (-p)


# --------------------------------------------------------------------------------------------
# Bounds on alpha_c (Prop. 4), the full-batch constant and the transition time (§9, §10);
# the generating functions for |z| < 1 and the divergence rate are in generating_functions.py
# --------------------------------------------------------------------------------------------


def effective_lr_bounds(eigenvalues, momentum: float, gamma: float, tau: float = 1.0) -> tuple[float, float]:
    """Bounds on the critical effective learning rate (eqs. 22/23, tau >= 0):
    ``2 / (gamma lambda_crit + lambda_max (1-beta)/(1+beta)) <= alpha_eff,c <= 2 / (gamma lambda_crit)``."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    lc = critical_regularisation(lam, tau)
    return (2 / (gamma * lc + lam.max() * (1 - momentum) / (1 + momentum)), 2 / (gamma * lc))


def gd_constant(nu: float, kappa: float, Lambda: float, K: float, lr: float, momentum: float = 0.0) -> float:
    """Full-batch GD: ``L_t ~ C t^-zeta`` with ``C = K/2 Gamma(zeta+1) (2 alpha_eff Lambda)^-zeta`` (§9)."""
    z = kappa / nu
    return K / 2 * gamma_fn(z + 1) * (2 * lr / (1 - momentum) * Lambda) ** (-z)


def transition_time(
    nu: float,
    kappa: float,
    Lambda: float,
    K: float,
    lr: float,
    momentum: float,
    gamma: float,
    u1: float,
    v1: float,
    tau1: float = 1.0,
) -> float:
    """Signal -> noise transition time (eq. 29): where the (28a) and (28b) terms are equal.

    Only meaningful in the noise phase (zeta > 2 - 1/nu); returns nan otherwise.
    """
    z, p = kappa / nu, 2 - 1 / nu
    if not z > p:
        return math.nan
    lr_eff = lr / (1 - momentum)
    c_signal = K * gamma_fn(z + 1) / (2 * (1 - u1)) * (2 * lr_eff * Lambda) ** (-z)
    c_noise = (
        gamma
        * tau1
        * v1
        * gamma_fn(p)
        / (nu * (1 - u1) ** 2)
        * Lambda ** (1 / nu)
        * 2 ** (1 / nu - 2)
        * lr_eff ** (1 / nu)
    )
    return float((c_signal / c_noise) ** (1 / (z - p)))


# --------------------------------------------------------------------------------------------
# Hyper-parameters at a fixed horizon (§11), by direct SE simulation
# --------------------------------------------------------------------------------------------


def final_loss(
    eigenvalues,
    coefficients,
    lrs,
    momenta,
    gamma: float,
    tau: float,
    steps: int,
    n_samples: int | None = None,
    multiplicity=None,
) -> np.ndarray:
    """SE loss after ``steps`` steps for many (lr, momentum) pairs at once (inf if diverged)."""
    loss, _ = se_loss_trajectory(
        eigenvalues, coefficients, lrs, momenta, gamma, tau, [steps], n_samples, multiplicity=multiplicity
    )
    return loss[:, 0]


def parabolic_argmin(x: np.ndarray, y: np.ndarray, log_x: bool) -> float:
    """Minimiser of a sampled loss: the best grid point, refined by a parabola through it and its
    neighbours in (log x, log y) -- or (x, log y) -- kept inside that bracket."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    i = int(np.nanargmin(y))
    if 0 < i < len(x) - 1 and np.all(np.isfinite(y[i - 1 : i + 2])):
        xs = np.log(x[i - 1 : i + 2]) if log_x else x[i - 1 : i + 2]
        a, b, _ = np.polyfit(xs, np.log(y[i - 1 : i + 2]), 2)
        if a > 0:
            best = np.clip(-b / (2 * a), xs[0], xs[2])
            return float(np.exp(best) if log_x else best)
    return float(x[i])


def optimal_lr(
    eigenvalues,
    coefficients,
    gamma: float,
    steps: int,
    momentum: float = 0.0,
    tau: float = 1.0,
    lr_grid=None,
    n_samples: int | None = None,
    multiplicity=None,
) -> dict:
    """Learning rate minimising the SE loss at horizon ``steps``: a vectorised grid search over
    ``lr_grid`` (default 40 log-spaced values up to the critical lr), refined by
    :func:`parabolic_argmin` in log lr."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if lr_grid is None:
        lr_c = critical_lr(lam, momentum, gamma, tau)
        lr_grid = np.geomspace(lr_c * 1e-3, lr_c * 0.999, 40)
    lr_grid = np.asarray(lr_grid, dtype=np.float64)
    losses = final_loss(lam, coefficients, lr_grid, momentum, gamma, tau, steps, n_samples, multiplicity)
    return {"lr": parabolic_argmin(lr_grid, losses, log_x=True), "grid": lr_grid, "loss": losses}


# --------------------------------------------------------------------------------------------
# Stability maps: alpha_c(beta) in closed form, and measured by bisection on long SE runs
# --------------------------------------------------------------------------------------------


def bisect_first_unstable(is_unstable, lo: float, hi: float, rounds: int = 4, points: int = 16) -> float:
    """Locate the smallest unstable learning rate in (lo, hi] by a vectorised bisection.

    Contract: ``lo`` is taken to be stable and ``hi`` unstable; neither is evaluated.
    ``is_unstable(grid)`` runs a whole grid of learning rates at once and returns a boolean per
    entry.  Each round evaluates ``points`` interior rates and keeps the interval between the last
    stable and the first unstable one -- the last interval ``(grid[-1], hi]`` when none is unstable,
    since hi is.  Returns the midpoint of the final bracket, of width
    ``(hi - lo) / (points + 1) ** rounds``, so the threshold is found to half that width.  If hi is
    in fact stable the answer is just below hi: pass an hi known to be unstable.
    """
    for _ in range(rounds):
        grid = np.linspace(lo, hi, points + 2)[1:-1]
        unstable = np.asarray(is_unstable(grid), dtype=bool)
        if unstable.any():
            i = int(np.argmax(unstable))
            lo, hi = (grid[i - 1] if i > 0 else lo), grid[i]
        else:
            lo = grid[-1]
    return float((lo + hi) / 2)


def still_growing(loss_half_and_end: np.ndarray, diverged_at: np.ndarray) -> np.ndarray:
    """Unstable runs: blew up, or their loss at T is not below their loss at T/2."""
    return (diverged_at >= 0) | ~(loss_half_and_end[:, 1] < loss_half_and_end[:, 0])


def se_critical_lr_bisection(
    eigenvalues,
    coefficients,
    momentum: float,
    gamma: float,
    tau: float = 1.0,
    steps: int = 10_000,
    lr_max: float | None = None,
    rounds: int = 4,
    points: int = 16,
) -> float:
    """Critical learning rate measured on SE runs, independently of U(1) (§6 check): a learning
    rate is unstable when its SE loss still grows at the end of a long run (:func:`still_growing`)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    hi = noiseless_lr_bound(momentum, float(lam.max())) * 1.25 if lr_max is None else lr_max

    def unstable(grid):
        return still_growing(
            *se_loss_trajectory(lam, coefficients, grid, momentum, gamma, tau, [steps // 2, steps])
        )

    return bisect_first_unstable(unstable, 0.0, hi, rounds, points)


def stability_map(eigenvalues, n_samples: int, batch_sizes, momenta, taus) -> list[dict]:
    """alpha_c(beta) from U(1) = 1 and the noiseless bound, with the Prop. 4 bounds (tau >= 0)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    rows = []
    for b in batch_sizes:
        gamma = float(batch_noise_factor(n_samples, b))
        for tau in taus:
            for beta in momenta:
                row = {
                    "batch": int(b),
                    "gamma": gamma,
                    "tau": float(tau),
                    "momentum": float(beta),
                    "lr_critical": critical_lr(lam, beta, gamma, tau),
                    "lr_noiseless_bound": noiseless_lr_bound(beta, float(lam.max())),
                }
                if tau >= 0 and gamma > 0:
                    lo, hi = effective_lr_bounds(lam, beta, gamma, tau)
                    row.update(lr_lower_bound=lo * (1 - beta), lr_upper_bound=hi * (1 - beta))
                rows.append(row)
    return rows
