"""Seed 004: Nonnenmacher, Reeb & Steinwart, "Which Minimizer Does My Neural Network Converge To?"

Two parts (companions.md, "Seed 004"):

(A) Init scale.  Bias-free ReLU nets in NTK parametrisation with every parameter drawn as
    ``theta = sigma * N(0, 1)``::

        h_0 = x,  h_l = relu(c_l W_l h_{l-1}),  f(x) = c_out a . h_L
        c_1 = 1 (inputs have unit norm),  c_l = c_out = 1/sqrt(m)  (l >= 2)

    f is positively homogeneous of degree L+1 in theta, so f0 ∝ sigma^(L+1) and the empirical
    NTK Theta = J J^T ∝ sigma^(2L).  The linearised GD minimiser (paper Thm 3.1) is::

        f_inf(x) = f0(x) + Theta(x, X) Theta^-1 (y - f0(X)) = f_ker(x) + g(x),
        f_ker(x) = Theta(x, X) Theta^-1 y  (sigma-invariant),  g = f0 - Theta(x,X) Theta^-1 f0(X).

    Flipping the readout (a -> -a) flips f0 and g and keeps Theta, so an *antisymmetric pair*
    averages the predictor to f_ker exactly and its mean test MSE is MSE_ker + mean(g^2): the
    pair-averaged excess is exactly ∝ sigma^(2(L+1)).  It is computed here at every sigma from
    scratch (same standard-normal draws times sigma), and the actual L=1 net is trained with
    full-batch heavy ball at two sigmas.

(B) Optimisers on the linearised model f_lin(theta) = f0 + J (theta - theta0) (Thms 4.1, 5.1):
    any non-adaptive method (heavy ball, SGD with momentum, any batch size) keeps theta - theta0
    in the row space of J and so lands on the GD minimiser; Adam leaves the row space and lands
    elsewhere, at a batch-size dependent point.

Conventions: training loss ``L = (1/2n) sum_i (f(x_i) - y_i)^2`` (half the MSE), so full-batch GD
on the linear model moves the residual by ``r <- (I - lr Theta/n) r`` and the learning rate of
heavy ball is ``lr = lr_factor / lambda_max(Theta/n)``; "train MSE" is ``mean r^2``.  This is the
convention of :func:`sgd_spectra.theory.se_loss_trajectory`, used for the spectral loss curve.
"""

from __future__ import annotations

import math
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import scipy.linalg
import torch
from torch.func import jacrev, vmap

from ..claims import claim_row, loglog_slope
from ..datasets import (
    FASHION_MNIST_INSTALL_HINT,
    DatasetUnavailable,
    balanced_subset,
    find_idx_pair,
    read_idx,
)
from ..ntk import relu_ntk_parts
from ..spectra import kernel_spectrum
from ..theory import batch_noise_factor, critical_lr, log_spaced_steps, se_loss_trajectory
from . import params_schema

DTYPE = torch.float64
SECTION = "companion-which_minimizer"
SOURCE = "Nonnenmacher, Reeb & Steinwart 2021"

STUDY = dict(
    seed="004",
    title="Which minimiser? Init scale inflates the test error as σ^{2(L+1)}; Adam, but not SGD, "
    "changes the minimiser",
    paper='Manuel Nonnenmacher, David Reeb, Ingo Steinwart, "Which Minimizer Does My Neural Network '
    'Converge To?", ECML-PKDD 2021, arXiv 2011.02408',
    claim="A strongly overparameterised ReLU network without biases, in NTK parametrisation with "
    "initialisation scale σ and trained by gradient descent on the squared loss, converges to "
    "f_∞(x) = Θ(x,X)Θ⁻¹y + [f0(x) − Θ(x,X)Θ⁻¹f0(X)] (Thm 3.1): the kernel interpolator plus a "
    "term that depends on the initialisation. Because the network is positively homogeneous of "
    "degree L+1 in its parameters (Lemma 4), the kernel term is σ-invariant and the init term "
    "scales as σ^{L+1}, so the expected test MSE is MSE_ker + σ^{2(L+1)}·E‖g‖² (Thm 3.2) and a "
    "large initialisation hurts. Adaptive methods (AdaGrad, Adam) converge to a different "
    "interpolator (Thm 4.1), while plain SGD at any batch size gives the GD minimiser because "
    "its iterates stay in θ0 + rowspace(J); adaptive methods with mini-batches give a "
    "batch-size dependent minimiser (Thm 5.1).",
    caption="Left: pair-averaged excess test MSE over the kernel interpolator against the init scale "
    "σ, for one (L=1) and two (L=2) hidden layers; lines: the linearised minimiser in closed "
    "form from the empirical NTK (mean over seeds, each an antisymmetric pair), points: the "
    "trained L=1 network (heavy ball to train MSE < tolerance), crosses: the closed form for the same "
    "init(s) as the trained network, dotted: slope guides 4 and 6. "
    "Right: for optimisers on the linearised model, the row-space leakage "
    "‖(I−P_J)(θ−θ0)‖/‖θ−θ0‖ and the test-output distance to the GD minimiser "
    "(log scale; annotated with the test MSE).",
    deviations="The paper's MNIST experiments are replaced by its own appendix dataset, Fashion-MNIST "
    "T-shirt vs Trouser (2×2 average-pooled, unit-norm inputs); without Fashion-MNIST the "
    "study falls back to scikit-learn digits 0 vs 1 and says so in every table and claim. "
    "The paper's n, widths, ε, learning-rate formula and figure values were stripped from "
    "the text: we use n=100, 500 test points (the paper used 100), widths 1024 (L=1) and 256 "
    "(L=2), heavy ball with lr = 1.8/λ_max(Θ/n) and momentum 0.95 (0.9 takes twice the steps), "
    "SGD+momentum (b=10) at half the SE critical learning rate (U(1)=1), "
    "and Adam's largest learning rate on a small grid whose loss decays monotonically "
    "over the first 300 epochs (per epoch for mini-batches, 0.1% slack). The first layer has no 1/√d factor because the inputs have unit "
    "norm (equivalent to the paper's 1/√d on inputs of norm √d). The closed-form minimiser "
    "uses antisymmetric pairs (a → −a) instead of the paper's 10 independent inits, which "
    "makes the σ^{2(L+1)} law exact per pair; part (B) runs the optimisers on the "
    "linearised model (the exact setting of Thms 4.1/5.1) rather than on the network, and "
    "compares against the GD minimiser instead of reporting the paper's bar charts. The "
    "trained network is compared at σ=2 and 4: at σ=1 its excess (≈0.01) is smaller than "
    "the network's own deviation from the linearisation at width 1024 (≈13% of the output), "
    "and at σ=8 the pair-averaged trained predictor is 0.22 from f_ker, past the 0.2 "
    "tolerance, so the honest tests are run where the init term dominates but width "
    "1024 is still lazy enough.",
)

