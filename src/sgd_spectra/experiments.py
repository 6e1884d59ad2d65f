"""Paper experiments built from the theory and dynamics modules (issue: paper-scale experiments).

* :func:`loss_map` -- final loss over a learning-rate x momentum grid for linearised SGD and
  SE(tau), with the predicted stability of every cell (paper Fig. 2).
* :func:`hyperparameter_scans` -- L(alpha) and L(beta) at a fixed horizon on power-law spectra
  (paper Fig. 6, the LossDerivative notebook's setting).
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .dynamics import linearized_sgd
from .theory import (batch_noise_factor, bisect_first_unstable, critical_lr, noiseless_lr_bound, optimal_lr,
                     parabolic_argmin, se_loss_trajectory, still_growing, u_at_one)


def loss_map(eigenvalues, coefficients, kernel_over_n, initial_error, lrs, momenta, batch_size: int,
             steps: int, seed: int = 0, base_seed: int = 0, tau: float = 1.0) -> pd.DataFrame:
    """One row per (lr, momentum): final losses of linearised SGD (one seed: every cell sees the
    same batches) and of SE(tau), whether each run converged, and the predicted stability."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n = len(lam)
    grid = np.array(list(itertools.product(lrs, momenta)), dtype=np.float64)
    gamma = float(batch_noise_factor(n, batch_size))
    loss0 = float(np.sum(coefficients) / (2 * n))
    se, se_div = se_loss_trajectory(lam, coefficients, grid[:, 0], grid[:, 1], gamma, tau, [steps])
    lin, lin_div = linearized_sgd(kernel_over_n, initial_error, grid[:, 0], grid[:, 1], batch_size,
                                  [seed] * len(grid), [steps], base_seed=base_seed)
    table = pd.DataFrame({"lr": grid[:, 0], "momentum": grid[:, 1], "batch": batch_size, "gamma": gamma,
                          "steps": steps, "loss0": loss0, "loss_se": se[:, 0], "loss_linearized": lin[:, 0]})
    # a run "converged" when it did not blow up and ended below its initial loss
    table["converged_se"] = (se_div < 0) & (table.loss_se < loss0)
    table["converged_linearized"] = (lin_div < 0) & (table.loss_linearized < loss0)
    lr_c = {m: critical_lr(lam, m, gamma, tau) for m in momenta}
    table["lr_critical"] = table.momentum.map(lr_c)
    table["predicted_stable"] = [bool(a < noiseless_lr_bound(m, float(lam.max()))
                                      and u_at_one(lam, a, m, gamma, tau) < 1) for a, m in grid]
    return table


def boundary_cells(table: pd.DataFrame, measured: str = "converged_linearized") -> pd.DataFrame:
    """Per momentum: the largest grid learning rate that converged (measured) and the largest one
    below alpha_c (predicted), and their distance in grid cells."""
    lrs = np.sort(table.lr.unique())
    rows = []
    for m, col in table.groupby("momentum"):
        col = col.sort_values("lr")
        ok = col[measured].to_numpy()
        first_bad = int(np.argmin(ok)) if not ok.all() else len(ok)
        measured_idx = first_bad - 1                          # last converged cell before the first failure
        predicted_idx = int(np.searchsorted(lrs, col.lr_critical.iloc[0], side="left")) - 1
        rows.append({"momentum": m, "lr_critical": col.lr_critical.iloc[0],
                     "measured_max_lr": lrs[measured_idx] if measured_idx >= 0 else np.nan,
                     "predicted_max_lr": lrs[predicted_idx] if predicted_idx >= 0 else np.nan,
                     "cells_off": measured_idx - predicted_idx})
    return pd.DataFrame(rows)


def binned_power_law(nu: float, kappa: float, n_modes: int, exact: int = 2000, bins: int = 160):
    """``lambda_k = k^-nu`` and ``c_k = k^-(kappa+1)`` for k = 1..n_modes, modes past ``exact``
    merged into geometric bins (moments summed, multiplicities kept): the SE recursion on the
    result is the full one up to the bins' eigenvalue spread (< 1% per bin)."""
    if n_modes <= exact:
        k = np.arange(1, n_modes + 1, dtype=np.float64)
        return k ** -nu, k ** -(kappa + 1), np.ones(n_modes)
    edges = np.unique(np.round(np.geomspace(exact + 1, n_modes + 1, bins)).astype(np.int64))
    ka = np.concatenate([np.arange(1, exact + 1), edges[:-1]]).astype(np.float64)
    kb = np.concatenate([np.arange(2, exact + 2), edges[1:]]).astype(np.float64)
    mult = kb - ka
    lam = np.where(mult == 1, ka, np.sqrt(ka * (kb - 1))) ** -nu
    coef = np.array([np.sum(np.arange(a, b) ** -(kappa + 1.0)) for a, b in zip(ka, kb)])
    return lam, coef, mult


