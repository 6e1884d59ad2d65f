"""Benchmark: sampled linearized SGD (sgd_spectra.dynamics.linearized_sgd, one compiled numba pass)
against the previous implementation (one GEMM per seed and step in NumPy, kept below as the
baseline), in one run.

    python benchmarks/bench_linearized.py [--n 1000] [--batch 100] [--seeds 20] [--steps 1000]
                                          [--map-steps 300] [--threads 2]

Cases, each timed for both implementations with the same losses checked (rtol 1e-9):
* a training job before settings were batched: one setting x ``--seeds`` seeds, b = ``--batch``;
* a training job now: six settings x ``--seeds`` seeds in one call;
* a loss map (the paper's Fig. 2 shape): 100 learning rates x 50 momenta = 5000 cells under one
  seed, b = 10, ``--map-steps`` steps (cells past alpha_c diverge and drop out on the way).
Both implementations run on ``--threads`` threads (BLAS for the baseline, numba for the new one).
"""

import argparse
import itertools
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from sgd_spectra.datasets import synthetic_power_law
from sgd_spectra.dynamics import batch_rng, draw_batch, linearized_sgd
from sgd_spectra.theory import DIVERGENCE_FACTOR, unique_steps


def baseline_linearized_sgd(
    kernel_over_n, initial_error, lr, momentum, batch_size, seeds, record_steps, base_seed=0
):
    """The implementation of 2026-12-02 to 2026-12-05: runs sorted by seed, one GEMM per seed and
    step into a preallocated gradient, in-place NumPy updates of the whole (runs, N) state."""
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
    err = np.tile(np.asarray(initial_error, dtype=np.float64), (n_runs, 1))  # (runs, N)
    buf, grad = np.zeros_like(err), np.empty_like(err)
    loss0 = np.sum(err[0] ** 2) / (2 * n)
    loss = np.full((n_runs, len(record_steps)), np.inf)
    diverged_at = np.full(n_runs, -1)
    alive = np.ones(n_runs, dtype=bool)
    scale = n / batch_size
    steps = range(int(record_steps.max()) + 1)
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


def seconds(run, repeats: int) -> tuple[float, tuple]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - t0)
    return best, out


def same_losses(a, b) -> bool:
    ok = np.isfinite(a)
    return bool(np.array_equal(ok, np.isfinite(b)) and np.allclose(a[ok], b[ok], rtol=1e-9))


def cases(a):
    lrs, momenta = np.array([0.5, 1.0, 2.5] * 2), np.repeat([0.0, 0.5], 3)
    grid = np.array(list(itertools.product(np.linspace(0.04, 4.0, 100), np.linspace(-0.95, 0.95, 50))))
    return {
        f"1 setting x {a.seeds} seeds, b={a.batch}": (1.0, 0.0, a.batch, np.arange(a.seeds), a.steps),
        f"6 settings x {a.seeds} seeds, b={a.batch}": (
            np.tile(lrs, a.seeds),
            np.tile(momenta, a.seeds),
            a.batch,
            np.repeat(np.arange(a.seeds), 6),
            a.steps,
        ),
        "loss map 100 x 50 cells, 1 seed, b=10": (
            grid[:, 0],
            grid[:, 1],
            10,
            np.zeros(len(grid), int),
            a.map_steps,
        ),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--map-steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    threadpool_limits(a.threads)
    numba.set_num_threads(a.threads)
    kernel, error = synthetic_power_law(a.n, 1.5, 3.0, 0)
    linearized_sgd(kernel, error, 1.0, 0.0, a.batch, [0], [1])  # compile (cached on disk after)
    print(f"N = {a.n}, {a.threads} thread(s); baseline best of 2, numba best of 3")
    for name, (lr, mom, batch, seeds, steps) in cases(a).items():
        record = np.unique(np.geomspace(1, steps, 50).astype(int))
        t_old, (l_old, _) = seconds(
            lambda: baseline_linearized_sgd(kernel, error, lr, mom, batch, seeds, record), 2
        )
        t_new, (l_new, _) = seconds(lambda: linearized_sgd(kernel, error, lr, mom, batch, seeds, record), 3)
        print(
            f"{name} ({len(seeds)} runs, {steps} steps): baseline {t_old:.2f} s ({1e3 * t_old / steps:.2f} ms/step), "
            f"numba {t_new:.2f} s ({1e3 * t_new / steps:.2f} ms/step), speed-up {t_old / t_new:.1f}x, "
            f"same losses: {same_losses(l_old, l_new)}, alive at the end: {int(np.isfinite(l_new[:, -1]).sum())}"
        )


if __name__ == "__main__":
    main()
