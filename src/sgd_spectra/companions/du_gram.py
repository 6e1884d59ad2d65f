"""Seed 003: Du, Zhai, Póczos & Singh (ICLR 2019), the Gram matrix H(0) -> H^inf and GD convergence.

Model and conventions (companions.md, "Seed 003"):

* ``f(W, a, x) = (1/sqrt(m)) sum_r a_r relu(w_r^T x)`` with ``w_r ~ N(0, I_d)`` and ``a_r ~ U{-1, +1}``;
  ``a`` is fixed and only ``W`` is trained.
* Loss ``L(W) = 1/2 sum_i (f(x_i) - y_i)^2`` (a SUM over the n points), so full-batch GD with step
  ``eta`` moves the outputs as ``u <- u - eta H(k) (u - y)`` to first order, with the Gram matrix
  ``H_ij = x_i^T x_j (1/m) sum_r 1{w_r^T x_i >= 0, w_r^T x_j >= 0}`` (no 1/n anywhere).
* ``H^inf = E_w[H(0)] = x_i^T x_j (pi - arccos(x_i^T x_j)) / (2 pi)``, which is ``K_W`` of
  :func:`sgd_spectra.ntk.relu_ntk_parts` on unit-norm inputs; ``lambda_0 = lambda_min(H^inf)``.
* H^inf prediction of the residual: ``||u(k) - y||^2 = sum_l c_l^2 (1 - eta lambda_l)^(2k)`` with
  ``c = V^T (u(0) - y)`` (eigenpairs of H^inf, per seed's own u(0)).
* Du's Thm 4.1 bound: ``||u(k) - y||^2 <= (1 - eta lambda_0 / 2)^k ||u(0) - y||^2``; weight movement
  ``||w_r(k) - w_r(0)|| <= R' = 4 sqrt(n) ||y - u(0)|| / (sqrt(m) lambda_0)``; width
  ``m = Omega(n^6 / (lambda_0^4 delta^3))``, evaluated here with constant 1.

Data: ``n`` points of scikit-learn's digits, a class-balanced subset drawn with
``numpy.random.default_rng(data_seed)`` (:func:`sgd_spectra.datasets.centred_digits_parity`), centred by
the subset's mean image, each row scaled to unit norm; target ``y = +1`` for even digits and ``-1``
for odd ones.

Curve deviation (the "training follows H^inf" test) is measured per run in two ways: the strict
``sup_k |ln(||u(k) - y||^2 / prediction_k)|`` over all recorded steps ``k = 0..K`` (every decade of the
7-decade fall counts equally, so the slow tail dominates), and the scale-aware
``sup_k |(||u(k) - y||^2 - prediction_k)| / ||u(0) - y||^2`` (deviation in units of the initial loss).
``||H(0) - H^inf||`` is the spectral norm (the Frobenius norm is also tabulated).

The honest tests (claims) are in ``du_gram_claims``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from sgd_spectra.datasets import centred_digits_parity
from sgd_spectra.ntk import relu_ntk_parts
from sgd_spectra.theory import se_loss_trajectory

from . import params_schema
from .du_gram_claims import MC_CONSTANT, gram_claims, training_claims

STUDY = dict(
    seed="003",
    title="H(0) → H^∞ at rate m^-1/2; training follows the H^∞ prediction and stays inside Du's bound; "
    "lazy movement ∝ m^-1/2",
    paper='Simon S. Du, Xiyu Zhai, Barnabás Póczos, Aarti Singh, "Gradient Descent Provably Optimizes '
    'Over-parameterized Neural Networks", ICLR 2019, arXiv:1810.02054',
    claim="For a one-hidden-layer ReLU network f(x) = (1/√m) Σ_r a_r relu(w_rᵀx) with fixed random output "
    "signs a_r and trained first layer, the Gram matrix H(0)_ij = x_iᵀx_j (1/m) Σ_r 1{w_rᵀx_i ≥ 0, "
    "w_rᵀx_j ≥ 0} concentrates around H^∞_ij = x_iᵀx_j (π − arccos x_iᵀx_j)/(2π), whose smallest "
    "eigenvalue λ0 is positive when no two unit-norm inputs are parallel. If the width is "
    "m = Ω(n⁶/(λ0⁴δ³)) and η = O(λ0/n²), then with probability 1 − δ gradient descent on the "
    "squared loss ½Σ_i(u_i − y_i)² converges linearly, ‖u(k) − y‖² ≤ (1 − ηλ0/2)^k ‖u(0) − y‖², "
    "while every w_r stays within R' = 4√n‖y − u(0)‖/(√m λ0) of its initialisation, so only a "
    "vanishing fraction of activation patterns flips as m grows.",
    caption="Du et al. (ICLR 2019) on 100 digits (parity target, centred, unit-norm), first layer trained by "
    "full-batch GD with η = 1/λ_max(H^∞). (i) ‖u(k) − y‖² per width (seed mean, solid), the H^∞ "
    "spectral prediction Σ c_l²(1 − ηλ_l)^{2k} (dashed) and Du's bound (1 − ηλ0/2)^k‖u(0) − y‖² "
    "(dotted). (ii) ‖H(0) − H^∞‖₂, max_r ‖w_r(K) − w_r(0)‖ and the flipped-activation fraction "
    "vs width m (seeds as points, means joined), with m^-1/2 guides and Du's radius R'.",
    deviations="The paper's §5 experiments (synthetic n = d = 1000 on the sphere, Gaussian targets) are "
    "not in the texts at hand; this study uses 100 class-balanced digits instead, centred and "
    "unit-normalised, with a ±1 parity target. The step size is η = 1/λ_max(H^∞), about 3·10⁴ "
    "times the theorem's O(λ0/n²), and widths are 256–4096 instead of the theorem's "
    "m ≈ 4.5·10¹⁹ (constant 1, δ = 0.1). The data subset is a seeded balanced draw, so λ0 and "
    "λ_max differ slightly from the companions.md values (0.0685, 4.64). The Monte Carlo check "
    "of H^∞ uses 2·10⁵ draws (the paper's note: 4·10⁵).",
)

DEFAULT_PARAMS = dict(
    n_samples=100,
    data_seed=0,
    widths=[256, 1024, 4096],
    n_seeds=3,
    init_seed=0,
    n_steps=300,
    n_mc=200_000,
    mc_chunk=20_000,
    mc_seed=0,
    delta=0.1,
    curve_check_width=4096,
    bound_min_width=1024,
)
TINY_PARAMS = dict(
    n_samples=30,
    data_seed=0,
    widths=[64, 256],
    n_seeds=2,
    init_seed=0,
    n_steps=30,
    n_mc=20_000,
    mc_chunk=10_000,
    mc_seed=0,
    delta=0.1,
    curve_check_width=256,
    bound_min_width=256,
)
PAPER_PARAMS = dict(
    n_samples=100,
    data_seed=0,
    widths=[256, 1024, 4096, 16384],
    n_seeds=5,
    init_seed=0,
    n_steps=300,
    n_mc=400_000,
    mc_chunk=20_000,
    mc_seed=0,
    delta=0.1,
    curve_check_width=4096,
    bound_min_width=1024,
)

#: The named parameter sets; the config picks one with `companions.du_gram: {preset: <name>}` and
#: may override any parameter (read without importing this module: companions.study_presets).
PRESETS = {"default": DEFAULT_PARAMS, "tiny": TINY_PARAMS, "paper": PAPER_PARAMS}

PARAMS_SCHEMA = params_schema("du_gram")

#: Relative slack when comparing a loss with the bound (float64 round-off on equal values).
BOUND_RTOL = 1e-12


# ------------------------------------------------------------------------------------------------
# Data, kernels
# ------------------------------------------------------------------------------------------------


def load_digits_parity(n_samples: int, data_seed: int):
    """``(X, y, idx)``: balanced digits subset, centred by its mean image, rows of unit norm, y = ±1.

    ``y_i = +1`` for even digits, ``-1`` for odd.  Raises if two rows are parallel (Du's
    assumption, needed for ``lambda_0 > 0``) or a row is zero after centring.
    """
    X, y, idx = centred_digits_parity(n_samples, data_seed)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    if not np.all(norms > 0):
        raise ValueError("a centred digit is zero; pick another subset")
    X /= norms
    if max_abs_cosine(X) > 1 - 1e-9:
        raise ValueError("two inputs are parallel: lambda_0 = 0, Du's assumption fails")
    return X, y, idx


def max_abs_cosine(X: np.ndarray) -> float:
    """``max_{i != j} |x_i^T x_j|`` for unit-norm rows (1 means two inputs are parallel)."""
    gram = X @ X.T
    np.fill_diagonal(gram, 0.0)
    return float(np.abs(gram).max())


def activation_gram(X: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``H_ij = x_i^T x_j (1/m) sum_r 1{w_r^T x_i >= 0} 1{w_r^T x_j >= 0}`` for ``W`` of shape (..., m, d).

    With ``a_r = ±1`` this is Du's ``H(0)`` (``a_r^2 = 1``); with ``W`` a block of Monte Carlo draws it
    is the sample mean whose expectation is ``H^inf``.  Returns shape (..., n, n).
    """
    active = (W @ X.T >= 0).to(X.dtype)  # (..., m, n)
    return (X @ X.T) * (active.transpose(-1, -2) @ active) / W.shape[-2]


