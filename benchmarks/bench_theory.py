"""Benchmark of the theory engine: the SE grid vectorised vs a per-setting loop, and the exact
N x N second-moment recursion per step.

    python benchmarks/bench_theory.py [--settings 100] [--modes 1000] [--steps 10000] [--exact-n 1000]

Prints times and ratios.  Run with one BLAS thread per process for the step loops
(OMP_NUM_THREADS=1), as the workflow's rules do; the exact recursion is timed with all threads.
"""

import argparse
import os
import time

import numpy as np

np.seterr(all="ignore")

from sgd_spectra import theory as th


def se_numpy(lam, c, lr, beta, gamma, tau, steps):
    """Reference: the SE recursion in plain NumPy (theory.md §4.1), settings as a leading axis.
    With one setting at a time this is the straightforward implementation (the authors'
    ``train_spectral_diagonal``); with all settings at once, whole-array NumPy passes."""
    lr, beta, gamma, tau = (np.atleast_1d(np.asarray(x, float))[:, None] for x in (lr, beta, gamma, tau))
    a = lr * lam
    C = np.tile(c, (lr.shape[0], 1))
    J = np.zeros_like(C)
    V = np.zeros_like(C)
    out = np.empty((lr.shape[0], steps + 1))
    for t in range(steps + 1):
        total = C.sum(axis=1, keepdims=True)
        out[:, t] = total[:, 0] / (2 * len(lam))
        common = beta**2 * V + gamma * a * a * (total - tau * C)
        C, J, V = (
            (1 - a) ** 2 * C + 2 * beta * (1 - a) * J + common,
            -a * (1 - a) * C + beta * (1 - 2 * a) * J + common,
            a * a * C - 2 * beta * a * J + common,
        )
    return out


def timed(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", type=int, default=100)
    ap.add_argument("--modes", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--exact-n", type=int, default=1000)
    ap.add_argument("--exact-steps", type=int, default=20)
    args = ap.parse_args()

    k = np.arange(1, args.modes + 1, dtype=float)
    lam, c = k**-1.5, k**-1.75
    rng = np.random.default_rng(0)
    betas = rng.uniform(-0.5, 0.8, args.settings)
    gammas = th.batch_noise_factor(args.modes, rng.choice([1, 10, 100], args.settings))
    taus = rng.choice([-1.0, 0.0, 1.0], args.settings)
    # stable settings only (20-90% of each one's critical lr): every implementation runs all steps
    lrs = rng.uniform(0.2, 0.9, args.settings) * np.array(
        [th.critical_lr(lam, b, g, t) for b, g, t in zip(betas, gammas, taus)]
    )

    th.se_loss_trajectory(lam, c, lrs[:2], betas[:2], gammas[:2], taus[:2], [1])  # compile once
    t_kernel, (fused, _) = timed(
        lambda: th.se_loss_trajectory(lam, c, lrs, betas, gammas, taus, [args.steps]), repeat=3
    )
    t_grid, grid = timed(lambda: se_numpy(lam, c, lrs, betas, gammas, taus, args.steps))
    t_loop, looped = timed(
        lambda: np.concatenate([se_numpy(lam, c, *x, args.steps) for x in zip(lrs, betas, gammas, taus)])
    )
    same = np.allclose(fused[:, 0], looped[:, -1], rtol=1e-10, equal_nan=True) and np.allclose(
        grid[:, -1], looped[:, -1], rtol=1e-12, equal_nan=True
    )

    n = args.exact_n
    K = np.diag(np.arange(1, n + 1, dtype=float) ** -1.5)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    K = Q @ K @ Q.T
    e0 = rng.standard_normal(n)
    t_exact, _ = timed(lambda: th.exact_loss_trajectory(K, e0, 0.5, 0.3, 0.1, [args.exact_steps]))
    per_step = t_exact / (args.exact_steps + 1)

    work = args.settings * args.modes * args.steps
    print(
        f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'unset')}, cores={os.cpu_count()}"
    )
    print(
        f"SE grid: {args.settings} settings x {args.modes} modes x {args.steps} steps ({work / 1e9:.1f} G mode-steps)"
    )
    print(f"  {'implementation':<48s} {'time [s]':>9s} {'M mode-steps/s':>15s} {'vs loop':>8s}")
    for name, t in (
        ("per-setting NumPy loop (straightforward)", t_loop),
        ("NumPy, all settings as one array", t_grid),
        ("sgd_spectra: fused numba kernel, all settings", t_kernel),
    ):
        print(f"  {name:<48s} {t:9.2f} {work / t / 1e6:15.1f} {t_loop / t:7.1f}x")
    print(f"  same numbers (rtol 1e-10): {same}")
    print(f"exact N x N second-moment recursion, N = {n}")
    print(f"  per step                                    : {1e3 * per_step:8.1f} ms")
    print(
        f"  ratio to one SE step of one setting (kernel): {per_step / (t_kernel / args.settings / args.steps):8.0f} x"
    )


if __name__ == "__main__":
    main()