DEFAULT_PARAMS = dict(
    dataset="auto",
    fashion_mnist_dir=None,
    n_train=100,
    n_test=500,
    data_seed=0,
    depths=[1, 2],
    widths=[1024, 256],
    sigmas=[0.5, 1.0, 2.0, 4.0, 8.0],
    n_seeds=6,
    trained_sigmas=[2.0, 4.0],
    trained_pairs=1,
    train_tol=1e-6,
    train_max_steps=10000,
    lr_factor=1.8,
    momentum=0.95,
    lin_width=128,
    lin_sigma=1.0,
    lin_seeds=1,
    lin_tol=1e-8,
    lin_max_epochs=20000,
    batch_size=10,
    sgd_lr_factor=0.5,
    adam_lrs=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
    adam_probe_epochs=300,
    adam_monotone_slack=1e-3,
    adam_tol=1e-6,
    adam_max_epochs=5000,
)

TINY_PARAMS = dict(
    DEFAULT_PARAMS,
    dataset="digits",
    n_train=40,
    n_test=100,
    widths=[256, 64],
    sigmas=[1.0, 2.0, 4.0],
    n_seeds=2,
    train_tol=0.0001,
    train_max_steps=1000,
    lin_width=32,
    lin_tol=1e-06,
    lin_max_epochs=2000,
    adam_lrs=[0.001, 0.01],
    adam_probe_epochs=100,
    adam_tol=0.0001,
    adam_max_epochs=1000,
)

PAPER_PARAMS = dict(
    DEFAULT_PARAMS,
    dataset="fashion_mnist",
    n_test=1000,
    widths=[4096, 1024],
    n_seeds=10,
    trained_sigmas=[2.0, 4.0, 8.0],
    trained_pairs=5,
    train_max_steps=30000,
    lin_width=256,
    lin_seeds=10,
    lin_max_epochs=50000,
    adam_max_epochs=20000,
)

#: The named parameter sets; the config picks one with `companions.which_minimizer: {preset: <name>}` and
#: may override any parameter (read without importing this module: companions.study_presets).
PRESETS = {"default": DEFAULT_PARAMS, "tiny": TINY_PARAMS, "paper": PAPER_PARAMS}