def monte_carlo_h_inf(X: np.ndarray, n_draws: int, chunk: int, seed: int) -> np.ndarray:
    """Monte Carlo estimate of ``H^inf = E_w[x_i^T x_j 1{w^T x_i >= 0, w^T x_j >= 0}]``, ``w ~ N(0, I)``.

    Averages :func:`activation_gram` over chunks of at most ``chunk`` draws (bounded memory).
    """
    rng = np.random.default_rng(seed)
    Xt = torch.as_tensor(X)
    total = torch.zeros(len(X), len(X), dtype=torch.float64)
    done = 0
    while done < n_draws:
        size = min(chunk, n_draws - done)
        W = torch.as_tensor(rng.standard_normal((size, X.shape[1])))
        total += activation_gram(Xt, W) * size
        done += size
    return (total / n_draws).numpy()


# ------------------------------------------------------------------------------------------------
# Network and training
# ------------------------------------------------------------------------------------------------


def init_weights(dimension: int, width: int, seeds, init_seed: int):
    """Stacked ``(W0, a)`` of shapes (S, m, d) and (S, m); seed s draws from
    ``default_rng([init_seed, width, s])``: ``W0 ~ N(0, 1)`` entries, ``a`` uniform on {-1, +1}."""
    W0, a = [], []
    for s in seeds:
        rng = np.random.default_rng([init_seed, width, int(s)])
        W0.append(rng.standard_normal((width, dimension)))
        a.append(rng.choice(np.array([-1.0, 1.0]), size=width))
    return torch.as_tensor(np.stack(W0)), torch.as_tensor(np.stack(a))


