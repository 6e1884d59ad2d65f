"""Spectra: eigenvalues of the normalised kernel and the initial error's coefficients."""

from __future__ import annotations

import numpy as np


def kernel_spectrum(kernel_over_n: np.ndarray, initial_error: np.ndarray):
    """Eigen-decompose ``K/N`` (float64) and project the initial error onto its eigenvectors.

    Returns ``(eigenvalues, coefficients)`` in descending eigenvalue order, with the
    output-space coefficients ``c_k = <u_k, f0(X) - y>^2`` (so ``L_0 = sum_k c_k / (2N)``).
    Round-off can make the smallest eigenvalues of a PSD kernel slightly negative; they are
    clipped to zero because every formula downstream assumes ``lambda_k >= 0``.
    """
    kernel_over_n = np.asarray(kernel_over_n, dtype=np.float64)
    eigenvalues, vectors = np.linalg.eigh((kernel_over_n + kernel_over_n.T) / 2)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)
    coefficients = (vectors[:, order].T @ np.asarray(initial_error, dtype=np.float64)) ** 2
    return eigenvalues, coefficients


def tail_sums(coefficients: np.ndarray) -> np.ndarray:
    """``S_k = sum_{l >= k} c_l`` for k = 1..n (1-based), summed from the small end for accuracy."""
    return np.cumsum(np.asarray(coefficients, dtype=np.float64)[::-1])[::-1]


def binned_power_law(nu: float, kappa: float, n_modes: int, exact: int = 2000, bins: int = 160):
    """``lambda_k = k^-nu`` and ``c_k = k^-(kappa+1)`` for k = 1..n_modes, modes past ``exact``
    merged into geometric bins (moments summed, multiplicities kept): the SE recursion on the
    result is the full one up to the bins' eigenvalue spread (< 1% per bin)."""
    if n_modes <= exact:
        k = np.arange(1, n_modes + 1, dtype=np.float64)
        return k**-nu, k ** -(kappa + 1), np.ones(n_modes)
    edges = np.unique(np.round(np.geomspace(exact + 1, n_modes + 1, bins)).astype(np.int64))
    ka = np.concatenate([np.arange(1, exact + 1), edges[:-1]]).astype(np.float64)
    kb = np.concatenate([np.arange(2, exact + 2), edges[1:]]).astype(np.float64)
    mult = kb - ka
    lam = np.where(mult == 1, ka, np.sqrt(ka * (kb - 1))) ** -nu
    # sum_{k=a}^{b-1} k^-(kappa+1) as a difference of Hurwitz zetas: exact, and cheap for huge bins
    from scipy.special import zeta

    coef = zeta(kappa + 1.0, ka) - zeta(kappa + 1.0, kb)
    return lam, coef, mult
