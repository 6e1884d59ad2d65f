"""Paper experiments built from the theory and dynamics modules (issue: paper-scale experiments).

* :func:`loss_map` -- final loss over a learning-rate x momentum grid for linearised SGD and
  SE(tau), with the predicted stability of every cell (paper Fig. 2).
* :func:`hyperparameter_scans` -- L(alpha) and L(beta) at a fixed horizon on power-law spectra
  (paper Fig. 6, the LossDerivative notebook's setting).
* :func:`critical_lr_vs_batch` -- alpha_c(b) by bisection on linearised SGD (paper Figs. 12-14).
* :func:`regime_comparison` -- sampled linearised SGD, the exact averaged recursion and SE(tau)
  for several tau on one setting, short horizon (paper Figs. 1 and 7); :func:`regime_distances`
  ranks the regimes by their distance to the sampled runs.
* :func:`budget_curves` -- loss against the number of samples t*b for several batch sizes, each
  at a fixed fraction of its critical learning rate (paper Fig. 5, budget independence).
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .dynamics import linearized_sgd
from .io import curves_frame
from .theory import (batch_noise_factor, bisect_first_unstable, critical_lr, exact_loss_trajectory,
                     log_spaced_steps, noiseless_lr_bound, optimal_lr, parabolic_argmin, se_loss_trajectory,
                     still_growing, u_at_one)


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


def regime_comparison(eigenvalues, coefficients, kernel_over_n, initial_error, lr: float, momentum: float,
                      batch_sizes, taus, seeds: int, steps: int, base_seed: int = 0) -> pd.DataFrame:
    """Sampled linearised SGD (``seeds`` batch sequences), the exact averaged second moments
    (regime ``exact``, the paper's "all sm") and SE(tau) for each tau, at every step up to ``steps``
    (paper Figs. 1 and 7: one setting, b in {10, 100}, 100 steps).  Tidy curves, one row per
    (regime, tau, batch, seed, step); the exact and SE rows have seed -1.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n = len(lam)
    record = np.arange(steps + 1)
    taus = np.asarray(taus, dtype=np.float64)
    frames = []
    for b in batch_sizes:
        gamma = float(batch_noise_factor(n, b))
        setting = dict(lr=lr, momentum=momentum, batch=int(b))
        loss, div = linearized_sgd(kernel_over_n, initial_error, lr, momentum, int(b), range(seeds), record,
                                   base_seed=base_seed)
        frames.append(curves_frame(loss, record, div, regime="linearized", seed=np.arange(seeds), **setting))
        exact = exact_loss_trajectory(kernel_over_n, initial_error, lr, momentum, gamma, record)
        frames.append(curves_frame(exact, record, [-1], regime="exact", **setting))
        se, div = se_loss_trajectory(lam, coefficients, lr, momentum, gamma, taus, record)
        frames.append(curves_frame(se, record, div, regime="se", tau=taus, **setting))
    return pd.concat(frames, ignore_index=True)


def log_curve_distance(loss, reference) -> float:
    """Mean over steps t >= 1 of |log L(t) - log L_ref(t)|; inf if either curve is not finite."""
    loss, reference = np.asarray(loss, dtype=np.float64)[1:], np.asarray(reference, dtype=np.float64)[1:]
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(reference))):
        return np.inf
    return float(np.mean(np.abs(np.log(loss) - np.log(reference))))


def regime_distances(table: pd.DataFrame) -> pd.DataFrame:
    """For each batch size: the distance (:func:`log_curve_distance`) of the exact averaged
    recursion and of each SE(tau) to the seed-mean of sampled linearised SGD, the rank of each SE(tau)
    (1 = closest), and how far the seed-mean is from the exact recursion in standard errors."""
    rows = []
    for b, part in table.groupby("batch"):
        lin = part[part.regime == "linearized"].pivot(index="step", columns="seed", values="loss")
        mean, sem = lin.mean(axis=1), lin.std(axis=1, ddof=1) / np.sqrt(lin.shape[1])
        exact = part[part.regime == "exact"].set_index("step").loss.reindex(mean.index)
        z = ((mean - exact).abs() / sem).iloc[1:]
        rows.append(dict(batch=int(b), regime="exact", tau=np.nan, distance=log_curve_distance(exact, mean),
                         max_z=float(z.max()), seeds=lin.shape[1]))
        for tau, curve in part[part.regime == "se"].groupby("tau"):
            rows.append(dict(batch=int(b), regime="se", tau=float(tau),
                             distance=log_curve_distance(curve.set_index("step").loss.reindex(mean.index), mean),
                             max_z=np.nan, seeds=lin.shape[1]))
    out = pd.DataFrame(rows)
    se = out.regime == "se"
    out.loc[se, "rank"] = out[se].groupby("batch").distance.rank(method="min")
    return out


def budget_curves(eigenvalues, coefficients, kernel_over_n, initial_error, batch_sizes, momentum: float,
                  lr_fraction: float, samples: int, seeds: int, record_points: int = 80,
                  base_seed: int = 0, tau: float = 1.0) -> pd.DataFrame:
    """Loss against the number of samples processed, ``t * b``, for each batch size b (paper Fig. 5).

    Each b runs at ``lr_fraction`` times its predicted critical learning rate (U(1) = 1 with
    ``tau``, capped by the noiseless bound) for ``samples // b`` steps: sampled linearised SGD
    (``seeds`` batch sequences) and the SE(tau) prediction.  With momentum close to 1 the
    critical effective rate grows linearly with b up to the noiseless limit (§6, E.5), which is
    what makes the loss a function of ``t * b`` alone for small b.  Tidy rows with ``samples``.
    """
    lam = np.asarray(eigenvalues, dtype=np.float64)
    n = len(lam)
    frames = []
    for b in batch_sizes:
        gamma = float(batch_noise_factor(n, b))
        lr_c = critical_lr(lam, momentum, gamma, tau)
        lr = lr_fraction * lr_c
        record = np.unique(log_spaced_steps(samples, record_points) // int(b))
        setting = dict(lr=lr, momentum=momentum, batch=int(b))
        loss, div = linearized_sgd(kernel_over_n, initial_error, lr, momentum, int(b), range(seeds), record,
                                   base_seed=base_seed)
        lin = curves_frame(loss, record, div, regime="linearized", seed=np.arange(seeds), **setting)
        se, div = se_loss_trajectory(lam, coefficients, lr, momentum, gamma, tau, record)
        pred = curves_frame(se, record, div, regime="se", tau=tau, **setting)
        for frame in (lin, pred):
            frame["samples"] = frame.step * int(b)
            frame["lr_critical"] = lr_c
            frame["lr_eff_critical"] = lr_c / (1 - momentum)
        frames += [lin, pred]
    return pd.concat(frames, ignore_index=True)