def network_output(X: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``u_i = (1/sqrt(m)) sum_r a_r relu(w_r^T x_i)``; W (S, m, d), a (S, m) -> u (S, n)."""
    return (torch.relu(W @ X.T) * a[..., None]).sum(-2) / math.sqrt(W.shape[-2])


def train_first_layer(
    X: np.ndarray, y: np.ndarray, W0: torch.Tensor, a: torch.Tensor, lr: float, n_steps: int
):
    """Full-batch GD on ``W`` only, loss ``1/2 sum_i (u_i - y_i)^2``, for S stacked networks.

    Gradient: ``dL/dw_r = (1/sqrt(m)) a_r sum_i (u_i - y_i) 1{w_r^T x_i >= 0} x_i``.
    Returns ``(residual_sq, W_final)``: ``||u(k) - y||^2`` of shape (S, n_steps + 1) for
    k = 0..n_steps, and the weights after ``n_steps`` steps.
    """
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    scale = 1.0 / math.sqrt(W0.shape[-2])
    readout = (a * scale)[..., None]  # (S, m, 1)
    one = torch.ones((), dtype=torch.float64)
    W = W0.clone()
    residual_sq = torch.empty(W0.shape[0], n_steps + 1, dtype=torch.float64)
    for k in range(n_steps + 1):
        pre = W @ Xt.T  # (S, m, n)
        # u = relu(pre)^T a / sqrt(m) as a batched product: fewer passes over (S, m, n) than a sum
        residual = (torch.relu(pre).transpose(-1, -2) @ readout)[..., 0] - yt
        residual_sq[:, k] = (residual * residual).sum(-1)
        if k == n_steps:
            break
        gates = torch.heaviside(pre, one)  # 1{w_r^T x_i >= 0}, one pass
        # sum_i gate_ri r_i x_i as one product with the (n, d) matrix r_i x_i, then the readout
        W = W - lr * readout * (gates @ (residual[..., None] * Xt))
    return residual_sq.numpy(), W


def spectral_residual_curve(kernel: np.ndarray, initial_residual: np.ndarray, lr: float, n_steps: int):
    """``||r(k)||^2 = sum_l c_l^2 (1 - lr lambda_l)^(2k)``, ``c = V^T r(0)``, for k = 0..n_steps.

    The linear output dynamics ``r <- (I - lr K) r`` of the SUM loss, evaluated by
    :func:`sgd_spectra.theory.se_loss_trajectory` with momentum = gamma = 0; that function returns
    ``sum_l C_l / (2 N)`` with ``C_l = c_l^2 (1 - lr lambda_l)^(2k)``, hence the factor ``2 N``.
    """
    eigenvalues, vectors = np.linalg.eigh(kernel)
    coefficients = (vectors.T @ initial_residual) ** 2
    n = len(initial_residual)
    loss, _ = se_loss_trajectory(
        eigenvalues, coefficients, lr, 0.0, 0.0, 0.0, np.arange(n_steps + 1), n_samples=n
    )
    return loss[0] * (2 * n)


def theory_width(n_samples: int, lambda0: float, delta: float) -> float:
    """Thm 4.1's width ``n^6 / (lambda_0^4 delta^3)`` with the Omega constant set to 1."""
    return n_samples**6 / (lambda0**4 * delta**3)


# ------------------------------------------------------------------------------------------------
# Study
# ------------------------------------------------------------------------------------------------


def _data_table(X: np.ndarray, lambda0: float, lambda_max: float, lr: float, params: dict) -> pd.DataFrame:
    """One row: the data set, lambda_0 and lambda_max of H^inf, the step and the theorem's scales."""
    n, d = X.shape
    return pd.DataFrame(
        [
            dict(
                dataset="digits",
                n_samples=n,
                dimension=d,
                data_seed=params["data_seed"],
                lambda0=lambda0,
                lambda_max=lambda_max,
                eta=lr,
                eta_theorem_scale=lambda0 / n**2,
                max_abs_cosine=max_abs_cosine(X),
                delta=params["delta"],
                theory_width=theory_width(n, lambda0, params["delta"]),
                n_steps=params["n_steps"],
            )
        ]
    )


def _run_row(width: int, seed: int, curve: dict, h0, h_inf, lambda0: float, movement, flipped) -> dict:
    """The ``runs`` row of one trained network from its ``curve`` (loss, predictions, bound), its H(0),
    its largest neuron movement and its flipped-activation fraction."""
    n = len(h_inf)
    loss = curve["loss"]
    gap = h0 - h_inf
    return dict(
        width=width,
        seed=seed,
        initial_loss=float(loss[0]),
        final_loss=float(loss[-1]),
        gram_deviation_spectral=float(np.linalg.norm(gap, 2)),
        gram_deviation_frobenius=float(np.linalg.norm(gap, "fro")),
        lambda_min_h0=float(np.linalg.eigvalsh(h0)[0]),
        max_movement=float(movement),
        r_prime=4 * math.sqrt(n) * float(np.sqrt(loss[0])) / (math.sqrt(width) * lambda0),
        flip_fraction=float(flipped),
        bound_violations=int(np.sum(loss > curve["bound"] * (1 + BOUND_RTOL))),
        curve_deviation=float(np.max(np.abs(np.log(loss / curve["prediction"])))),
        curve_deviation_initial=float(np.max(np.abs(loss - curve["prediction"])) / loss[0]),
        curve_deviation_h0=float(np.max(np.abs(np.log(loss / curve["prediction_h0"])))),
    )


def _width_tables(X, y, h_inf, lambda0: float, lr: float, width: int, params: dict):
    """Train the seeds' networks of one width: their ``curves`` rows (one frame each) and ``runs`` rows."""
    n_steps = params["n_steps"]
    steps = np.arange(n_steps + 1)
    decay = (1.0 - lr * lambda0 / 2.0) ** steps
    seeds = np.arange(params["n_seeds"])
    Xt = torch.as_tensor(X)
    W0, a = init_weights(X.shape[1], width, seeds, params["init_seed"])
    u0 = network_output(Xt, W0, a).numpy()
    residual_sq, W_final = train_first_layer(X, y, W0, a, lr, n_steps)
    h0 = activation_gram(Xt, W0).numpy()
    flipped = ((W0 @ Xt.T >= 0) != (W_final @ Xt.T >= 0)).to(torch.float64).mean((-2, -1)).numpy()
    movement = torch.linalg.vector_norm(W_final - W0, dim=-1).max(-1).values.numpy()
    curve_rows, run_rows = [], []
    for s_index, seed in enumerate(seeds):
        r0 = u0[s_index] - y
        loss = residual_sq[s_index]
        curve = dict(
            loss=loss,
            prediction=spectral_residual_curve(h_inf, r0, lr, n_steps),
            prediction_h0=spectral_residual_curve(h0[s_index], r0, lr, n_steps),
            bound=decay * loss[0],
        )
        curve_rows.append(pd.DataFrame(dict(width=width, seed=int(seed), step=steps, **curve)))
        run_rows.append(
            _run_row(
                width, int(seed), curve, h0[s_index], h_inf, lambda0, movement[s_index], flipped[s_index]
            )
        )
    return curve_rows, run_rows


def _monte_carlo_table(X: np.ndarray, h_inf: np.ndarray, params: dict) -> pd.DataFrame:
    """One row: the Monte Carlo estimate of H^inf against the closed form."""
    h_mc = monte_carlo_h_inf(X, params["n_mc"], params["mc_chunk"], params["mc_seed"])
    error = np.abs(h_mc - h_inf)
    return pd.DataFrame(
        [
            dict(
                n_draws=params["n_mc"],
                max_abs_error=float(error.max()),
                mean_abs_error=float(error.mean()),
                tolerance=MC_CONSTANT / math.sqrt(params["n_mc"]),
            )
        ]
    )


def run_study(params: dict) -> dict[str, pd.DataFrame]:
    """Train ``n_seeds`` networks per width for ``n_steps`` GD steps and measure Du's quantities.

    Tables:
      * ``data``: one row; n, d, lambda_0, lambda_max, eta = 1/lambda_max, the theorem's step scale
        lambda_0/n^2, max |cos| between inputs, the theorem's width.
      * ``curves``: per (width, seed, step): ``loss`` = ||u(k) - y||^2, ``prediction`` (H^inf
        spectral curve), ``prediction_h0`` (same with the run's own H(0), a diagnostic) and ``bound``.
      * ``runs``: per (width, seed): ||H(0) - H^inf|| (spectral, Frobenius), lambda_min(H(0)),
        max_r ||w_r(K) - w_r(0)||, R', flipped-activation fraction between step 0 and K, number of
        steps violating the bound, curve deviations sup_k |ln(loss/prediction)|.
      * ``monte_carlo``: one row; max and mean |H_MC - H^inf| and the tolerance 5/sqrt(N_mc).
    """
    X, y, _ = load_digits_parity(params["n_samples"], params["data_seed"])
    X, y, _ = load_digits_parity(params["n_samples"], params["data_seed"])
    h_inf, _ = relu_ntk_parts(X)
    eigenvalues = np.linalg.eigvalsh(h_inf)
    lambda0, lambda_max = float(eigenvalues[0]), float(eigenvalues[-1])
    lr = 1.0 / lambda_max
    curve_rows, run_rows = [], []
    for width in params["widths"]:
        curves, runs = _width_tables(X, y, h_inf, lambda0, lr, width, params)
        curve_rows += curves
        run_rows += runs
    return dict(
        data=_data_table(X, lambda0, lambda_max, lr, params),
        curves=pd.concat(curve_rows, ignore_index=True),
        runs=pd.DataFrame(run_rows),
        monte_carlo=_monte_carlo_table(X, h_inf, params),
    )


def study_claims(tables: dict[str, pd.DataFrame], params: dict) -> list[dict]:
    """Claims rows for the honest tests of companions.md §Seed 003, from the tables alone."""
    return gram_claims(tables) + training_claims(tables, params)
