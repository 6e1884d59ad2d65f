"""Seed 000 (Benning & Döring): loss curves of gradient span algorithms concentrate, with a
computable limit (companions.md, "Seed 000").

Two experiments, each run over many independent seeds at several sizes:

(a) **Exact Gaussian random function (GRF).**  ``f(x) = c |x|^2 / 2 + x^T W x / 2`` with
    ``W = G / sqrt(N)``, ``G`` a GOE matrix (off-diagonal variance 1, diagonal variance 2), so the
    spectrum of ``W`` tends to the semicircle law on [-2, 2] and the Hessian ``H = c I + W`` has
    spectrum in ``[c - 2, c + 2]``.  ``x_0`` is uniform on the sphere of radius ``sqrt(N)``.
    Gradient descent ``x' = x - eta H x`` and heavy ball ``x' = x - eta H x + beta (x - x_prev)``
    (``x_{-1} = x_0``) are run; the cost ``f(x_t) / N`` concentrates on the deterministic limit

        f(x_t) / N  ->  1/2 ∫ (c + λ) ρ_t(c + λ)^2 dSC(λ),

    where ``ρ_t(h)`` is the scalar GD / heavy-ball recursion for curvature ``h`` (``ρ_0 = ρ_{-1} = 1``,
    ``ρ_{t+1} = (1 - eta h + beta) ρ_t - beta ρ_{t-1}``) and ``dSC(λ) = sqrt(4 - λ^2) / (2π) dλ``.
    The integrand is a polynomial in λ, so Gauss–Chebyshev quadrature of the second kind is exact.

(b) **One-hidden-layer ReLU network** ``f(x) = a . relu(W x / sqrt(d)) / sqrt(m)`` (NTK
    parametrisation, ``W, a ~ N(0, 1)``, no biases, both layers trained) on scikit-learn's digits,
    full-batch GD on ``L = 1/2 mean_i (f(x_i) - y_i)^2``.  The gradient of this loss is
    ``(1/n) J^T e``, so the linearized error evolves as ``e_{t+1} = (I - eta Θ / n) e_t``.  With the
    *centred* init (``f <- f - f_0``, so ``e_0 = -y``) the infinite-width prediction is

        L_t = 1/2 mean(((I - eta Θ∞ / n)^t y)^2),      Θ∞ = K_W + K_a of relu_ntk_parts(X / sqrt(d)),

    and the *standard* init keeps the random ``f_0`` (a GP with covariance K_a), whose loss does not
    concentrate as the width grows; its mean is ``L_t`` computed with the error coefficients
    ``<u_k, y>^2 + u_k^T K_a u_k``.

Both predictions are the spectral loss curve :func:`sgd_spectra.theory.se_loss_trajectory` with
``gamma = 0`` (the exact noiseless per-eigenvalue recursion).  Concentration is measured as the
log-log slope of the standard deviation across seeds of the cost at a fixed step against the size
(dimension N or width m); the claim is a slope near -1/2.  The honest tests (claims) are in
``gradient_span_claims``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..datasets import centred_digits_parity
from ..ntk import relu_ntk_parts
from ..theory import se_loss_trajectory
from . import params_schema
from .gradient_span_claims import grf_claims, mlp_claims

STUDY = dict(
    seed="000",
    title="Loss curves of gradient span algorithms concentrate, with a computable limit",
    paper='Felix Benning and Leif Döring, "Gradient Span Algorithms Make Predictable Progress in High '
    'Dimension", arXiv:2410.09973 (2024)',
    claim="Any gradient span algorithm (each iterate lies in x₀ + span{∇f(x₀), …, ∇f(xₙ)}: gradient "
    "descent, heavy ball, Nesterov) run on a scaled isotropic Gaussian random function f_N in "
    "dimension N has an asymptotically deterministic cost sequence: f_N(x_n) converges as N → ∞ "
    "to a computable limit, so different runs from random initialisations give the same cost "
    "curve. The authors offer this as the explanation of why training runs of large networks "
    "from random initialisations have near-identical loss curves (their Fig. 1, a CNN on MNIST).",
    caption="Concentration of cost curves. (i) Exact Gaussian random function f(x) = c‖x‖²/2 + xᵀWx/2 "
    "with W = GOE/√N (c = 2.5): 30 cost curves f(x_t)/N at N = 100 and at N = 1600 for gradient "
    "descent and heavy ball, with the deterministic semicircle limit ½∫(c+λ)ρ_t(λ)² dSC(λ) "
    "(dashed). (ii) Standard deviation across seeds of the cost at fixed steps against the "
    "dimension N (GRF) or the width m (ReLU network on digits, centred and standard init), "
    "log-log, with a slope −1/2 guide. (iii) Mean training loss of the centred network per width "
    "against the infinite-width NTK prediction ½·mean(((I − ηΘ∞/n)^t y)²) (dashed); the "
    "standard init and its predicted mean are shown thin.",
    deviations="The paper's Fig. 1 experiment (a 'standard CNN' on MNIST with Glorot init, Adam and GD) "
    "is not recoverable (the appendix with its settings is missing); Adam is not a gradient "
    "span algorithm anyway. This study instead checks the theorem on an exact scaled "
    "isotropic GRF (a random quadratic with GOE Hessian, where the limit is a semicircle "
    "integral) with GD and heavy ball, and checks the machine-learning analogue on a "
    "one-hidden-layer ReLU network in NTK parametrisation on scikit-learn's digits (256 "
    "images, parity target), where the width plays the role of the dimension and the limit "
    "is the infinite-width NTK loss curve. Non-quadratic GRFs (spin glasses) are not "
    "simulated. The network's loss concentrates only with the centred init (f ← f − f₀); "
    "with the standard init the random initial function f₀ is O(1) at every width, so its "
    "loss curve stays random — shown as a control.",
)

DEFAULT_PARAMS = dict(
    seed=0,
    grf_dims=[100, 400, 1600],
    grf_seeds=30,
    grf_steps=10,
    grf_curvature=2.5,
    grf_lr=0.3,
    grf_momentum=0.5,
    grf_slope_steps=[0, 5, 10],
    mlp_samples=256,
    mlp_data_seed=0,
    mlp_widths=[64, 256, 1024, 4096],
    mlp_seeds=10,
    mlp_steps=150,
    mlp_lr=1.0,
    mlp_slope_steps=[30, 100],
    mlp_match_min_width=1024,
)

TINY_PARAMS = dict(
    DEFAULT_PARAMS,
    grf_dims=[40, 160],
    grf_seeds=8,
    grf_steps=4,
    grf_slope_steps=[0, 4],
    mlp_samples=40,
    mlp_widths=[32, 128],
    mlp_seeds=4,
    mlp_steps=20,
    mlp_slope_steps=[10, 20],
    mlp_match_min_width=128,
)

#: Larger than companions.md's settings (N up to 1600, 30 seeds; widths up to 4096, 10 seeds) by one
#: more size each; the paper's own (its appendix) are not recoverable.  At N = 6400 a seed costs
#: about 2.5 s (a 330 MB GOE matrix drawn and streamed 31 times).
PAPER_PARAMS = dict(
    DEFAULT_PARAMS,
    grf_dims=[100, 400, 1600, 6400],
    grf_seeds=50,
    grf_steps=30,
    grf_slope_steps=[0, 5, 10, 30],
    mlp_widths=[64, 256, 1024, 4096, 16384],
    mlp_seeds=10,
)

#: The named parameter sets; the config picks one with `companions.gradient_span: {preset: <name>}` and
#: may override any parameter (read without importing this module: companions.study_presets).
PRESETS = {"default": DEFAULT_PARAMS, "tiny": TINY_PARAMS, "paper": PAPER_PARAMS}

PARAMS_SCHEMA = params_schema("gradient_span")


# --------------------------------------------------------------------------------------------
# (a) Exact GRF: random quadratic with GOE Hessian
# --------------------------------------------------------------------------------------------


def goe_matrix(dim: int, rng: np.random.Generator) -> np.ndarray:
    """GOE sample ``(G + G^T) / sqrt(2)``: off-diagonal variance 1, diagonal variance 2."""
    g = rng.standard_normal((dim, dim))
    return (g + g.T) / math.sqrt(2.0)


def sphere_point(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform point on the sphere of radius ``sqrt(dim)``."""
    x = rng.standard_normal(dim)
    return x * (math.sqrt(dim) / np.linalg.norm(x))


