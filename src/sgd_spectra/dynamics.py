"""Sampled SGD with momentum: the linearized model in output space and the real network.

Both regimes of one seed draw the *same* batch sequence (:func:`batch_rng`), so the network and
its linearization differ only by the network's non-linearity.  Each step draws a fresh batch of
``b`` distinct indices, independently across steps (theory.md §2).

A run that diverges is a result: it stops at the first step whose loss is not finite or exceeds
``DIVERGENCE_FACTOR * L_0``, records that step, and its later losses are ``inf``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange
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


#: Runs of one seed advance together in blocks whose state (error and momentum buffer: two
#: float64 rows of N each) fits in this many bytes, half a core's L2 cache here, so each step
#: streams only the block's state and its batch's rows of K; blocks run in parallel (numba threads).
BLOCK_BYTES = 1 << 19
#: At most this many batch indices are drawn ahead (int32, 32 MB); more seeds go in chunks.
MAX_DRAWN_INDICES = 1 << 23


def linearized_sgd(
    kernel_over_n,
    initial_error,
    lr,
    momentum,
    batch_size: int,
    seeds,
    record_steps,
    base_seed: int = 0,
    progress: bool = False,
):
    """Output-space SGD of the linearized model: many runs, one compiled pass.

    Update (the authors' linearized regime, normalised kernel ``K_norm = N * kernel_over_n``)::

        p <- (1/b) K_norm[:, B] e_B + beta p,   e <- e - lr p

    One run per entry of ``seeds``; ``lr`` and ``momentum`` are scalars or one value per run.
    Runs with the same seed see the same batches (:func:`draw_batch` on :func:`batch_rng`, drawn
    ahead), so a grid of settings under one seed shares one batch per step (the loss maps use
    this).  Returns ``(loss, diverged_at)``: loss (runs, len(record_steps)), ``inf`` once
    diverged, and per run the divergence step or -1.
    """
    K = np.ascontiguousarray(kernel_over_n, dtype=np.float64)
    n = K.shape[0]
    e0 = np.ascontiguousarray(initial_error, dtype=np.float64)
    seeds = np.asarray(list(seeds), dtype=np.int64)
    n_runs = len(seeds)
    record_steps, inverse = unique_steps(record_steps)
    n_draws = int(record_steps[-1])
    order, blocks, distinct = _run_blocks(seeds, max(1, BLOCK_BYTES // (16 * n)))
    lr = np.ascontiguousarray(np.broadcast_to(np.asarray(lr, dtype=np.float64), (n_runs,))[order])
    momentum = np.ascontiguousarray(np.broadcast_to(np.asarray(momentum, dtype=np.float64), (n_runs,))[order])
    loss = np.full((n_runs, len(record_steps)), np.inf)
    diverged_at = np.full(n_runs, -1, dtype=np.int64)
    limit = DIVERGENCE_FACTOR * float(e0 @ e0) / (2 * n)
    per_chunk = max(1, MAX_DRAWN_INDICES // max(1, n_draws * batch_size))
    chunks = range(0, len(distinct), per_chunk)
    if progress:
        chunks = tqdm(chunks, desc=f"linearized b={batch_size}", unit=f"x{per_chunk} seeds", mininterval=5)
    for c in chunks:
        batches = np.empty((len(distinct[c : c + per_chunk]), n_draws, batch_size), dtype=np.int32)
        for i, s in enumerate(distinct[c : c + per_chunk]):
            rng = batch_rng(base_seed, s, batch_size)
            for t in range(n_draws):
                batches[i, t] = draw_batch(rng, n, batch_size)
        mine = blocks[(blocks[:, 2] >= c) & (blocks[:, 2] < c + per_chunk)] - [0, 0, c]
        _linearized_blocks(
            K, e0, lr, momentum, batches, mine, record_steps, n / batch_size, limit, loss, diverged_at
        )
    back = np.empty_like(order)
    back[order] = np.arange(n_runs)
    return loss[back][:, inverse], diverged_at[back]


def _run_blocks(seeds: np.ndarray, block: int):
    """Order the runs by seed and cut each seed's runs into blocks of at most ``block``.

    Returns ``(order, blocks, distinct)``: run ``order[i]`` sits at row i, block k covers rows
    ``blocks[k, 0]:blocks[k, 1]`` and uses seed ``distinct[blocks[k, 2]]``.  A seed's runs are
    dealt to its blocks in turn (run j to block j mod #blocks), so each block mixes the settings
    of a grid: neighbours in a grid diverge alike, and blocks of only diverging runs would
    finish early and leave a thread idle.
    """
    order = np.argsort(seeds, kind="stable")
    distinct, starts, counts = np.unique(seeds[order], return_index=True, return_counts=True)
    blocks = []
    for i, (s0, cnt) in enumerate(zip(starts, counts)):
        n_blocks = -(-cnt // block)
        dealt = np.concatenate([np.arange(j, cnt, n_blocks) for j in range(n_blocks)])
        order[s0 : s0 + cnt] = order[s0 : s0 + cnt][dealt]
        bounds = s0 + np.cumsum([0] + [len(range(j, cnt, n_blocks)) for j in range(n_blocks)])
        blocks += [(a, z, i) for a, z in zip(bounds[:-1], bounds[1:])]
    return order, np.array(blocks, dtype=np.int64).reshape(-1, 3), distinct


@njit(parallel=True, cache=True, fastmath={"reassoc", "contract", "nsz"})
def _linearized_blocks(
    K, e0, lr, momentum, batches, blocks, record_steps, scale, limit, loss, diverged_at
):  # pragma: no cover - compiled
    """Advance each block of runs ``(first, stop, seed index)`` through all steps; see
    :func:`linearized_sgd`.  A run is checked before each step (its loss not finite or above
    ``limit``: diverged at that step, and dropped from the block's list of live runs), and
    recorded at ``record_steps``.  Per step each live run takes one pass: gradient (from its
    batch's rows of K, which the block's runs share in cache), momentum buffer, error and next
    loss, over rows of contiguous memory that the compiler vectorises.  ``fastmath`` leaves out nnan/ninf, so the
    divergence check stays exact."""
    n = K.shape[0]
    b = batches.shape[2]
    n_rec = record_steps.shape[0]
    loss0 = 0.5 * np.dot(e0, e0) / n
    for k in prange(blocks.shape[0]):
        first, size, s = blocks[k, 0], blocks[k, 1] - blocks[k, 0], blocks[k, 2]
        err = np.empty((size, n))
        buf = np.zeros((size, n))
        for r in range(size):
            err[r] = e0
        cur = np.full(size, loss0)
        live = np.arange(size)
        coef = np.empty(b)
        grad = np.empty(n)
        n_live, rec, t = size, 0, 0
        while True:
            kept = 0
            for q in range(n_live):
                r = live[q]
                if np.isfinite(cur[r]) and cur[r] <= limit:
                    live[kept] = r
                    kept += 1
                else:
                    diverged_at[first + r] = t
            n_live = kept
            if t == record_steps[rec]:
                for q in range(n_live):
                    loss[first + live[q], rec] = cur[live[q]]
                rec += 1
                if rec == n_rec:
                    break
            if n_live == 0:
                break
            rows = batches[s, t]
            for q in range(n_live):
                r = live[q]
                cur[r] = (
                    _run_step(err[r], buf[r], K, rows, coef, grad, scale, lr[first + r], momentum[first + r])
                    / n
                )
            t += 1


@njit(inline="always", fastmath={"reassoc", "contract", "nsz"})
def _run_step(err, buf, K, rows, coef, grad, scale, lr, beta):  # pragma: no cover - compiled
    """One step of one run in place (K symmetric: ``K[:, B] e_B`` from the rows ``K[B]``); returns
    half the new squared error norm."""
    n = err.shape[0]
    for j in range(rows.shape[0]):
        coef[j] = scale * err[rows[j]]  # before the error changes
    grad[:] = 0.0
    for j in range(rows.shape[0]):
        c = coef[j]
        row = K[rows[j]]
        for i in range(n):
            grad[i] += c * row[i]
    total = 0.0
    for i in range(n):
        v = beta * buf[i] + grad[i]
        buf[i] = v
        x = err[i] - lr * v
        err[i] = x
        total += x * x
    return 0.5 * total


def train_network(
    net: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    momentum: float,
    batch_size: int,
    seed: int,
    record_steps,
    base_seed: int = 0,
    progress: bool = False,
):
    """Train the real network with ``torch.optim.SGD(lr, momentum)`` on 1/2 MSE, mini-batches.

    ``lr`` is the torch learning rate (the caller multiplies the effective rate by the kernel's
    scale factor ``N / lambda_max(K_emp)``).  The full-train loss ``|f(X) - y|^2 / (2N)`` is
    evaluated at ``record_steps``; a cheap divergence check on the batch loss runs every step.
    Returns ``(loss, diverged_at)`` for this one seed.
    """
    import torch  # here, not at the top: the linearized runs and the theory need no torch

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
