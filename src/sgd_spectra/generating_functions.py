"""Generating functions of the SE loss for |z| < 1 (theory.md §5) and the divergence rate above
alpha_c (§7, eq. 24).

Conventions are :mod:`sgd_spectra.theory`'s (output space, eigenvalues of ``K/N``, coefficients
``c_k = <u_k, e0>^2``).  ``S_k(z)`` is the characteristic polynomial of one eigenvalue's 3x3 map,
``U(z)`` the noise and ``V(z)`` the signal generating function; ``L(z) = V(z) / (1 - U(z))``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .theory import u_at_one


def characteristic_polynomial(z, eigenvalues, lr: float, momentum: float, gamma: float, tau: float):
    """``S_k(z) = det(I - z A_k)`` of the per-eigenvalue 3x3 map (closed form, §5)."""
    z = np.asarray(z, dtype=np.float64)[..., None]
    a = lr * np.asarray(eigenvalues, dtype=np.float64)
    b, gt = momentum, gamma * tau
    return (
        (1 - z) * (1 - b * z) * (1 - b * b * z)
        + 2 * a * z * (1 + b) * (1 - b * z)
        - a * a * z * ((1 - gt) - b * (1 + gt) * z)
    )


def noise_gf(z, eigenvalues, lr: float, momentum: float, gamma: float, tau: float = 1.0, tau1: float = 1.0):
    """Noise generating function ``U(z) = gamma tau1 lr^2 sum_k lambda_k^2 z (1 + beta z) / S_k(z)``."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    zz = np.asarray(z, dtype=np.float64)
    s = characteristic_polynomial(zz, lam, lr, momentum, gamma, tau)
    return gamma * tau1 * lr**2 * np.sum(lam**2 * (zz * (1 + momentum * zz))[..., None] / s, axis=-1)


def signal_gf(
    z,
    eigenvalues,
    coefficients,
    lr: float,
    momentum: float,
    gamma: float,
    tau: float = 1.0,
    n_samples: int | None = None,
):
    """Signal generating function ``V(z) = 1/(2N) sum_k c_k ((1-bz)(1-b^2 z) + 2 lr b lambda_k z) / S_k(z)``."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    c = np.asarray(coefficients, dtype=np.float64)
    n_samples = len(lam) if n_samples is None else n_samples
    zz = np.asarray(z, dtype=np.float64)[..., None]
    s = characteristic_polynomial(np.asarray(z, dtype=np.float64), lam, lr, momentum, gamma, tau)
    num = (1 - momentum * zz) * (1 - momentum**2 * zz) + 2 * lr * momentum * lam * zz
    return np.sum(c * num / s, axis=-1) / (2 * n_samples)


def noise_gf_binned(
    z, eigenvalues, lr: float, momentum: float, gamma: float, tau: float = 1.0, multiplicity=None
):
    """:func:`noise_gf` with a multiplicity per eigenvalue (binned spectra), tau1 = 1."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    mult = np.ones_like(lam) if multiplicity is None else np.asarray(multiplicity, dtype=np.float64)
    zz = np.asarray(z, dtype=np.float64)
    s = characteristic_polynomial(zz, lam, lr, momentum, gamma, tau)
    return gamma * lr**2 * np.sum(mult * lam**2 * (zz * (1 + momentum * zz))[..., None] / s, axis=-1)


def loss_gf(
    z,
    eigenvalues,
    coefficients,
    lr: float,
    momentum: float,
    gamma: float,
    tau: float = 1.0,
    n_samples: int | None = None,
):
    """``L(z) = sum_t L_t z^t = V(z) / (1 - U(z))`` (eq. 16)."""
    return signal_gf(z, eigenvalues, coefficients, lr, momentum, gamma, tau, n_samples) / (
        1 - noise_gf(z, eigenvalues, lr, momentum, gamma, tau)
    )


def divergence_rate(
    eigenvalues,
    coefficients,
    lr: float,
    momentum: float,
    gamma: float,
    tau: float = 1.0,
    n_samples: int | None = None,
) -> dict | None:
    """For U(1) > 1 (§7): ``r`` with U(r) = 1, ``t_div = 1 / ln(1/r)`` and the prefactor of
    ``L_t ~ V(r) / (r U'(r)) r^-t``.  None when the setting converges (U(1) < 1)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    if u_at_one(lam, lr, momentum, gamma, tau) < 1:
        return None
    f = lambda z: float(noise_gf(z, lam, lr, momentum, gamma, tau)) - 1.0
    hi = 1.0 - 1e-15
    if not np.isfinite(f(hi)) or f(hi) < 0:  # pole inside (0, 1): search below it
        grid = np.linspace(1e-6, hi, 20001)
        vals = noise_gf(grid, lam, lr, momentum, gamma, tau) - 1
        idx = np.flatnonzero((vals[:-1] < 0) & (vals[1:] >= 0))
        if not len(idx):
            return None
        lo_z, hi = grid[idx[0]], grid[idx[0] + 1]
    else:
        lo_z = 1e-12
    r = brentq(f, lo_z, hi, xtol=1e-15, rtol=1e-14)
    h = 1e-6 * r
    u_prime = (f(r + h) - f(r - h)) / (2 * h) if r + h < 1 else (f(r) - f(r - h)) / h
    v_r = float(signal_gf(r, lam, coefficients, lr, momentum, gamma, tau, n_samples))
    return {"r": float(r), "t_div": float(1 / np.log(1 / r)), "prefactor": v_r / (r * u_prime)}
