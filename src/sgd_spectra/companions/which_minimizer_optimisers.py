"""Seed 004 (:mod:`.which_minimizer`), part (B): optimisers on the linearized L=1 model
``f_lin(theta) = f0 + J (theta - theta0)`` (Thms 4.1, 5.1).  GD in closed form, heavy ball, SGD with
momentum and Adam (full batch and mini-batch), compared with the GD minimiser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.linalg
import torch

from ..spectra import kernel_spectrum
from ..theory import batch_noise_factor, critical_lr, log_spaced_steps, se_loss_trajectory
from .which_minimizer_init_scale import CURVE_POINTS
from .which_minimizer_network import DTYPE, forward, init_params, jacobian

#: The mini-batch shuffling generator of seed k starts from seed GENERATOR_OFFSET + k.
GENERATOR_OFFSET = 1000


def train_linearized(
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
        for start in range(0, n - batch_size + 1, batch_size):
            # one batch's rows gathered (not the whole shuffled J: J is streamed from memory, and
            # a batch of rows stays in cache for both of its products)
            rows = order[start : start + batch_size]
            J_batch = J.index_select(0, rows)
            with torch.no_grad():
                residual = r0[rows] + J_batch @ delta
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


def _linearized_model(task: dict, p: dict, seed: int) -> dict:
    """The linearized L=1 model of one init: Jacobians, initial outputs and residual, a basis of
    rowspace(J), the eigenpairs of Theta/n, heavy ball's learning rate and the GD minimiser."""
    X, X_test = (torch.as_tensor(task[k], dtype=DTYPE) for k in ("X_train", "X_test"))
    y = torch.as_tensor(task["y_train"], dtype=DTYPE)
    n = X.shape[0]
    params = init_params(X.shape[1], p["lin_width"], 1, p["lin_sigma"], seed)
    J, J_test = jacobian(params, X), jacobian(params, X_test)
    f0, f0_test = forward(params, X), forward(params, X_test)
    r0 = f0 - y
    basis, _ = torch.linalg.qr(J.T)  # orthonormal basis of rowspace(J)
    theta = J @ J.T
    eig, coef = kernel_spectrum((theta / n).numpy(), r0.numpy())
    delta_gd = J.T @ torch.as_tensor(scipy.linalg.solve(theta.numpy(), -r0.numpy(), assume_a="pos"))
    f_gd = (f0_test + J_test @ delta_gd).numpy()
    return dict(
        n=n,
        J=J,
        J_test=J_test,
        f0_test=f0_test,
        r0=r0,
        basis=basis,
        eig=eig,
        coef=coef,
        lr_hb=p["lr_factor"] / eig[0],
        delta_gd=delta_gd,
        f_gd=f_gd,
        norm_gd=float(np.linalg.norm(f_gd)),
    )


def _run_row(task: dict, p: dict, model: dict, seed: int, method, batch, lr, lr_rule, fit) -> dict:
    """The table row of one optimiser run (``_f``: its test outputs, dropped from the table)."""
    f_test = (model["f0_test"] + model["J_test"] @ fit["delta"]).numpy()
    return dict(
        dataset=task["dataset"],
        seed=seed,
        method=method,
        batch_size=batch,
        lr=float(lr),
        lr_rule=lr_rule,
        epochs=fit["epochs"],
        steps=fit["steps"],
        train_mse=fit["train_mse"],
        test_mse=float(np.mean((f_test - task["y_test"]) ** 2)),
        leakage=row_space_leakage(fit["delta"], model["basis"]),
        dist_to_gd=float(np.linalg.norm(f_test - model["f_gd"])) / model["norm_gd"],
        monotone=is_monotone(fit["curve"], p["adam_monotone_slack"]),
        _f=f_test,
    )


def _gd_closed_form_fit(model: dict) -> dict:
    """The minimum-norm GD minimiser as a "fit" (no steps)."""
    J, r0, delta_gd = model["J"], model["r0"], model["delta_gd"]
    return dict(
        delta=delta_gd,
        epochs=0,
        steps=0,
        train_mse=float(((r0 + J @ delta_gd) ** 2).mean()),
        curve=np.zeros(1),
    )


def _heavy_ball_curve(p: dict, model: dict, seed: int, heavy_ball: dict) -> list[dict]:
    """Heavy ball's loss on the linearized model with the spectral prediction (se_loss_trajectory)."""
    hb_steps = np.arange(len(heavy_ball["curve"]))
    predicted, _ = se_loss_trajectory(
        model["eig"], model["coef"], model["lr_hb"], p["momentum"], 0.0, 0.0, hb_steps, n_samples=model["n"]
    )
    keep = log_spaced_steps(int(hb_steps[-1]), CURVE_POINTS)
    return [
        dict(
            regime="linearized heavy ball",
            sigma=p["lin_sigma"],
            seed=seed,
            sign=1.0,
            step=int(s),
            loss=0.5 * float(heavy_ball["curve"][s]),
            loss_linearized=float(predicted[0, s]),
        )
        for s in keep
    ]


