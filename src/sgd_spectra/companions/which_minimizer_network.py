"""Seed 004 (:mod:`.which_minimizer`): the bias-free ReLU net in NTK parametrisation, its empirical
NTK (layer-wise, without forming the Jacobian) and the infinite-width NTK."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg
import torch
from torch.func import jacrev, vmap

from ..ntk import relu_ntk_parts

DTYPE = torch.float64


def init_params(
    in_features: int, width: int, depth: int, sigma: float, seed: int, readout_sign: float = 1.0
) -> list[torch.Tensor]:
    """``[W_1 (m x d), W_2 .. W_L (m x m), a (m)]``, all ``sigma * N(0, 1)``.

    The standard-normal draws depend on ``seed`` only, so different sigmas scale the same net.
    ``readout_sign = -1`` gives the antisymmetric partner (a -> -a).
    """
    gen = torch.Generator().manual_seed(int(seed))
    shapes = [(width, in_features)] + [(width, width)] * (depth - 1) + [(width,)]
    params = [sigma * torch.randn(shape, generator=gen, dtype=DTYPE) for shape in shapes]
    params[-1] = readout_sign * params[-1]
    return params


def _layer_scales(params) -> list[float]:
    """``c_l``: 1 for the first layer (unit-norm inputs), 1/sqrt(fan-in) for the others."""
    return [1.0] + [1.0 / math.sqrt(W.shape[1]) for W in params[1:-1]]


def forward(params, X: torch.Tensor) -> torch.Tensor:
    """``f(X)`` for a batch of inputs (rows), no biases anywhere."""
    h = X
    for W, c in zip(params[:-1], _layer_scales(params)):
        h = torch.relu(c * (h @ W.T))
    a = params[-1]
    return h @ a / math.sqrt(a.shape[0])


def jacobian(params, X: torch.Tensor) -> torch.Tensor:
    """``J = df(X)/dtheta`` (n x P, parameters flattened in ``params`` order), by torch.func."""

    def f_single(p, x):
        return forward(p, x.unsqueeze(0)).squeeze(0)

    blocks = vmap(jacrev(f_single), in_dims=(None, 0))(list(params), X)
    return torch.cat([b.reshape(X.shape[0], -1) for b in blocks], dim=1)


def jacobian_factors(params, X: torch.Tensor):
    """Pairs (A_l, B_l) with ``df(x_i)/dW_l = A_l[i] ⊗ B_l[i]`` (the readout: B = 1).

    Backpropagation by hand: ``delta_L = c_out a * 1{z_L > 0}``, ``df/dW_l = c_l delta_l ⊗ h_{l-1}``,
    ``delta_{l-1} = c_l (delta_l W_l) * 1{z_{l-1} > 0}``.
    """
    scales = _layer_scales(params)
    hidden, gates = [X], []
    for W, c in zip(params[:-1], scales):
        z = c * (hidden[-1] @ W.T)
        gates.append((z > 0).to(X.dtype))
        hidden.append(torch.relu(z))
    a = params[-1]
    c_out = 1.0 / math.sqrt(a.shape[0])
    factors = [(c_out * hidden[-1], torch.ones(X.shape[0], 1, dtype=X.dtype))]
    delta = c_out * a * gates[-1]
    for layer in reversed(range(len(scales))):
        factors.append((scales[layer] * delta, hidden[layer]))
        if layer > 0:
            delta = scales[layer] * (delta @ params[layer]) * gates[layer - 1]
    return factors


def empirical_ntk(params, X: torch.Tensor, Z: torch.Tensor | None = None) -> torch.Tensor:
    """``Theta(X, Z) = J(X) J(Z)^T = sum_l (A_l(X) A_l(Z)^T) * (B_l(X) B_l(Z)^T)`` (layer-wise
    closed form of the Gram matrix; never forms the n x P Jacobian)."""
    fx = jacobian_factors(params, X)
    fz = fx if Z is None else jacobian_factors(params, Z)
    return sum((ax @ az.T) * (bx @ bz.T) for (ax, bx), (az, bz) in zip(fx, fz))


def _psd_factor(kernel: np.ndarray) -> np.ndarray:
    """Rows F with ``F F^T = kernel`` (eigen-factor of a PSD matrix)."""
    values, vectors = np.linalg.eigh((kernel + kernel.T) / 2)
    return vectors * np.sqrt(np.clip(values, 0.0, None))


def infinite_width_ntk(X: np.ndarray, depth: int) -> np.ndarray:
    """Theta^inf of the depth-L bias-free net at sigma = 1, by the layer recursion

        Sigma_0 = X X^T,  Theta_1 = Sigma_0,
        Theta_{l+1} = Theta_l * dSigma_l + Sigma_l,

    where ``(Sigma_{l-1} * dSigma_l, Sigma_l) = relu_ntk_parts(F)`` for features F with
    ``F F^T = Sigma_{l-1}`` (dSigma: the ReLU gate kernel (pi - t)/(2 pi), Sigma: the arc-cosine
    kernel).  For L = 1 this is ``K_W + K_a`` of companions.md §0.
    """
    X = np.asarray(X, dtype=np.float64)
    sigma_prev = X @ X.T
    theta = sigma_prev.copy()
    features = X
    for layer in range(depth):
        k_w, k_a = relu_ntk_parts(features)
        # dSigma = k_w / Sigma_{l-1}; where Sigma_{l-1} = 0 (orthogonal inputs) it is 1/4
        scale = np.sqrt(np.outer(np.diag(sigma_prev), np.diag(sigma_prev)))
        gate = np.divide(
            k_w, sigma_prev, out=np.full_like(k_w, 0.25), where=np.abs(sigma_prev) > 1e-12 * scale
        )
        theta = theta * gate + k_a
        sigma_prev = k_a
        if layer + 1 < depth:
            features = _psd_factor(k_a)
    return theta


def kernel_predictor(
    theta_test_train: np.ndarray, theta_train: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """``Theta(x, X) Theta^-1 targets`` (Cholesky solve)."""
    return theta_test_train @ scipy.linalg.solve(theta_train, targets, assume_a="pos")