def hyperparameter_scans(lr_problems, momentum_problems, n_samples: int, batch_size: int, steps: int,
                         lr_points: int, momentum_points: int, tau: float = 1.0):
    """L(alpha) at beta = 0, and L(beta) at the optimal alpha, after ``steps`` SE steps.

    Returns ``(curves, optima)``: tidy curves (problem, scan, lr, momentum, loss) and one row per
    problem with the optimal learning rate (parabolic refinement in log alpha) and, for the
    momentum scans, the optimal momentum and d log L / d beta at beta = 0.
    """
    gamma = float(batch_noise_factor(n_samples, batch_size))
    curves, optima = [], []
    problems = [(nu, kappa, "lr") for nu, kappa, *_ in lr_problems] + \
               [(nu, kappa, "momentum") for nu, kappa in momentum_problems]
    for nu, kappa, scan in problems:
        lam, coef, mult = binned_power_law(nu, kappa, n_samples)
        lr_c = critical_lr(lam, 0.0, gamma, tau)
        best = optimal_lr(lam, coef, gamma, steps, 0.0, tau, np.geomspace(lr_c * 1e-3, lr_c * 0.99, lr_points),
                          n_samples, mult)
        lrs, lr_opt = best["grid"], best["lr"]
        row = {"nu": nu, "kappa": kappa, "scan": scan, "lr_opt": lr_opt}
        if scan == "lr":
            curves.append(pd.DataFrame({"nu": nu, "kappa": kappa, "scan": scan, "lr": lrs, "momentum": 0.0,
                                        "loss": best["loss"]}))
        else:
            betas = np.linspace(-0.6, 0.6, momentum_points)
            lb, _ = se_loss_trajectory(lam, coef, lr_opt, betas, gamma, tau, [steps], n_samples, multiplicity=mult)
            d, _ = se_loss_trajectory(lam, coef, lr_opt, [-0.01, 0.01], gamma, tau, [steps], n_samples,
                                      multiplicity=mult)
            row.update(momentum_opt=parabolic_argmin(betas, lb[:, 0], log_x=False),
                       dlogL_dbeta=float((np.log(d[1, 0]) - np.log(d[0, 0])) / 0.02),
                       gain=float(np.nanmin(lb[:, 0]) / lb[np.argmin(np.abs(betas)), 0]))
            curves.append(pd.DataFrame({"nu": nu, "kappa": kappa, "scan": scan, "lr": lr_opt, "momentum": betas,
                                        "loss": lb[:, 0]}))
        optima.append(row)
    return pd.concat(curves, ignore_index=True), pd.DataFrame(optima)


def linearized_critical_lr(kernel_over_n, initial_error, momentum: float, batch_size: int, seed: int,
                           steps: int, lr_max: float, base_seed: int = 0, rounds: int = 4,
                           points: int = 12) -> float:
    """Critical learning rate of sampled linearised SGD for one batch sequence, by bisection.

    A learning rate is unstable when its run blew up or its loss still grows at the end
    (:func:`~sgd_spectra.theory.still_growing`); each bisection round runs its learning rates on the
    same batches (one GEMM per step).
    """
    def unstable(grid):
        return still_growing(*linearized_sgd(kernel_over_n, initial_error, grid, momentum, batch_size,
                                             [seed] * len(grid), [steps // 2, steps], base_seed=base_seed))
    return bisect_first_unstable(unstable, 0.0, lr_max, rounds, points)


def critical_lr_vs_batch(eigenvalues, kernel_over_n, initial_error, batch_sizes, momenta, seeds: int,
                         steps: int, base_seed: int = 0, tau: float = 1.0) -> pd.DataFrame:
    """Measured (linearised bisection, several seeds) against predicted alpha_c for each batch size
    and momentum (paper Figs. 12-14); ``lr_noiseless_bound`` is the full-batch limit 2(1+beta)."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n = len(lam)
    rows = []
    for b, m in itertools.product(batch_sizes, momenta):
        gamma = float(batch_noise_factor(n, b))
        bound = noiseless_lr_bound(m, float(lam.max()))
        for s in range(seeds):
            rows.append({"batch": int(b), "momentum": float(m), "seed": s, "gamma": gamma,
                         "lr_critical_predicted": critical_lr(lam, m, gamma, tau),
                         "lr_critical_predicted_tau_minus1": critical_lr(lam, m, gamma, -1.0),
                         "lr_noiseless_bound": bound,
                         "lr_critical_measured": linearized_critical_lr(kernel_over_n, initial_error, m, b, s, steps,
                                                                        1.25 * bound, base_seed=base_seed)})
    return pd.DataFrame(rows)
