"""Seed 001 (:mod:`.edge_of_stability`), parts (b) and (c): GD on matrix factorisation
½‖UVᵀ − M‖²_F, its period-2 orbits above the threshold and its sharpness selection below it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from .edge_of_stability_orbits import (
    MAX_PERIOD,
    MIN_SWING,
    PERIOD_TOL,
    flip_bifurcation_coefficients,
    leading_order_half_amplitude,
    period_and_residuals,
)

#: A matrix-factorisation run has converged to a global minimum iff ‖UVᵀ − M‖_F < CONVERGED_TOL at the end.
CONVERGED_TOL = 1e-10


def haar_columns(rng, dim, rank):
    """First ``rank`` columns of a Haar-distributed dim×dim orthogonal matrix (QR of a Gaussian, R's diagonal
    made positive)."""
    q, r = np.linalg.qr(rng.standard_normal((dim, rank)))
    return q * np.sign(np.diag(r))


def mf_target(q, spectrum):
    """M = Q diag(σ) Qᵀ."""
    return (q * np.asarray(spectrum, float)) @ q.T


def mf_gradients(u, v, m):
    """∇_U, ∇_V of ½‖UVᵀ − M‖²_F:  R V and Rᵀ U with R = UVᵀ − M (batched over leading axes)."""
    residual = u @ np.swapaxes(v, -1, -2) - m
    return residual @ v, np.swapaxes(residual, -1, -2) @ u


def mf_hvp(u, v, m, du, dv):
    """Hessian-vector product of ½‖UVᵀ − M‖²_F along (dU, dV), with R = UVᵀ − M and J = dU Vᵀ + U dVᵀ:
    H(dU, dV) = (J V + R dV,  Jᵀ U + Rᵀ dU).  Batched over leading axes."""
    vt = np.swapaxes(v, -1, -2)
    residual = u @ vt - m
    jvp = du @ vt + u @ np.swapaxes(dv, -1, -2)
    return jvp @ v + residual @ dv, np.swapaxes(jvp, -1, -2) @ u + np.swapaxes(residual, -1, -2) @ du


def mf_gd(u0, v0, m, etas, steps, bound):
    """Batched GD (U, V) ← (U − η R V, V − η Rᵀ U) on ½‖UVᵀ − M‖²_F, one η per batch entry.

    Needs steps > MAX_PERIOD.  Returns (u_last, v_last, diverged_at): the last MAX_PERIOD + 1 iterates, shape
    (MAX_PERIOD+1, B, d, r), and the first step at which an entry of U or V left [−bound, bound] or became
    non-finite (−1 if never); such a run is frozen there (no overflow, no warnings)."""
    u, v = np.array(u0, float), np.array(v0, float)
    eta = np.asarray(etas, float)[:, None, None]
    diverged_at = np.full(u.shape[0], -1, dtype=np.int64)
    u_last, v_last = np.empty((MAX_PERIOD + 1, *u.shape)), np.empty((MAX_PERIOD + 1, *v.shape))
    first_recorded = steps - MAX_PERIOD
    for t in range(1, steps + 1):
        grad_u, grad_v = mf_gradients(u, v, m)
        alive = (diverged_at < 0)[:, None, None]
        u, v = np.where(alive, u - eta * grad_u, u), np.where(alive, v - eta * grad_v, v)
        size = np.maximum(np.abs(u).max(axis=(1, 2)), np.abs(v).max(axis=(1, 2)))
        diverged_at[alive[:, 0, 0] & ~(size <= bound)] = t
        if t >= first_recorded:
            u_last[t - first_recorded], v_last[t - first_recorded] = u, v
    return u_last, v_last, diverged_at


def top_direction_scale(u, v, q1):
    """s = √(q1ᵀ U Vᵀ q1): the reduced variable of the balanced top direction (see module docstring)."""
    return np.sqrt(np.maximum(np.einsum("i,...ij,...kj,k->...", q1, u, v, q1), 0.0))


def reduced_map(s, eta, sigma1):
    """GD on f(s) = ¼(s² − σ1)²: s ↦ s − η s (s² − σ1)."""
    return s - eta * s * (s * s - sigma1)


def mf_leading_half_amplitude(c, sigma1=1.0):
    """Leading-order 2-cycle half-amplitude of the reduced map at η = c/σ1, from the normal form with
    f'' = 2σ1, f''' = 6√σ1, f'''' = 6 (closed form √σ1 √(2(c−1)/(c(9c−1))))."""
    sigma1 = float(sigma1)
    return leading_order_half_amplitude(
        *flip_bifurcation_coefficients(2 * sigma1, 6 * math.sqrt(sigma1), 6.0, np.asarray(c, float) / sigma1)
    )


