"""Sampled SGD with momentum: the linearised model in output space and the real network.

Both regimes of one seed draw the *same* batch sequence (:func:`batch_rng`), so the network and
its linearisation differ only by the network's non-linearity.  Each step draws a fresh batch of
``b`` distinct indices, independently across steps (theory.md §2).

A run that diverges is a result: it stops at the first step whose loss is not finite or exceeds
``DIVERGENCE_FACTOR * L_0``, records that step, and its later losses are ``inf``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from .theory import DIVERGENCE_FACTOR, unique_steps

if TYPE_CHECKING:
    import torch


def batch_rng(base_seed: int, seed: int, batch_size: int) -> np.random.Generator:
    """The batch sampler of one run, derived from (config seed, run seed, batch size) only."""
    return np.random.default_rng([int(base_seed), int(seed), int(batch_size)])


def draw_batch(rng: np.random.Generator, n_samples: int, batch_size: int) -> np.ndarray:
    """``batch_size`` distinct indices out of ``n_samples`` (uniform, without replacement)."""
    return rng.choice(n_samples, size=batch_size, replace=False)


def linearized_sgd(kernel_over_n, initial_error, lr, momentum, batch_size: int, seeds, record_steps,
                   base_seed: int = 0, progress: bool = False):
    """Output-space SGD of the linearised model: many runs as one vectorised state.

    Update (the authors' linearised regime, normalised kernel ``K_norm = N * kernel_over_n``)::

        p <- (1/b) K_norm[:, B] e_B + beta p,   e <- e - lr p

    One run per entry of ``seeds``; ``lr`` and ``momentum`` are scalars or one value per run.
    Runs with the same seed see the same batches, so a grid of settings under one seed shares
    one batch per step and the update is a single GEMM (the loss maps use this).
    Returns ``(loss, diverged_at)``: loss (runs, len(record_steps)), ``inf`` once diverged,
    and per run the divergence step or -1.
    """
    K = np.ascontiguousarray(kernel_over_n, dtype=np.float64)
    n = K.shape[0]
    seeds = np.asarray(list(seeds), dtype=np.int64)
    n_runs = len(seeds)
    # runs sorted by seed: each step gathers one seed's batch rows of K once (contiguous rows) and
    # updates all that seed's runs with one GEMM into a preallocated gradient
    order = np.argsort(seeds, kind="stable")
    seeds = seeds[order]
    lr = np.broadcast_to(np.asarray(lr, dtype=np.float64), (n_runs,))[order][:, None]
    momentum = np.broadcast_to(np.asarray(momentum, dtype=np.float64), (n_runs,))[order][:, None]
    record_steps, inverse = unique_steps(record_steps)
    distinct, counts = np.unique(seeds, return_counts=True)
    groups = [slice(a, a + c) for a, c in zip(np.cumsum(counts) - counts, counts)]
    rngs = [batch_rng(base_seed, s, batch_size) for s in distinct]
    err = np.tile(np.asarray(initial_error, dtype=np.float64), (n_runs, 1))   # (runs, N)
    buf, grad = np.zeros_like(err), np.empty_like(err)
    loss0 = np.sum(err[0] ** 2) / (2 * n)
    loss = np.full((n_runs, len(record_steps)), np.inf)
    diverged_at = np.full(n_runs, -1)
    alive = np.ones(n_runs, dtype=bool)
    scale = n / batch_size
    steps = range(int(record_steps.max()) + 1)
    if progress:
        steps = tqdm(steps, desc=f"linearised b={batch_size}", mininterval=5)
    rec = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in steps:
            cur = np.einsum("rn,rn->r", err, err) / (2 * n)
            bad = alive & ~(np.isfinite(cur) & (cur <= DIVERGENCE_FACTOR * loss0))
            if bad.any():
                diverged_at[bad] = t
                alive &= ~bad
                err[bad] = 0.0
                buf[bad] = 0.0
            if t == record_steps[rec]:
                loss[:, rec] = np.where(alive, cur, np.inf)
                rec += 1
                if rec == len(record_steps) or not alive.any():
                    break
            # grad_r = (N/b) K[:, B] e_r[B]; K is symmetric, so use the rows K[B]
            for rng, runs in zip(rngs, groups):
                batch = draw_batch(rng, n, batch_size)
                np.matmul(err[runs, batch], K[batch], out=grad[runs])
            buf *= momentum
            buf += scale * grad
            err -= lr * buf
    back = np.empty_like(order)
    back[order] = np.arange(n_runs)
    return loss[back][:, inverse], diverged_at[back]


def train_network(net: torch.nn.Module, X: np.ndarray, y: np.ndarray, lr: float, momentum: float,
                  batch_size: int, seed: int, record_steps, base_seed: int = 0,
                  progress: bool = False):
    """Train the real network with ``torch.optim.SGD(lr, momentum)`` on 1/2 MSE, mini-batches.

    ``lr`` is the torch learning rate (the caller multiplies the effective rate by the kernel's
    scale factor ``N / lambda_max(K_emp)``).  The full-train loss ``|f(X) - y|^2 / (2N)`` is
    evaluated at ``record_steps``; a cheap divergence check on the batch loss runs every step.
    Returns ``(loss, diverged_at)`` for this one seed.
    """
    import torch        # here, not at the top: the linearised runs and the theory need no torch

    dtype = next(net.parameters()).dtype
    Xt = torch.as_tensor(X, dtype=dtype)
    yt = torch.as_tensor(y, dtype=dtype)
    n = len(yt)
    rng = batch_rng(base_seed, seed, batch_size)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    record_steps, inverse = unique_steps(record_steps)
    loss = np.full(len(record_steps), np.inf)
    with torch.no_grad():
        loss0 = float(0.5 * torch.mean((net(Xt) - yt) ** 2))
    limit = DIVERGENCE_FACTOR * loss0
    diverged_at = -1
    steps = range(int(record_steps.max()) + 1)
    if progress:
        steps = tqdm(steps, desc=f"network b={batch_size} seed={seed}", mininterval=5)
    rec = 0
    for t in steps:
        if t == record_steps[rec]:
            with torch.no_grad():
                full = float(0.5 * torch.mean((net(Xt) - yt) ** 2))
            if not (np.isfinite(full) and full <= limit):
                diverged_at = t
                break
            loss[rec] = full
            rec += 1
            if rec == len(record_steps):
                break
        idx = torch.as_tensor(draw_batch(rng, n, batch_size))
        opt.zero_grad(set_to_none=True)
        batch_loss = 0.5 * torch.mean((net(Xt[idx]) - yt[idx]) ** 2)
        batch_loss.backward()
        opt.step()
        # the batch loss is an unbiased estimate of the full loss: b/N of it bounds it below
        batch_value = batch_loss.item()
        if not (np.isfinite(batch_value) and batch_value * batch_size / n <= limit):
            diverged_at = t
            break
    return loss[inverse], diverged_at