PARAMS_SCHEMA = params_schema("which_minimizer")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _unit_rows(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def pool_images(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) images -> (N, 196): 2x2 average pooling to 14x14, flattened."""
    n, h, w = images.shape
    pooled = images.astype(np.float64).reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    return pooled.reshape(n, -1)


def _binary_split(
    labels: np.ndarray,
    n_train: int,
    n_test: int,
    rng: np.random.Generator,
    test_labels: np.ndarray | None = None,
):
    """Balanced train indices among classes 0/1 and balanced test indices: from ``test_labels``
    (a separate test file) when given, else from the remaining points of ``labels``.  The test
    set has ``min(n_test, 2 * smaller class)`` points, so it stays balanced when the pool is short."""
    pool = np.flatnonzero(labels < 2)
    train = pool[balanced_subset(labels[pool], n_train, rng)]
    if test_labels is None:
        test_pool, test_labels = np.setdiff1d(pool, train), labels
    else:
        test_pool = np.flatnonzero(test_labels < 2)
    n_take = min(n_test, 2 * int(np.bincount(test_labels[test_pool], minlength=2).min()))
    test = test_pool[balanced_subset(test_labels[test_pool], n_take, rng)]
    return train, test


def _fashion_test_files(directory: Path):
    """The t10k (images, labels) IDX files in ``directory`` (gzipped or not), or None."""
    paths = []
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        hits = [directory / (stem + ext) for ext in (".gz", "") if (directory / (stem + ext)).exists()]
        if not hits:
            return None
        paths.append(hits[0])
    return tuple(paths)


def load_task(dataset: str, fashion_mnist_dir: str | None, n_train: int, n_test: int, data_seed: int) -> dict:
    """The binary regression task: unit-norm inputs, targets +1 (class 1) / -1 (class 0).

    ``dataset``: "fashion_mnist" (T-shirt 0 vs Trouser 1, 2x2-pooled to 14x14; raises
    :class:`DatasetUnavailable` when the IDX files are missing), "digits" (scikit-learn 8x8
    digits 0 vs 1) or "auto" (Fashion-MNIST when found, else digits).  ``fashion_mnist_dir``, when
    set, is the only directory searched; None means Debian's location.  Test points come from
    the t10k files when present, else they are disjoint from the training points.
    """
    rng = np.random.default_rng(data_seed)
    found = find_idx_pair(fashion_mnist_dir) if dataset in ("fashion_mnist", "auto") else None
    if dataset == "fashion_mnist" and found is None:
        raise DatasetUnavailable(FASHION_MNIST_INSTALL_HINT)
    if found is not None:
        images, labels = (read_idx(p) for p in found)
        test_files = _fashion_test_files(Path(found[0]).parent)
        if test_files is not None:
            test_images, test_labels = (read_idx(p) for p in test_files)
            train, test = _binary_split(labels, n_train, n_test, rng, test_labels)
            X_test, t_test = pool_images(test_images[test]), test_labels[test]
            source = f"Fashion-MNIST in {found[0].parent} (test: t10k)"
        else:
            train, test = _binary_split(labels, n_train, n_test, rng)
            X_test, t_test = pool_images(images[test]), labels[test]
            source = f"Fashion-MNIST in {found[0].parent} (test: disjoint training images)"
        X_train, t_train = pool_images(images[train]), labels[train]
        name = "Fashion-MNIST T-shirt vs Trouser"
    else:
        from sklearn.datasets import load_digits

        images, labels = load_digits(return_X_y=True)
        train, test = _binary_split(labels, n_train, n_test, rng)
        X_train, t_train = images[train].astype(np.float64), labels[train]
        X_test, t_test = images[test].astype(np.float64), labels[test]
        name = "digits 0 vs 1"
        source = "scikit-learn load_digits" + (" (Fashion-MNIST not found)" if dataset == "auto" else "")
    return dict(
        X_train=_unit_rows(X_train),
        y_train=np.where(t_train == 1, 1.0, -1.0),
        X_test=_unit_rows(X_test),
        y_test=np.where(t_test == 1, 1.0, -1.0),
        dataset=name,
        source=source,
    )


# --------------------------------------------------------------------------------------------
# Network, empirical and infinite-width NTK
# --------------------------------------------------------------------------------------------


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


def _jacobian_factors(params, X: torch.Tensor):
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
    fx = _jacobian_factors(params, X)
    fz = fx if Z is None else _jacobian_factors(params, Z)
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


# --------------------------------------------------------------------------------------------
# (A) init scale: closed-form linearised minimiser and the trained network
# --------------------------------------------------------------------------------------------


def linearised_minimiser(params, X: torch.Tensor, y: np.ndarray, X_test: torch.Tensor) -> dict:
    """Thm 3.1: ``f_inf = f0 + Theta(x,X) Theta^-1 (y - f0(X))`` and ``f_ker = Theta(x,X) Theta^-1 y``
    on the test points, from the empirical NTK at init (one pass over train and test inputs)."""
    n = X.shape[0]
    both = torch.cat([X, X_test])
    factors = _jacobian_factors(params, both)
    theta = sum((a[:n] @ a.T) * (b[:n] @ b.T) for a, b in factors).numpy()  # Theta(X, X u X_test)
    f0 = (factors[0][0] @ params[-1]).numpy()  # readout factor c_out h_L: f0 = c_out h_L . a
    theta_train, theta_cross = theta[:, :n], theta[:, n:].T
    return dict(
        f_inf=f0[n:] + kernel_predictor(theta_cross, theta_train, y - f0[:n]),
        f_ker=kernel_predictor(theta_cross, theta_train, y),
        f0_test=f0[n:],
        f0_train=f0[:n],
        theta=theta_train,
    )


def train_network(
    params,
    X: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    momentum: float,
    tol: float,
    max_steps: int,
    record_steps,
) -> dict:
    """Full-batch heavy ball (``torch.optim.SGD`` with momentum) on ``(1/2n) sum (f - y)^2``
    until the train MSE ``mean (f - y)^2`` is below ``tol``.  Returns the trained parameters,
    steps taken and the loss at ``record_steps`` (up to the stop)."""
    params = [p.clone().requires_grad_(True) for p in params]
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    record = set(int(s) for s in record_steps)
    curve = []
    for step in range(max_steps + 1):
        opt.zero_grad()
        residual = forward(params, X) - y
        mse = float((residual.detach() ** 2).mean())
        if step in record or mse < tol or step == max_steps or not math.isfinite(mse):
            curve.append((step, 0.5 * mse))
        if mse < tol or step == max_steps or not math.isfinite(mse):
            break
        (0.5 * (residual**2).mean()).backward()
        opt.step()
    return dict(params=[p.detach() for p in params], steps=step, train_mse=mse, curve=curve)


def _rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(v) ** 2)))


def init_scale_tables(task: dict, p: dict):
    """Per-run and per-pair tables of part (A), and the trained-network loss curves."""
    X, X_test = (torch.as_tensor(task[k], dtype=DTYPE) for k in ("X_train", "X_test"))
    y, y_test = task["y_train"], task["y_test"]
    d, n = X.shape[1], X.shape[0]
    runs, curves = [], []
    ker_inf = {}
    for depth, width in zip(p["depths"], p["widths"]):
        both = np.vstack([task["X_train"], task["X_test"]])
        theta_inf = infinite_width_ntk(both, depth)
        ker_inf[depth] = kernel_predictor(theta_inf[n:, :n], theta_inf[:n, :n], y)
        for sigma in p["sigmas"]:
            for seed in range(p["n_seeds"]):
                for sign in (1.0, -1.0):
                    params = init_params(d, width, depth, sigma, seed, sign)
                    sol = linearised_minimiser(params, X, y, X_test)
                    runs.append(
                        dict(
                            method="closed form",
                            depth=depth,
                            width=width,
                            sigma=sigma,
                            seed=seed,
                            sign=sign,
                            steps=0,
                            train_mse=0.0,
                            test_mse=float(np.mean((sol["f_inf"] - y_test) ** 2)),
                            test_mse_ker=float(np.mean((sol["f_ker"] - y_test) ** 2)),
                            f0_rms=_rms(sol["f0_test"]),
                            lambda_max=float(np.linalg.eigvalsh(sol["theta"])[-1]),
                            _f=sol["f_inf"],
                            _f_ker=sol["f_ker"],
                            _f_ker_inf=ker_inf[depth],
                        )
                    )
    # the trained L=1 network, antisymmetric pairs, full-batch heavy ball
    if 1 in p["depths"] and p["trained_pairs"] > 0:
        width = p["widths"][p["depths"].index(1)]
        y_t = torch.as_tensor(y, dtype=DTYPE)
        for sigma in p["trained_sigmas"]:
            for seed in range(p["trained_pairs"]):
                for sign in (1.0, -1.0):
                    params = init_params(d, width, 1, sigma, seed, sign)
                    sol = linearised_minimiser(params, X, y, X_test)
                    eig, coef = kernel_spectrum(sol["theta"] / n, sol["f0_train"] - y)
                    lr = p["lr_factor"] / eig[0]
                    steps = log_spaced_steps(p["train_max_steps"], 60)
                    fit = train_network(
                        params, X, y_t, lr, p["momentum"], p["train_tol"], p["train_max_steps"], steps
                    )
                    f_test = forward(fit["params"], X_test).numpy()
                    rec = np.array([s for s, _ in fit["curve"]])
                    predicted, _ = se_loss_trajectory(
                        eig, coef, lr, p["momentum"], 0.0, 0.0, rec, n_samples=n
                    )
                    curves += [
                        dict(
                            regime="trained network",
                            sigma=sigma,
                            seed=seed,
                            sign=sign,
                            step=int(s),
                            loss=float(loss),
                            loss_linearised=float(pred),
                        )
                        for (s, loss), pred in zip(fit["curve"], predicted[0])
                    ]
                    runs.append(
                        dict(
                            method="trained",
                            depth=1,
                            width=width,
                            sigma=sigma,
                            seed=seed,
                            sign=sign,
                            steps=fit["steps"],
                            train_mse=fit["train_mse"],
                            test_mse=float(np.mean((f_test - y_test) ** 2)),
                            test_mse_ker=float(np.mean((sol["f_ker"] - y_test) ** 2)),
                            f0_rms=_rms(sol["f0_test"]),
                            lambda_max=float(eig[0] * n),
                            lr=lr,
                            dist_to_closed_form=_rms(f_test - sol["f_inf"]) / _rms(sol["f_inf"]),
                            _f=f_test,
                            _f_ker=sol["f_ker"],
                            _f_ker_inf=ker_inf[1],
                        )
                    )
    pairs = []
    keys = ["method", "depth", "width", "sigma", "seed"]
    frame = pd.DataFrame(runs)
    for key, grp in frame.groupby(keys, sort=False):
        if set(grp.sign) != {1.0, -1.0}:
            continue
        f_pair = np.mean(np.stack(grp._f.values), axis=0)
        f_ker = np.mean(np.stack(grp._f_ker.values), axis=0)
        f_ker_inf = grp._f_ker_inf.iloc[0]
        mse_ker = float(grp.test_mse_ker.mean())
        pairs.append(
            dict(
                zip(keys, key),
                dataset=task["dataset"],
                pair_test_mse=float(grp.test_mse.mean()),
                test_mse_ker=mse_ker,
                pair_excess=float(grp.test_mse.mean()) - mse_ker,
                single_run_deviation=float(np.mean([_rms(f - f_pair) for f in grp._f])),
                pair_dist_to_ker=_rms(f_pair - f_ker) / _rms(f_ker),
                pair_dist_to_ker_inf=_rms(f_pair - f_ker_inf) / _rms(f_ker_inf),
                ker_dist_to_ker_inf=_rms(f_ker - f_ker_inf) / _rms(f_ker_inf),
            )
        )
    runs_table = frame.drop(columns=["_f", "_f_ker", "_f_ker_inf"])
    runs_table.insert(0, "dataset", task["dataset"])
    return runs_table, pd.DataFrame(pairs), pd.DataFrame(curves)


# --------------------------------------------------------------------------------------------
# (B) optimisers on the linearised model
# --------------------------------------------------------------------------------------------


def train_linearised(
    J: torch.Tensor,
    r0: torch.Tensor,
    optimizer,
    batch_size: int,
    tol: float,
    max_epochs: int,
    generator: torch.Generator,
    probe_epochs: int = 0,
    slack: float = 0.0,
) -> dict:
    """Train ``delta = theta - theta0`` of ``f_lin = f0 + J delta`` from 0 with a torch optimiser.

    The loss of a batch B is ``(1/2|B|) sum_{i in B} (r0_i + J_i delta)^2`` with ``r0 = f0 - y``; its
    gradient ``J_B^T r_B / |B|`` is set by hand (the model is linear).  Batches of ``batch_size``
    distinct points, reshuffled every epoch (``batch_size >= n``: full batch, one step an epoch).
    Before every epoch the full train MSE ``mean r^2`` is recorded; training stops when it is
    below ``tol``, after ``max_epochs`` epochs, or once it diverged (not finite or 1e6 times its
    start).  With ``probe_epochs > 0`` it also stops, with
    ``aborted = True``, as soon as the MSE rises by more than the relative ``slack`` within the
    first ``probe_epochs`` epochs (the learning-rate probe).  ``optimizer``: a callable
    ``[delta] -> torch optimiser``.  Returns delta, epochs, steps, the final MSE, the per-epoch
    MSE curve and ``aborted``.
    """
    n, n_params = J.shape
    delta = torch.zeros(n_params, dtype=J.dtype, requires_grad=True)
    opt = optimizer([delta])
    batch_size = min(batch_size, n)
    curve, steps, aborted = [], 0, False
    for epoch in range(max_epochs + 1):
        with torch.no_grad():
            residual = r0 + J @ delta
        mse = float((residual**2).mean())
        curve.append(mse)
        aborted = epoch <= probe_epochs and not is_monotone(curve[-2:], slack)
        diverged = not mse <= 1e6 * curve[0]
        if aborted or diverged or mse < tol or epoch == max_epochs:
            break
        if batch_size == n:
            delta.grad = J.T @ residual / n
            opt.step()
            steps += 1
            continue
        order = torch.randperm(n, generator=generator)
        J_epoch, r0_epoch = J[order], r0[order]  # contiguous rows: batches are views
        for start in range(0, n - batch_size + 1, batch_size):
            J_batch = J_epoch[start : start + batch_size]
            with torch.no_grad():
                residual = r0_epoch[start : start + batch_size] + J_batch @ delta
            delta.grad = J_batch.T @ residual / batch_size
            opt.step()
            steps += 1
    return dict(
        delta=delta.detach(), epochs=epoch, steps=steps, train_mse=mse, curve=np.array(curve), aborted=aborted
    )


def is_monotone(curve: np.ndarray, slack: float) -> bool:
    """No recorded loss exceeds its predecessor by more than the relative ``slack``."""
    curve = np.asarray(curve)
    return bool(np.all(np.isfinite(curve)) and np.all(curve[1:] <= curve[:-1] * (1 + slack)))


def row_space_leakage(delta: torch.Tensor, basis: torch.Tensor) -> float:
    """``|(I - P_J) delta| / |delta|`` with ``P_J = Q Q^T``, Q an orthonormal basis of rowspace(J)."""
    inside = basis @ (basis.T @ delta)
    return float(torch.linalg.norm(delta - inside) / torch.linalg.norm(delta))


def optimiser_tables(task: dict, p: dict):
    """Part (B): GD closed form, heavy ball, SGD+momentum, Adam (full batch and mini-batch) on
    the linearised L=1 model; Adam's learning rate is the largest monotone one on the grid."""
    X, X_test = (torch.as_tensor(task[k], dtype=DTYPE) for k in ("X_train", "X_test"))
    y = torch.as_tensor(task["y_train"], dtype=DTYPE)
    y_test = task["y_test"]
    n = X.shape[0]
    rows, grid_rows, curves = [], [], []
    for seed in range(p["lin_seeds"]):
        params = init_params(X.shape[1], p["lin_width"], 1, p["lin_sigma"], seed)
        J, J_test = jacobian(params, X), jacobian(params, X_test)
        f0, f0_test = forward(params, X), forward(params, X_test)
        r0 = f0 - y
        basis, _ = torch.linalg.qr(J.T)  # orthonormal basis of rowspace(J)
        theta = J @ J.T
        eig, coef = kernel_spectrum((theta / n).numpy(), r0.numpy())
        lr_hb = p["lr_factor"] / eig[0]
        delta_gd = J.T @ torch.as_tensor(scipy.linalg.solve(theta.numpy(), -r0.numpy(), assume_a="pos"))
        f_gd = (f0_test + J_test @ delta_gd).numpy()
        norm_gd = float(np.linalg.norm(f_gd))
        gen = torch.Generator().manual_seed(1000 + seed)

        def record(method, batch, lr, lr_rule, fit):
            f_test = (f0_test + J_test @ fit["delta"]).numpy()
            rows.append(
                dict(
                    dataset=task["dataset"],
                    seed=seed,
                    method=method,
                    batch_size=batch,
                    lr=float(lr),
                    lr_rule=lr_rule,
                    epochs=fit["epochs"],
                    steps=fit["steps"],
                    train_mse=fit["train_mse"],
                    test_mse=float(np.mean((f_test - y_test) ** 2)),
                    leakage=row_space_leakage(fit["delta"], basis),
                    dist_to_gd=float(np.linalg.norm(f_test - f_gd)) / norm_gd,
                    monotone=is_monotone(fit["curve"], p["adam_monotone_slack"]),
                    _f=f_test,
                )
            )

        record(
            "GD (closed form)",
            n,
            0.0,
            "minimum-norm solve J^T (J J^T)^-1 (y - f0)",
            dict(
                delta=delta_gd,
                epochs=0,
                steps=0,
                train_mse=float(((r0 + J @ delta_gd) ** 2).mean()),
                curve=np.zeros(1),
            ),
        )
        heavy_ball = train_linearised(
            J,
            r0,
            lambda ps: torch.optim.SGD(ps, lr=lr_hb, momentum=p["momentum"]),
            n,
            p["lin_tol"],
            p["lin_max_epochs"],
            gen,
        )
        record("heavy ball", n, lr_hb, f"{p['lr_factor']:g}/λ_max(Θ/n), β={p['momentum']:g}", heavy_ball)
        hb_steps = np.arange(len(heavy_ball["curve"]))
        predicted, _ = se_loss_trajectory(eig, coef, lr_hb, p["momentum"], 0.0, 0.0, hb_steps, n_samples=n)
        keep = log_spaced_steps(int(hb_steps[-1]), 60)
        curves += [
            dict(
                regime="linearised heavy ball",
                sigma=p["lin_sigma"],
                seed=seed,
                sign=1.0,
                step=int(s),
                loss=0.5 * float(heavy_ball["curve"][s]),
                loss_linearised=float(predicted[0, s]),
            )
            for s in keep
        ]
        # mini-batch noise lowers the stable lr: take a fraction of the SE critical lr
        # (U(1) = 1 with gamma = (n - b)/(b (n - 1)), tau = 1; theory.md §6)
        gamma = float(batch_noise_factor(n, p["batch_size"]))
        lr_sgd_critical = critical_lr(eig, p["momentum"], gamma, 1.0)
        lr_sgd = p["sgd_lr_factor"] * lr_sgd_critical
        sgd = train_linearised(
            J,
            r0,
            lambda ps: torch.optim.SGD(ps, lr=lr_sgd, momentum=p["momentum"]),
            p["batch_size"],
            p["lin_tol"],
            p["lin_max_epochs"],
            gen,
        )
        record(
            "SGD+momentum",
            p["batch_size"],
            lr_sgd,
            f"{p['sgd_lr_factor']:g}·α_c (SE critical lr {lr_sgd_critical:.4g} at b={p['batch_size']}), "
            f"β={p['momentum']:g}",
            sgd,
        )
        for method, batch in (("Adam", n), ("Adam", p["batch_size"])):
            # the largest monotone lr: try the grid from the top; the first run whose loss does
            # not rise during the probe epochs is kept and trained on to the tolerance
            for lr in sorted(p["adam_lrs"], reverse=True):
                fit = train_linearised(
                    J,
                    r0,
                    lambda ps: torch.optim.Adam(ps, lr=lr),
                    batch,
                    p["adam_tol"],
                    p["adam_max_epochs"],
                    gen,
                    p["adam_probe_epochs"],
                    p["adam_monotone_slack"],
                )
                grid_rows.append(
                    dict(
                        dataset=task["dataset"],
                        seed=seed,
                        method=method,
                        batch_size=batch,
                        lr=float(lr),
                        monotone=not fit["aborted"],
                        epochs_run=fit["epochs"],
                        chosen=not fit["aborted"],
                    )
                )
                if not fit["aborted"]:
                    break
            rule = (
                f"largest lr on the grid with monotone loss over {p['adam_probe_epochs']} epochs"
                if not fit["aborted"]
                else "no lr on the grid was monotone: the smallest, unfinished"
            )
            record(method, batch, lr, rule, fit)
    table = pd.DataFrame(rows)
    # the batch-size effect (Thm 5.1b): distance of each run to full-batch Adam, in units of |f_GD|
    for _seed, grp in table.groupby("seed"):
        adam_full = grp[(grp.method == "Adam") & (grp.batch_size == n)]._f.iloc[0]
        norm_gd = np.linalg.norm(grp[grp.method == "GD (closed form)"]._f.iloc[0])
        table.loc[grp.index, "dist_to_adam_full"] = [
            float(np.linalg.norm(f - adam_full)) / norm_gd for f in grp._f
        ]
    return table.drop(columns="_f"), pd.DataFrame(grid_rows), pd.DataFrame(curves)


# --------------------------------------------------------------------------------------------
# Study interface
# --------------------------------------------------------------------------------------------


def run_study(params: dict) -> dict[str, pd.DataFrame]:
    """Both parts.  Tables: ``init_runs`` (one row per network: closed form or trained),
    ``init_pairs`` (one row per antisymmetric pair), ``optimizers`` (one row per optimiser run on
    the linearised model), ``adam_lr_grid`` (the learning rates tried) and ``loss_curves`` (heavy
    ball: trained network and linearised model, with the spectral prediction of the linearised
    model from :func:`se_loss_trajectory`)."""
    jsonschema.validate(params, PARAMS_SCHEMA)
    if len(params["depths"]) != len(params["widths"]):
        raise ValueError("depths and widths must have the same length (one width per depth)")
    p = dict(params)
    task = load_task(p["dataset"], p["fashion_mnist_dir"], p["n_train"], p["n_test"], p["data_seed"])
    runs, pairs, curves_init = init_scale_tables(task, p)
    optimizers, grid, curves_lin = optimiser_tables(task, p)
    curves = pd.concat([curves_init, curves_lin], ignore_index=True)
    curves.insert(0, "dataset", task["dataset"])
    return dict(
        init_runs=runs, init_pairs=pairs, optimizers=optimizers, adam_lr_grid=grid, loss_curves=curves
    )


def _fmt(values, spec=".3g") -> str:
    return ", ".join(format(v, spec) for v in values)


def study_claims(tables: dict[str, pd.DataFrame], params: dict) -> list[dict]:
    """The honest tests of companions.md (Seed 004) as claim rows, from the tables alone."""
    pairs, opt = tables["init_pairs"], tables["optimizers"]
    dataset = str(pairs.dataset.iloc[0])
    rows = []

    def row(short, claim, source, prediction, measurement, tolerance, verdict, **numbers):
        rows.append(
            claim_row(
                f"004-{short}",
                claim,
                dataset,
                f"{SOURCE}, {source}",
                prediction,
                measurement,
                tolerance,
                verdict,
                section=SECTION,
                **numbers,
            )
        )

    closed = pairs[pairs.method == "closed form"]
    for depth, grp in closed.groupby("depth"):
        mean = grp.groupby("sigma")[["pair_excess", "single_run_deviation"]].mean()
        exponent = loglog_slope(mean.index, mean.pair_excess)
        per_seed = [loglog_slope(g.sigma, g.pair_excess) for _, g in grp.groupby("seed")]
        predicted = 2 * (depth + 1)
        row(
            f"excess-exponent-L{depth}",
            f"The pair-averaged excess test MSE of the linearised minimiser grows as σ^{predicted} "
            f"for L={depth}",
            "Thm 3.1, Lemma 4, Thm 3.2",
            f"slope {predicted} (f0 ∝ σ^{depth + 1}, Θ ∝ σ^{2 * depth})",
            f"log-log slope {exponent:.4f} of the seed-mean over σ ∈ {{{_fmt(mean.index)}}} "
            f"(m={int(grp.width.iloc[0])}, {grp.seed.nunique()} pairs; per pair "
            f"{min(per_seed):.4f}…{max(per_seed):.4f}); excess {_fmt(mean.pair_excess)}",
            "± 0.1",
            "holds" if abs(exponent - predicted) <= 0.1 else "fails",
            predicted_value=predicted,
            measured_value=exponent,
            tolerance_value=0.1,
        )

    # the same claim for the trained network, at two (or more) sigmas
    trained = pairs[pairs.method == "trained"]
    if trained.empty:
        row(
            "trained-ratio",
            "The trained network's pair-averaged excess scales as σ^4 (L=1)",
            "Thm 3.1 and Fig. 2",
            "—",
            "no trained network in these parameters",
            "± 30%",
            "inconclusive",
        )
    else:
        mean = trained.groupby("sigma").pair_excess.mean()
        s1, s2 = mean.index[0], mean.index[-1]
        predicted = (s2 / s1) ** 4
        ratio = mean.iloc[-1] / mean.iloc[0]
        closed_same = closed[(closed.depth == 1) & closed.seed.isin(trained.seed.unique())]
        closed_mean = closed_same.groupby("sigma").pair_excess.mean()
        closed_ratio = closed_mean.get(s2, math.nan) / closed_mean.get(s1, math.nan)
        row(
            "trained-ratio",
            "The trained L=1 network's pair-averaged excess test MSE scales as σ^4",
            "Thm 3.1 and Fig. 2",
            f"ratio (σ2/σ1)^4 = ({s2:g}/{s1:g})^4 = {predicted:.4g}",
            f"heavy ball to train MSE < {params['train_tol']:g}: excess {mean.iloc[0]:.4g} (σ={s1:g}), "
            f"{mean.iloc[-1]:.4g} (σ={s2:g}), ratio {ratio:.4g} ({100 * (ratio / predicted - 1):+.1f}%); "
            f"closed form on the same inits: ratio {closed_ratio:.4g}; "
            f"{trained.seed.nunique()} pair(s)",
            "± 30%",
            "holds" if abs(ratio / predicted - 1) <= 0.3 else "fails",
            predicted_value=predicted,
            measured_value=ratio,
            tolerance_value=0.3,
        )

    # the pair average removes the init term; one run keeps it, growing as sigma^(L+1)
    worst_closed = closed.pair_dist_to_ker.max()
    worst_trained = trained.pair_dist_to_ker.max() if not trained.empty else 0.0
    inf_dist = closed.groupby("depth").pair_dist_to_ker_inf.max()
    largest = closed[closed.sigma == closed.sigma.max()].single_run_deviation.mean()
    row(
        "pair-average",
        "The pair-averaged predictor equals the kernel interpolator f_ker = Θ(x,X)Θ⁻¹y at every σ",
        "Thm 3.1 (the init term is odd in θ0)",
        "‖f̄_pair − f_ker‖/‖f_ker‖ ≈ 0 (closed form exactly)",
        f"max over σ, L, pairs: closed form {worst_closed:.2g}, trained network "
        + (f"{worst_trained:.3f}" if not trained.empty else "—")
        + "; distance to the infinite-width kernel interpolator (finite-width Θ): "
        + ", ".join(f"L={d}: {v:.3f}" for d, v in inf_dist.items())
        + f"; single-run deviation rms(f − f̄_pair) at σ={closed.sigma.max():g}: {largest:.3g}",
        "≤ 0.2",
        "holds" if max(worst_closed, worst_trained) <= 0.2 else "fails",
        predicted_value=0.0,
        measured_value=max(worst_closed, worst_trained),
        tolerance_value=0.2,
    )
    slopes = {}
    for depth, grp in closed.groupby("depth"):
        mean = grp.groupby("sigma").single_run_deviation.mean()
        slopes[depth] = loglog_slope(mean.index, mean.values)
    row(
        "single-run-growth",
        "A single run's deviation from the pair average grows as σ^(L+1)",
        "Thm 3.1, Lemma 4",
        ", ".join(f"L={d}: slope {d + 1}" for d in slopes),
        ", ".join(f"L={d}: slope {s:.4f}" for d, s in slopes.items()),
        "± 0.1",
        "holds" if all(abs(s - (d + 1)) <= 0.1 for d, s in slopes.items()) else "fails",
    )

    # (B) optimisers on the linearised model
    non_adaptive = opt[opt.method.isin(["heavy ball", "SGD+momentum"])]
    adam = opt[opt.method == "Adam"]
    leak = non_adaptive.groupby("method").leakage.max()
    row(
        "leakage-sgd",
        "Heavy ball and SGD with momentum keep θ−θ0 in the row space of J",
        "Thm 5.1(a)",
        "‖(I−P_J)(θ−θ0)‖/‖θ−θ0‖ = 0",
        ", ".join(f"{m}: {v:.2g}" for m, v in leak.items()) + f" (batch {int(params['batch_size'])} for SGD)",
        "≤ 1e-10",
        "holds" if leak.max() <= 1e-10 else "fails",
        predicted_value=0.0,
        measured_value=leak.max(),
        tolerance_value=1e-10,
    )
    adam_leak = adam.groupby("batch_size").leakage.min()
    row(
        "leakage-adam",
        "Adam leaves the row space of J",
        "Thm 4.1, Example 1",
        "leakage > 0",
        ", ".join(f"b={b}: {v:.3f}" for b, v in adam_leak.items()),
        "≥ 1e-2",
        "holds" if adam_leak.min() >= 1e-2 else "fails",
        measured_value=adam_leak.min(),
        tolerance_value=1e-2,
    )
    tol = params["lin_tol"]
    for method, short in (("heavy ball", "hb"), ("SGD+momentum", "sgd")):
        r = opt[opt.method == method]
        converged = bool((r.train_mse < tol).all())
        dist = r.dist_to_gd.max()
        verdict = ("holds" if dist <= 1e-3 else "fails") if converged else "inconclusive"
        row(
            f"{short}-equals-gd",
            f"{method} converges to the GD minimiser",
            "Thm 3.1, Thm 5.1(a)",
            "‖f_test − f_GD,test‖/‖f_GD,test‖ → 0",
            f"{dist:.3g} after {int(r.steps.max())} steps (train MSE {r.train_mse.max():.2g}, "
            f"tolerance {tol:g}); test MSE {r.test_mse.mean():.4f} vs GD "
            f"{opt[opt.method == 'GD (closed form)'].test_mse.mean():.4f}",
            "≤ 1e-3",
            verdict,
            predicted_value=0.0,
            measured_value=dist,
            tolerance_value=1e-3,
        )
    finished = bool((adam.train_mse < params["adam_tol"]).all())
    dist = adam.groupby("batch_size").dist_to_gd.min()
    row(
        "adam-differs",
        "Adam converges to a different minimiser than GD",
        "Thm 4.1, Fig. 3",
        "‖f_Adam − f_GD‖/‖f_GD‖ > 0 on test points",
        ", ".join(f"b={b}: {v:.3f}" for b, v in dist.items())
        + f" (train MSE ≤ {adam.train_mse.max():.2g}; test MSE "
        + ", ".join(f"b={b}: {v:.4f}" for b, v in adam.groupby("batch_size").test_mse.mean().items())
        + ")",
        "≥ 0.05",
        ("holds" if dist.min() >= 0.05 else "fails") if finished else "inconclusive",
        measured_value=dist.min(),
        tolerance_value=0.05,
    )
    n_train = int(opt[opt.method == "heavy ball"].batch_size.iloc[0])
    batch = adam[adam.batch_size < n_train]
    effect = batch.dist_to_adam_full.min() if not batch.empty else math.nan
    row(
        "adam-batch-effect",
        "Adam's minimiser depends on the batch size",
        "Thm 5.1(b), Fig. 4",
        "‖f_Adam,b − f_Adam,full‖/‖f_GD‖ > 0",
        f"b={int(params['batch_size'])} vs full batch: {effect:.3f}",
        "≥ 0.02",
        ("holds" if effect >= 0.02 else "fails") if finished and not batch.empty else "inconclusive",
        measured_value=effect,
        tolerance_value=0.02,
    )

    curves = tables["loss_curves"]
    lin = curves[curves.regime == "linearised heavy ball"]
    rel = (lin.loss - lin.loss_linearised).abs() / lin.loss_linearised
    row(
        "hb-spectral-curve",
        "Heavy ball on the linearised model follows the spectral loss recursion",
        "companions.md §0 (shared spectral loss curve; the linear dynamics behind Thm 3.1)",
        "L_t = Σ_k C_k(t)/(2n) from se_loss_trajectory (γ=0) on the eigenpairs of Θ/n",
        f"max relative deviation {rel.max():.2g} over {len(lin)} recorded steps "
        f"(loss {lin.loss.max():.3g} → {lin.loss.min():.3g})",
        "≤ 1e-6",
        "holds" if rel.max() <= 1e-6 else "fails",
        predicted_value=0.0,
        measured_value=rel.max(),
        tolerance_value=1e-6,
    )
    return rows