def reduced_two_cycle_half_amplitude(c, sigma1=1.0):
    """Exact 2-cycle {s⁺, g(s⁺)} of the reduced map (η = c/σ1): s⁺ is the root of g(g(s)) − s in
    (√σ1, √σ1 + 3δ) with δ the leading-order half-amplitude; returns |s⁺ − g(s⁺)| / 2 (NaN if none)."""
    root_sigma, eta = math.sqrt(sigma1), c / sigma1
    delta = float(mf_leading_half_amplitude(c, sigma1))
    if not delta > 0:
        return math.nan
    two_step = lambda s: reduced_map(reduced_map(s, eta, sigma1), eta, sigma1) - s
    lo, hi = root_sigma * (1 + 1e-9), root_sigma + 3 * delta
    if two_step(lo) * two_step(hi) >= 0:
        return math.nan
    upper = brentq(two_step, lo, hi, xtol=1e-15, rtol=1e-15)
    return abs(upper - reduced_map(upper, eta, sigma1)) / 2


def power_iteration_sharpness(u, v, m, rng, iterations, tolerance):
    """λ_max of the Hessian of ½‖UVᵀ − M‖²_F at a batch of points, by power iteration on :func:`mf_hvp`.

    Power iteration finds the eigenvalue of largest modulus, which is λ_max at (and near) a minimum where the
    Hessian is (nearly) positive semi-definite.  Stops when every Rayleigh quotient changed by less than
    ``tolerance`` (relative) in one iteration.  Returns (λ, residual ‖Hx − λx‖ with ‖x‖ = 1)."""
    x_u, x_v = rng.standard_normal(u.shape), rng.standard_normal(v.shape)
    norm = np.sqrt((x_u**2).sum(axis=(-2, -1)) + (x_v**2).sum(axis=(-2, -1)))[..., None, None]
    x_u, x_v = x_u / norm, x_v / norm
    rayleigh = np.full(u.shape[:-2], np.inf)
    for _ in range(iterations):
        h_u, h_v = mf_hvp(u, v, m, x_u, x_v)
        previous, rayleigh = rayleigh, (x_u * h_u).sum(axis=(-2, -1)) + (x_v * h_v).sum(axis=(-2, -1))
        norm = np.sqrt((h_u**2).sum(axis=(-2, -1)) + (h_v**2).sum(axis=(-2, -1)))[..., None, None]
        x_u, x_v = h_u / norm, h_v / norm
        if np.all(np.abs(rayleigh - previous) <= tolerance * np.abs(rayleigh)):
            break
    h_u, h_v = mf_hvp(u, v, m, x_u, x_v)
    rayleigh = (x_u * h_u).sum(axis=(-2, -1)) + (x_v * h_v).sum(axis=(-2, -1))
    residual = np.sqrt(
        ((h_u - rayleigh[..., None, None] * x_u) ** 2).sum(axis=(-2, -1))
        + ((h_v - rayleigh[..., None, None] * x_v) ** 2).sum(axis=(-2, -1))
    )
    return rayleigh, residual