def gradient_span_costs(hessian: np.ndarray, x0: np.ndarray, lr: float, momenta, steps: int) -> np.ndarray:
    """Costs ``f(x_t) / N = x_t^T H x_t / (2N)``, t = 0..steps, of heavy ball on ``f = x^T H x / 2``
    for each momentum in ``momenta`` (0 is GD), all from the same ``x0``; shape (len(momenta), steps + 1).

    ``x_{t+1} = x_t - lr H x_t + momentum (x_t - x_{t-1})`` with ``x_{-1} = x_0``.  The runs share
    one matrix product per step (the iterates are the columns of an N x k matrix).
    """
    dim = len(x0)
    momenta = np.asarray(momenta, dtype=np.float64)
    x = np.repeat(np.asarray(x0, dtype=np.float64)[:, None], len(momenta), axis=1)
    x_prev = x.copy()
    costs = np.empty((len(momenta), steps + 1))
    for t in range(steps + 1):
        grad = hessian @ x
        costs[:, t] = np.einsum("ik,ik->k", x, grad) / (2 * dim)
        x, x_prev = x - lr * grad + momenta * (x - x_prev), x
    return costs


def semicircle_nodes(n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Chebyshev (second kind) nodes and weights for the semicircle law on [-2, 2].

    ``∫ g(λ) sqrt(4 - λ^2) / (2π) dλ = Σ_i w_i g(λ_i)`` exactly for polynomials of degree
    ``< 2 n_nodes``; ``λ_i = 2 cos(iπ/(n+1))``, ``w_i = 2 sin^2(iπ/(n+1)) / (n+1)`` (they sum to 1).
    """
    angles = np.arange(1, n_nodes + 1) * np.pi / (n_nodes + 1)
    return 2 * np.cos(angles), 2 * np.sin(angles) ** 2 / (n_nodes + 1)


def grf_cost_limit(curvature: float, lr: float, momentum: float, steps: int) -> np.ndarray:
    """Deterministic limit ``1/2 ∫ (c + λ) ρ_t(c + λ)^2 dSC(λ)`` for t = 0..steps.

    Computed as the spectral loss curve with eigenvalues ``h_i = c + λ_i`` at the quadrature nodes
    and squared coefficients ``w_i h_i`` (``n_samples = 1``: :func:`se_loss_trajectory` returns
    ``Σ_i C_i / 2`` with ``C_i = w_i h_i ρ_t(h_i)^2``).  The integrand has degree ``2t + 1``, so
    ``steps + 1`` nodes already make the quadrature exact; 64 is the floor.
    """
    lam, weights = semicircle_nodes(max(64, steps + 1))
    hess = curvature + lam
    loss, _ = se_loss_trajectory(
        hess, weights * hess, lr, momentum, 0.0, 0.0, np.arange(steps + 1), n_samples=1
    )
    return loss[0]


def grf_tables(params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cost curves of GD and heavy ball on fresh (W, x0) per (dim, seed), and the limit curves."""
    c, lr, beta, steps = (
        params["grf_curvature"],
        params["grf_lr"],
        params["grf_momentum"],
        params["grf_steps"],
    )
    algorithms = {"GD": 0.0, "heavy ball": beta}
    rows = []
    for dim in params["grf_dims"]:
        for seed in range(params["grf_seeds"]):
            rng = np.random.default_rng([params["seed"], 0, dim, seed])  # stream 0: the GRF study
            hessian = goe_matrix(dim, rng) / math.sqrt(dim)
            hessian[np.diag_indices(dim)] += c
            x0 = sphere_point(dim, rng)
            costs = gradient_span_costs(hessian, x0, lr, list(algorithms.values()), steps)
            for name, curve in zip(algorithms, costs):
                rows += [(name, dim, seed, t, float(v)) for t, v in enumerate(curve)]
    costs = pd.DataFrame(rows, columns=["algorithm", "dim", "seed", "step", "cost"])
    limit = pd.concat(
        [
            pd.DataFrame(
                {
                    "algorithm": name,
                    "step": np.arange(steps + 1),
                    "cost_limit": grf_cost_limit(c, lr, m, steps),
                }
            )
            for name, m in algorithms.items()
        ],
        ignore_index=True,
    )
    return costs, limit


# --------------------------------------------------------------------------------------------
# (b) One-hidden-layer ReLU network on digits
# --------------------------------------------------------------------------------------------


def digits_parity(n_samples: int, data_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced digits subset: pixels centred (subset mean) and each image rescaled to
    ``|x|^2 = d``; target ``y = +1`` for even digits, ``-1`` for odd ones."""
    X, y, _ = centred_digits_parity(n_samples, data_seed)
    X *= math.sqrt(X.shape[1]) / np.linalg.norm(X, axis=1, keepdims=True)
    return X, y


def init_parameters(width: int, in_features: int, seeds, base_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First-layer weights stored transposed, ``W^T`` of shape (S, d, m), and the readout ``a`` of
    shape (S, m), all i.i.d. N(0, 1); one independent numpy stream per (base_seed, width, seed)."""
    Ws, As = [], []
    for seed in seeds:
        rng = np.random.default_rng([base_seed, 1, width, seed])  # stream 1: the network study
        Ws.append(rng.standard_normal((width, in_features)).T)
        As.append(rng.standard_normal(width))
    return torch.from_numpy(np.stack(Ws)), torch.from_numpy(np.stack(As))


def network_outputs(
    X_scaled: torch.Tensor, W_t: torch.Tensor, a: torch.Tensor, hidden: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs ``f = relu(X_scaled W^T) a / sqrt(m)`` of S networks at once, shape (S, n), and the
    hidden activations ``relu(X_scaled W^T)`` of shape (S, n, m), written into ``hidden`` if given.

    ``X_scaled = X / sqrt(d)`` of shape (n, d); ``W_t = W^T`` of shape (S, d, m) (this layout makes
    both GEMMs of a training step contiguous, ~2x faster than (S, m, d)).
    """
    n_seeds, _, width = W_t.shape
    hidden = torch.bmm(X_scaled.expand(n_seeds, -1, -1), W_t, out=hidden).relu_()
    out = torch.bmm(hidden, a.unsqueeze(-1)).squeeze(-1) / math.sqrt(width)
    return out, hidden


def loss_gradients(
    X_scaled: torch.Tensor, a: torch.Tensor, hidden: torch.Tensor, residual: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of ``L = 1/2 mean_i e_i^2`` w.r.t. ``W^T`` (S, d, m) and ``a`` (S, m) from the
    hidden activations ``h = relu(pre)`` and errors ``e`` (S, n).  With ``dL/df_i = e_i / n``::

        dL/da_j   = Σ_i h_ij e_i / (n sqrt m)
        dL/dW_jk  = a_j / sqrt(m) · Σ_i 1[pre_ij > 0] e_i x_ik / n      (x = X_scaled)

    Returns ``(G, s, dL/da)``: the first-layer gradient factorised as ``dL/dW^T = G * s`` (``s =
    a / sqrt(m)`` of shape (S, 1, m), broadcast over the d rows) so the update is one fused ``addcmul_``.
    ``hidden`` is overwritten by the gate ``1[pre > 0] = sign(h)`` to save a pass and a buffer.
    """
    inv_sqrt_width = 1.0 / math.sqrt(hidden.shape[2])
    dL_df = residual / residual.shape[1]
    grad_a = torch.bmm(dL_df.unsqueeze(1), hidden).squeeze(1) * inv_sqrt_width
    gate = hidden.sign_()
    weighted_inputs = (dL_df.unsqueeze(-1) * X_scaled).transpose(1, 2)  # (S, d, n)
    return torch.bmm(weighted_inputs, gate), a.unsqueeze(1) * inv_sqrt_width, grad_a


def train_networks(
    X: np.ndarray, y: np.ndarray, W_t: torch.Tensor, a: torch.Tensor, lr: float, steps: int, centred
) -> np.ndarray:
    """Full-batch GD on ``L = 1/2 mean((f - y)^2)`` for S networks at once; losses (S, steps + 1).

    ``centred`` (a bool, or one bool per network): the output is ``f(x; θ) - f(x; θ_0)`` (θ_0
    frozen), so the initial error is ``-y`` and the NTK is unchanged.  ``W_t`` (= W^T, (S, d, m))
    and ``a`` are updated in place.
    """
    X_scaled = torch.from_numpy(X / math.sqrt(X.shape[1]))
    target = torch.from_numpy(y)
    hidden = torch.empty(W_t.shape[0], len(y), W_t.shape[2], dtype=W_t.dtype)
    centred = torch.as_tensor(np.broadcast_to(centred, W_t.shape[:1]).copy(), dtype=W_t.dtype)
    offset = network_outputs(X_scaled, W_t, a, hidden)[0] * centred.unsqueeze(1)
    losses = np.empty((W_t.shape[0], steps + 1))
    for t in range(steps + 1):
        out, hidden = network_outputs(X_scaled, W_t, a, hidden)
        residual = out - offset - target
        losses[:, t] = (0.5 * (residual**2).mean(dim=1)).numpy()
        if t < steps:
            gate_part, readout_scale, grad_a = loss_gradients(X_scaled, a, hidden, residual)
            W_t.addcmul_(gate_part, readout_scale, value=-lr)
            a.sub_(grad_a, alpha=lr)
    return losses


def ntk_loss_prediction(X: np.ndarray, y: np.ndarray, lr: float, steps: int) -> dict[str, np.ndarray]:
    """Infinite-width losses for t = 0..steps (``Θ∞ = K_W + K_a`` of ``relu_ntk_parts(X / sqrt d)``).

    Centred: ``1/2 mean(((I - lr Θ∞/n)^t y)^2)``; standard: its expectation over ``f_0 ~ GP(0, K_a)``,
    ``1/2 mean(((I - lr Θ∞/n)^t y)^2) + tr(A^t K_a A^t) / (2n)``.  Both are the spectral curve of
    :func:`se_loss_trajectory` on the eigenpairs ``(λ_k, u_k)`` of ``Θ∞/n`` (the convention of
    :func:`sgd_spectra.spectra.kernel_spectrum`: descending, clipped at 0), with coefficients
    ``<u_k, y>^2`` and ``<u_k, y>^2 + u_k^T K_a u_k`` respectively.
    """
    n = len(y)
    k_w, k_a = relu_ntk_parts(X / math.sqrt(X.shape[1]))
    kernel_over_n = (k_w + k_a) / n
    eigenvalues, vectors = np.linalg.eigh((kernel_over_n + kernel_over_n.T) / 2)
    eigenvalues, vectors = np.clip(eigenvalues[::-1], 0.0, None), vectors[:, ::-1]
    coef_y = (vectors.T @ y) ** 2
    coef_f0 = np.einsum("ik,ij,jk->k", vectors, k_a, vectors)
    record = np.arange(steps + 1)
    return {
        init: se_loss_trajectory(eigenvalues, coef, lr, 0.0, 0.0, 0.0, record, n_samples=n)[0][0]
        for init, coef in (("centred", coef_y), ("standard", coef_y + coef_f0))
    }


INITS = ("centred", "standard")


def seed_chunks(n_seeds: int, width: int, n_samples: int, max_elements: int = 2**24) -> list[range]:
    """Split the seeds so one (2 inits x chunk, n, m) hidden-layer tensor has at most ``max_elements``."""
    per_chunk = max(1, min(n_seeds, max_elements // (len(INITS) * width * n_samples)))
    return [range(s, min(s + per_chunk, n_seeds)) for s in range(0, n_seeds, per_chunk)]


def mlp_tables(params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training losses of the centred and standard networks per (width, seed), and the predictions.

    Both inits start from the same θ_0 per seed and train as one batch (half the kernel launches).
    """
    X, y = digits_parity(params["mlp_samples"], params["mlp_data_seed"])
    steps, lr = params["mlp_steps"], params["mlp_lr"]
    frames = []
    for width in params["mlp_widths"]:
        for chunk in seed_chunks(params["mlp_seeds"], width, len(y)):
            W_t, a = init_parameters(width, X.shape[1], chunk, params["seed"])
            centred = np.repeat([init == "centred" for init in INITS], len(chunk))
            losses = train_networks(
                X, y, W_t.repeat(len(INITS), 1, 1), a.repeat(len(INITS), 1), lr, steps, centred
            )
            frames.append(
                pd.DataFrame(
                    {
                        "init": np.repeat(INITS, len(chunk) * (steps + 1)),
                        "width": width,
                        "seed": np.tile(np.repeat(np.asarray(chunk, dtype=np.int64), steps + 1), len(INITS)),
                        "step": np.tile(np.arange(steps + 1), len(INITS) * len(chunk)),
                        "loss": losses.reshape(-1),
                    }
                )
            )
    predicted = ntk_loss_prediction(X, y, lr, steps)
    prediction = pd.concat(
        [
            pd.DataFrame({"init": init, "step": np.arange(steps + 1), "loss_prediction": predicted[init]})
            for init in INITS
        ],
        ignore_index=True,
    )
    return pd.concat(frames, ignore_index=True), prediction


def run_study(params: dict) -> dict[str, pd.DataFrame]:
    """Tables ``grf_costs`` (algorithm, dim, seed, step, cost = f(x_t)/N), ``grf_limit`` (algorithm,
    step, cost_limit), ``mlp_losses`` (init, width, seed, step, loss) and ``mlp_prediction`` (init,
    step, loss_prediction)."""
    grf_costs, grf_limit = grf_tables(params)
    mlp_losses, mlp_prediction = mlp_tables(params)
    return {
        "grf_costs": grf_costs,
        "grf_limit": grf_limit,
        "mlp_losses": mlp_losses,
        "mlp_prediction": mlp_prediction,
    }


def study_claims(tables: dict[str, pd.DataFrame], params: dict) -> list[dict]:
    """Claim rows of companions.md's honest tests, computed from the tables."""
    return grf_claims(tables["grf_costs"], tables["grf_limit"], params) + mlp_claims(
        tables["mlp_losses"], tables["mlp_prediction"], params
    )
