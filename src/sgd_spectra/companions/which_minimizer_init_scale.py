"""Seed 004 (:mod:`.which_minimizer`), part (A): the init scale.  The closed-form linearized minimiser
(Thm 3.1) at every sigma, depth and antisymmetric pair, and the trained L=1 network (full-batch heavy
ball) at a few sigmas; per-run and per-pair tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..spectra import kernel_spectrum
from ..theory import log_spaced_steps, se_loss_trajectory
from .which_minimizer_network import (
    DTYPE,
    forward,
    infinite_width_ntk,
    init_params,
    jacobian_factors,
    kernel_predictor,
)

#: Steps at which the trained network's loss is recorded: this many log-spaced steps.
CURVE_POINTS = 60


def linearized_minimiser(params, X: torch.Tensor, y: np.ndarray, X_test: torch.Tensor) -> dict:
    """Thm 3.1: ``f_inf = f0 + Theta(x,X) Theta^-1 (y - f0(X))`` and ``f_ker = Theta(x,X) Theta^-1 y``
    on the test points, from the empirical NTK at init (one pass over train and test inputs)."""
    n = X.shape[0]
    both = torch.cat([X, X_test])
    factors = jacobian_factors(params, both)
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


def _tensors(task: dict):
    """The train and test inputs as float64 tensors."""
    return (torch.as_tensor(task[k], dtype=DTYPE) for k in ("X_train", "X_test"))


def _kernel_interpolators(task: dict, depths) -> dict:
    """Depth -> the infinite-width kernel interpolator ``Theta^inf(x, X) Theta^inf^-1 y`` on the test points."""
    n = task["X_train"].shape[0]
    both = np.vstack([task["X_train"], task["X_test"]])
    interpolators = {}
    for depth in depths:
        theta_inf = infinite_width_ntk(both, depth)
        interpolators[depth] = kernel_predictor(theta_inf[n:, :n], theta_inf[:n, :n], task["y_train"])
    return interpolators


def _closed_form_runs(task: dict, p: dict, ker_inf: dict) -> list[dict]:
    """One row per (depth, sigma, seed, sign): the linearized minimiser in closed form."""
    X, X_test = _tensors(task)
    y, y_test = task["y_train"], task["y_test"]
    runs = []
    for depth, width in zip(p["depths"], p["widths"]):
        for sigma in p["sigmas"]:
            for seed in range(p["n_seeds"]):
                for sign in (1.0, -1.0):
                    params = init_params(X.shape[1], width, depth, sigma, seed, sign)
                    sol = linearized_minimiser(params, X, y, X_test)
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
    return runs


def _trained_run(task: dict, p: dict, width: int, sigma: float, seed: int, sign: float, f_ker_inf):
    """The L=1 network from one init trained by full-batch heavy ball: its run row and its loss curve
    (with the spectral prediction of the linearized model)."""
    X, X_test = _tensors(task)
    y, y_test = task["y_train"], task["y_test"]
    n = X.shape[0]
    params = init_params(X.shape[1], width, 1, sigma, seed, sign)
    sol = linearized_minimiser(params, X, y, X_test)
    eig, coef = kernel_spectrum(sol["theta"] / n, sol["f0_train"] - y)
    lr = p["lr_factor"] / eig[0]
    steps = log_spaced_steps(p["train_max_steps"], CURVE_POINTS)
    y_t = torch.as_tensor(y, dtype=DTYPE)
    fit = train_network(params, X, y_t, lr, p["momentum"], p["train_tol"], p["train_max_steps"], steps)
    f_test = forward(fit["params"], X_test).numpy()
    rec = np.array([s for s, _ in fit["curve"]])
    predicted, _ = se_loss_trajectory(eig, coef, lr, p["momentum"], 0.0, 0.0, rec, n_samples=n)
    curve = [
        dict(
            regime="trained network",
            sigma=sigma,
            seed=seed,
            sign=sign,
            step=int(s),
            loss=float(loss),
            loss_linearized=float(pred),
        )
        for (s, loss), pred in zip(fit["curve"], predicted[0])
    ]
    run = dict(
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
        _f_ker_inf=f_ker_inf,
    )
    return run, curve


def _trained_runs(task: dict, p: dict, ker_inf: dict) -> tuple[list[dict], list[dict]]:
    """The trained L=1 network, antisymmetric pairs, full-batch heavy ball: run rows and loss curves."""
    runs, curves = [], []
    if 1 not in p["depths"] or p["trained_pairs"] <= 0:
        return runs, curves
    width = p["widths"][p["depths"].index(1)]
    for sigma in p["trained_sigmas"]:
        for seed in range(p["trained_pairs"]):
            for sign in (1.0, -1.0):
                run, curve = _trained_run(task, p, width, sigma, seed, sign, ker_inf[1])
                curves += curve
                runs.append(run)
    return runs, curves


def _pair_table(frame: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """One row per antisymmetric pair (both signs present): the pair-averaged predictor's excess test
    MSE over the kernel interpolator and its distances to the finite- and infinite-width ones."""
    pairs = []
    keys = ["method", "depth", "width", "sigma", "seed"]
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
                dataset=dataset,
                pair_test_mse=float(grp.test_mse.mean()),
                test_mse_ker=mse_ker,
                pair_excess=float(grp.test_mse.mean()) - mse_ker,
                single_run_deviation=float(np.mean([_rms(f - f_pair) for f in grp._f])),
                pair_dist_to_ker=_rms(f_pair - f_ker) / _rms(f_ker),
                pair_dist_to_ker_inf=_rms(f_pair - f_ker_inf) / _rms(f_ker_inf),
                ker_dist_to_ker_inf=_rms(f_ker - f_ker_inf) / _rms(f_ker_inf),
            )
        )
    return pd.DataFrame(pairs)


def init_scale_tables(task: dict, p: dict):
    """Per-run and per-pair tables of part (A), and the trained-network loss curves."""
    ker_inf = _kernel_interpolators(task, p["depths"])
    closed = _closed_form_runs(task, p, ker_inf)
    trained, curves = _trained_runs(task, p, ker_inf)
    frame = pd.DataFrame(closed + trained)
    pairs = _pair_table(frame, task["dataset"])
    runs_table = frame.drop(columns=["_f", "_f_ker", "_f_ker_inf"])
    runs_table.insert(0, "dataset", task["dataset"])
    return runs_table, pairs, pd.DataFrame(curves)
