"""Neural tangent kernel of the one-hidden-layer ReLU network in NTK parametrisation.

The network is ``f(x) = a . relu(W x / sqrt(d) + b) / sqrt(m)`` with ``W, b, a ~ N(0, 1)`` and no
output bias (theory.md §12, the authors' ``NTKTwoLayerMLP``).  Two ways to get its empirical NTK:

* :func:`ntk_closed_form` -- the fast path.  The Jacobian of this network factorises, so the
  Gram matrix is two GEMMs: ``K = (R R^T + (Xt Xt^T + 1) * (D D^T)) / m``.
* :func:`ntk_autograd` -- the Jacobian built by ``torch.func`` and contracted, ``K = J J^T``
  (:mod:`sgd_spectra.ntk_generic`).  It is the oracle that tests the closed form, and the general
  path for other architectures (:mod:`sgd_spectra.models`).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse.linalg
import torch
from torch import nn


class NTKTwoLayerMLP(nn.Module):
    """d -> m -> 1 ReLU network in NTK parametrisation (scalar output, no output bias)."""

    def __init__(
        self,
        in_features: int,
        width: int,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ):
        super().__init__()
        self.in_features = in_features
        self.width = width
        kw = dict(generator=generator, dtype=dtype)
        self.weight = nn.Parameter(torch.randn(width, in_features, **kw))
        self.bias = nn.Parameter(torch.randn(width, **kw))
        self.readout = nn.Parameter(torch.randn(width, **kw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = x @ self.weight.T / math.sqrt(self.in_features) + self.bias
        return torch.relu(hidden) @ self.readout / math.sqrt(self.width)


def init_network(
    in_features: int, width: int, seed: int, dtype: torch.dtype = torch.float64
) -> NTKTwoLayerMLP:
    """The network at initialisation; the same seed gives the same parameters."""
    generator = torch.Generator().manual_seed(int(seed))
    return NTKTwoLayerMLP(in_features, width, generator=generator, dtype=dtype)


def network_from_arrays(
    weight: np.ndarray, bias: np.ndarray, readout: np.ndarray, dtype: torch.dtype = torch.float64
) -> NTKTwoLayerMLP:
    """Rebuild a network from saved parameter arrays (used by the training rules)."""
    net = NTKTwoLayerMLP(weight.shape[1], weight.shape[0], dtype=dtype)
    with torch.no_grad():
        net.weight.copy_(torch.as_tensor(weight, dtype=dtype))
        net.bias.copy_(torch.as_tensor(bias, dtype=dtype))
        net.readout.copy_(torch.as_tensor(readout, dtype=dtype))
    return net


def ntk_closed_form(net: NTKTwoLayerMLP, X: torch.Tensor) -> torch.Tensor:
    """Empirical NTK ``K_ij = <grad f(x_i), grad f(x_j)>`` over all parameters, in closed form."""
    with torch.no_grad():
        X = X.to(net.weight.dtype)
        xt = X / math.sqrt(net.in_features)
        hidden = xt @ net.weight.T + net.bias
        relu_part = torch.relu(hidden)  # d f / d readout * sqrt(m)
        gate_part = (hidden > 0).to(X.dtype) * net.readout  # d f / d hidden * sqrt(m)
        # readout block + (first-layer weights block + first-layer bias block)
        kernel = relu_part @ relu_part.T + (xt @ xt.T + 1.0) * (gate_part @ gate_part.T)
        return kernel / net.width


def ntk_autograd(net: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """Empirical NTK of any scalar-output network from its per-sample Jacobian (``torch.func``),
    in the dtype of the network's parameters.

    The oracle for the closed form; it is :func:`sgd_spectra.ntk_generic.empirical_ntk`, which
    chunks the Jacobian under a memory cap and works for any architecture.
    """
    from sgd_spectra.ntk_generic import empirical_ntk

    dtype = next(net.parameters()).dtype
    return torch.from_numpy(empirical_ntk(net, X, dtype=dtype)).to(dtype)


def relu_ntk_parts(X) -> tuple[np.ndarray, np.ndarray]:
    """Infinite-width NTK of ``f(x) = a . relu(W x) / sqrt(m)``, ``W, a ~ N(0, 1)``, no biases.

    With ``u = cos angle(x, x')`` and ``t = arccos u`` (companions.md §0)::

        K_W = <x, x'> (pi - t) / (2 pi)                       (first layer; Du et al.'s H^inf)
        K_a = |x| |x'| (sin t + (pi - t) u) / (2 pi)          (readout; the arc-cosine kernel,
                                                                also the NNGP covariance of f0)

    The NTK of the network with both layers trained is ``K_W + K_a``.  Rows of ``X`` are used as
    given (scale them first for a ``1/sqrt(d)`` parametrisation).  Returns ``(K_W, K_a)``.
    """
    X = np.asarray(X, dtype=np.float64)
    gram = X @ X.T
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    outer = np.outer(norms, norms)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = np.where(outer > 0, gram / outer, 1.0)
    u = np.clip(u, -1.0, 1.0)
    t = np.arccos(u)
    k_w = gram * (np.pi - t) / (2 * np.pi)
    k_a = outer * (np.sqrt(1.0 - u * u) + (np.pi - t) * u) / (2 * np.pi)
    return k_w, k_a


def normalise_kernel(kernel: np.ndarray, lam_max: float | None = None) -> tuple[np.ndarray, float]:
    """Rescale as the paper's code does so that ``lambda_max(K / N) = 1``.

    Returns ``(K / N * scale, scale)`` with ``scale = N / lambda_max(K)``: the normalised kernel
    divided by N (its eigenvalues are the Hessian eigenvalues, the largest is 1) and the factor by
    which every learning rate of the real network must be multiplied to match.  ``lam_max``:
    lambda_max(K) when it is known (a kernel built from its spectrum), else Lanczos finds it.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    n = kernel.shape[0]
    if lam_max is None:
        lam_max = largest_eigenvalue(kernel)
    if not lam_max > 0:
        raise ValueError("kernel has no positive eigenvalue; cannot normalise")
    scale = n / lam_max
    return kernel * (scale / n), scale


def largest_eigenvalue(matrix: np.ndarray) -> float:
    """The largest eigenvalue of a symmetric matrix, to machine precision.

    Lanczos (ARPACK's ``eigsh``, ``tol=0``) costs O(N^2) per iteration where a full ``eigvalsh``
    costs O(N^3): at N = 10^4 about a second instead of a minute.  The start vector is fixed, so
    the result is the same on every call (ARPACK's own start is drawn from a generator that
    advances from call to call).
    """
    n = matrix.shape[0]
    if n < 3:  # ARPACK needs k < N - 1
        return float(np.linalg.eigvalsh(matrix)[-1])
    start = np.random.default_rng(0).standard_normal(n)
    try:
        top = scipy.sparse.linalg.eigsh(matrix, k=1, which="LA", tol=0, v0=start, return_eigenvectors=False)
    except scipy.sparse.linalg.ArpackError:  # a Krylov space that collapses (the zero matrix)
        return float(np.linalg.eigvalsh(matrix)[-1])
    return float(top[0])