def _check_spectrum(params):
    spectrum = np.asarray(params["mf_spectrum"], float)
    if spectrum.size > params["mf_dim"]:
        raise ValueError(f"mf_spectrum has {spectrum.size} values but mf_dim is {params['mf_dim']}")
    if spectrum.size > 1 and not spectrum[0] > spectrum[1:].max():
        raise ValueError("mf_spectrum[0] must be the strictly largest value (the top direction is σ1)")
    return spectrum


def mf_tables(params):
    """Part (b): per (seed, c) summary and the last iterates of the top-direction scale; the theory curve."""
    spectrum = _check_spectrum(params)
    sigma1, dim, rank = float(spectrum[0]), int(params["mf_dim"]), spectrum.size
    cs = np.asarray(params["mf_cs"], float)
    steps = int(params["mf_steps"])
    summary_rows, orbit_rows = [], []
    for seed_index in range(int(params["mf_seeds"])):
        rng = np.random.default_rng([params["seed"], 1, seed_index])
        q = haar_columns(rng, dim, rank)
        m = mf_target(q, spectrum)
        u0 = params["mf_init_scale"] * rng.standard_normal((dim, rank))
        v0 = params["mf_init_scale"] * rng.standard_normal((dim, rank))
        batch = (cs.size, dim, rank)
        u_last, v_last, diverged_at = mf_gd(
            np.broadcast_to(u0, batch),
            np.broadcast_to(v0, batch),
            m,
            cs / sigma1,
            steps,
            params["divergence_bound"],
        )
        products = u_last @ np.swapaxes(v_last, -1, -2)
        period, period2_residual, _ = period_and_residuals(products)
        scale = top_direction_scale(u_last, v_last, q[:, 0])  # (MAX_PERIOD+1, len(cs))
        top_singular = np.linalg.norm(products[-2:], ord=2, axis=(-2, -1))  # (2, len(cs))
        residual_norm = np.linalg.norm(products[-1] - m, axis=(-2, -1))
        top_imbalance = np.abs(
            np.linalg.norm(u_last[-1].transpose(0, 2, 1) @ q[:, 0], axis=-1)
            - np.linalg.norm(v_last[-1].transpose(0, 2, 1) @ q[:, 0], axis=-1)
        )
        for j, c in enumerate(cs):
            diverged = bool(diverged_at[j] >= 0)
            swing = abs(scale[-1, j] - scale[-2, j])
            summary_rows.append(
                dict(
                    seed=seed_index,
                    c=float(c),
                    eta=float(c / sigma1),
                    sigma1=sigma1,
                    predicted_half_amplitude=float(mf_leading_half_amplitude(c, sigma1)) / math.sqrt(sigma1),
                    reduced_exact_half_amplitude=reduced_two_cycle_half_amplitude(c, sigma1)
                    / math.sqrt(sigma1),
                    measured_half_amplitude=math.nan if diverged else float(swing / 2 / math.sqrt(sigma1)),
                    top_singular_value_half_swing=math.nan
                    if diverged
                    else float(abs(np.diff(top_singular[:, j]))[0] / 2),
                    period=0 if diverged else int(period[j]),
                    period2_residual=math.nan if diverged else float(period2_residual[j]),
                    swing=math.nan if diverged else float(swing),
                    is_period2=bool(not diverged and period2_residual[j] < PERIOD_TOL and swing > MIN_SWING),
                    residual_norm=float(residual_norm[j]),
                    converged=bool(not diverged and residual_norm[j] < CONVERGED_TOL),
                    top_imbalance=float(top_imbalance[j]),
                    diverged=diverged,
                    diverged_at_step=int(diverged_at[j]),
                )
            )
            if not diverged:
                orbit_rows += [
                    dict(seed=seed_index, c=float(c), step=steps - MAX_PERIOD + k, s=float(scale[k, j]))
                    for k in range(MAX_PERIOD + 1)
                ]
    c_grid = np.geomspace(1e-3, max(0.2, float(cs.max()) - 1.0), int(params["theory_points"])) + 1.0
    theory = pd.DataFrame(
        dict(
            c=c_grid,
            predicted_half_amplitude=mf_leading_half_amplitude(c_grid, sigma1) / math.sqrt(sigma1),
            reduced_exact_half_amplitude=[
                reduced_two_cycle_half_amplitude(c, sigma1) / math.sqrt(sigma1) for c in c_grid
            ],
        )
    )
    return pd.DataFrame(orbit_rows, columns=["seed", "c", "step", "s"]), pd.DataFrame(summary_rows), theory