def _adam_fit(task: dict, p: dict, model: dict, seed: int, method: str, batch: int, gen: torch.Generator):
    """Adam at the largest monotone learning rate: the grid is tried from the top; the first run whose
    loss does not rise during the probe epochs is kept and trained on to the tolerance.  Returns the
    learning rate, its rule, the fit and the grid's rows."""
    grid_rows = []
    for lr in sorted(p["adam_lrs"], reverse=True):
        fit = train_linearized(
            model["J"],
            model["r0"],
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
    return lr, rule, fit, grid_rows


def _seed_runs(task: dict, p: dict, seed: int):
    """Every optimiser on the linearized model of one init: run rows, Adam's grid rows, heavy ball's
    loss curve."""
    model = _linearized_model(task, p, seed)
    n, J, r0, lr_hb = model["n"], model["J"], model["r0"], model["lr_hb"]
    gen = torch.Generator().manual_seed(GENERATOR_OFFSET + seed)
    rows = [
        _run_row(
            task,
            p,
            model,
            seed,
            "GD (closed form)",
            n,
            0.0,
            "minimum-norm solve J^T (J J^T)^-1 (y - f0)",
            _gd_closed_form_fit(model),
        )
    ]
    heavy_ball = train_linearized(
        J,
        r0,
        lambda ps: torch.optim.SGD(ps, lr=lr_hb, momentum=p["momentum"]),
        n,
        p["lin_tol"],
        p["lin_max_epochs"],
        gen,
    )
    hb_rule = f"{p['lr_factor']:g}/λ_max(Θ/n), β={p['momentum']:g}"
    rows.append(_run_row(task, p, model, seed, "heavy ball", n, lr_hb, hb_rule, heavy_ball))
    curves = _heavy_ball_curve(p, model, seed, heavy_ball)
    # mini-batch noise lowers the stable lr: take a fraction of the SE critical lr
    # (U(1) = 1 with gamma = (n - b)/(b (n - 1)), tau = 1; theory.md §6)
    gamma = float(batch_noise_factor(n, p["batch_size"]))
    lr_sgd_critical = critical_lr(model["eig"], p["momentum"], gamma, 1.0)
    lr_sgd = p["sgd_lr_factor"] * lr_sgd_critical
    sgd = train_linearized(
        J,
        r0,
        lambda ps: torch.optim.SGD(ps, lr=lr_sgd, momentum=p["momentum"]),
        p["batch_size"],
        p["lin_tol"],
        p["lin_max_epochs"],
        gen,
    )
    sgd_rule = (
        f"{p['sgd_lr_factor']:g}·α_c (SE critical lr {lr_sgd_critical:.4g} at b={p['batch_size']}), "
        f"β={p['momentum']:g}"
    )
    rows.append(_run_row(task, p, model, seed, "SGD+momentum", p["batch_size"], lr_sgd, sgd_rule, sgd))
    grid_rows = []
    for method, batch in (("Adam", n), ("Adam", p["batch_size"])):
        lr, rule, fit, grid = _adam_fit(task, p, model, seed, method, batch, gen)
        grid_rows += grid
        rows.append(_run_row(task, p, model, seed, method, batch, lr, rule, fit))
    return rows, grid_rows, curves


def _add_distance_to_adam_full(table: pd.DataFrame, n: int) -> None:
    """The batch-size effect (Thm 5.1b): each run's distance to full-batch Adam, in units of |f_GD|."""
    for _seed, grp in table.groupby("seed"):
        adam_full = grp[(grp.method == "Adam") & (grp.batch_size == n)]._f.iloc[0]
        norm_gd = np.linalg.norm(grp[grp.method == "GD (closed form)"]._f.iloc[0])
        table.loc[grp.index, "dist_to_adam_full"] = [
            float(np.linalg.norm(f - adam_full)) / norm_gd for f in grp._f
        ]


def optimiser_tables(task: dict, p: dict):
    """Part (B): GD closed form, heavy ball, SGD+momentum, Adam (full batch and mini-batch) on
    the linearized L=1 model; Adam's learning rate is the largest monotone one on the grid."""
    rows, grid_rows, curves = [], [], []
    for seed in range(p["lin_seeds"]):
        seed_rows, seed_grid, seed_curves = _seed_runs(task, p, seed)
        rows += seed_rows
        grid_rows += seed_grid
        curves += seed_curves
    table = pd.DataFrame(rows)
    _add_distance_to_adam_full(table, task["X_train"].shape[0])
    return table.drop(columns="_f"), pd.DataFrame(grid_rows), pd.DataFrame(curves)
