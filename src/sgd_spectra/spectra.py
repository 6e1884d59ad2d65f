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