def unbalanced_minimum(q, spectrum, scale):
    """U = t Q√Σ, V = Q√Σ / t: a global minimum (UVᵀ = M) of Hessian λ_max = σ1 (t² + t⁻²)."""
    root = q * np.sqrt(np.asarray(spectrum, float))
    return scale * root, root / scale


def sharpness_table(params):
    """Part (c): GD with c < 1 from small perturbations of unbalanced minima; Hessian λ_max before and after."""
    spectrum = _check_spectrum(params)
    sigma1, dim, rank = float(spectrum[0]), int(params["mf_dim"]), spectrum.size
    cases = [
        (c, t, k)
        for c in params["sharp_cs"]
        for t in params["sharp_scales"]
        for k in range(params["sharp_seeds"])
    ]
    u0, v0, targets = [], [], []
    seed_setups = {}
    for k in range(int(params["sharp_seeds"])):
        rng = np.random.default_rng([params["seed"], 2, k])
        q = haar_columns(rng, dim, rank)
        noise = params["sharp_perturbation"] * rng.standard_normal((2, dim, rank))
        seed_setups[k] = (q, noise)
    for _c, t, k in cases:
        q, noise = seed_setups[k]
        u, v = unbalanced_minimum(q, spectrum, t)
        u0.append(u + noise[0])
        v0.append(v + noise[1])
        targets.append(mf_target(q, spectrum))
    u0, v0, targets = np.stack(u0), np.stack(v0), np.stack(targets)
    etas = np.array([c for c, _, _ in cases]) / sigma1
    power_rng = np.random.default_rng([params["seed"], 3])
    initial, initial_residual = power_iteration_sharpness(
        u0, v0, targets, power_rng, params["power_iterations"], params["power_tolerance"]
    )
    u_last, v_last, diverged_at = mf_gd(
        u0, v0, targets, etas, int(params["sharp_steps"]), params["divergence_bound"]
    )
    u_final, v_final = u_last[-1], v_last[-1]
    residual_norm = np.linalg.norm(u_final @ v_final.transpose(0, 2, 1) - targets, axis=(-2, -1))
    converged = (diverged_at < 0) & (residual_norm < CONVERGED_TOL)
    # Only converged runs are at a minimum, where power iteration's largest-modulus eigenvalue is λ_max.
    final, final_residual = np.full(len(cases), np.nan), np.full(len(cases), np.nan)
    if converged.any():
        final[converged], final_residual[converged] = power_iteration_sharpness(
            u_final[converged],
            v_final[converged],
            targets[converged],
            power_rng,
            params["power_iterations"],
            params["power_tolerance"],
        )
    return pd.DataFrame(
        dict(
            c=[c for c, _, _ in cases],
            eta=etas,
            scale=[t for _, t, _ in cases],
            seed=[k for _, _, k in cases],
            threshold=2.0 / etas,
            initial_sharpness=initial,
            initial_power_residual=initial_residual,
            initial_sharpness_closed_form=[sigma1 * (t**2 + t**-2) for _, t, _ in cases],
            final_sharpness=final,
            final_power_residual=final_residual,
            residual_norm=residual_norm,
            converged=converged,
            diverged=diverged_at >= 0,
            diverged_at_step=diverged_at,
        )
    )
