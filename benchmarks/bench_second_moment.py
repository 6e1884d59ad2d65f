"""Benchmark of the exact second-moment engine (sgd_spectra.second_moment) on a synthetic kernel.

    python benchmarks/bench_second_moment.py [--n 1000] [--steps 5] [--batch 10] [--momentum 0.5]

Prints, in one run: the per-step time of theory.exact_loss_trajectory (data basis, five GEMMs a
step), of the eigenbasis recursion with two GEMMs a step (the previous version, rebuilt here from
the package's parts) and of second_moment.exact_loss_trajectory_eigen (a GEMM and a syrk a step),
and their ratios, the one-off eigendecomposition, and the time of one exact_critical_lr call (with its number
of radius evaluations and G(1) products).  The kernel is sgd_spectra.datasets.synthetic_power_law
(nu = 1.5, kappa = 1).  Times are wall-clock with whatever BLAS threads the environment allows.
"""

import argparse
import time

import numpy as np

from sgd_spectra import second_moment as sm
from sgd_spectra import theory as th
from sgd_spectra.datasets import synthetic_power_law


def per_step_seconds(run, steps: int) -> float:
    """Time of ``steps`` more steps than a one-step run (set-up, and any JIT compilation, are
    left out: the one-step run is made once beforehand to warm up), per step."""
    run([1])
    t0 = time.perf_counter()
    run([1])
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    run([1 + steps])
    return (time.perf_counter() - t0 - setup) / steps


def two_gemm_trajectory(lam, U, e0, lr, beta, gamma, record):
    """The eigenbasis recursion as it was before the syrk: M by a second full GEMM."""
    coef = U.T @ e0
    C, J, P = np.outer(coef, coef), np.zeros_like(U), np.zeros_like(U)
    for _ in range(record[-1]):
        M = U.T @ (sm.data_diagonal(U, C)[:, None] * U)
        sm._pair_step(C, J, P, M, lam, lr, beta, gamma)
    return np.trace(C) / (2 * len(C))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--momentum", type=float, default=0.5, help="momentum of the timed steps")
    ap.add_argument("--lr", type=float, default=1.0)
    args = ap.parse_args()

    K, e0 = synthetic_power_law(args.n, 1.5, 1.0, seed=0)
    gamma = float(th.batch_noise_factor(args.n, args.batch))
    t0 = time.perf_counter()
    lam, U = np.linalg.eigh(K)
    t_eigh = time.perf_counter() - t0
    data = per_step_seconds(
        lambda rec: th.exact_loss_trajectory(K, e0, args.lr, args.momentum, gamma, rec), args.steps
    )
    two_gemm = per_step_seconds(
        lambda rec: two_gemm_trajectory(lam, U, e0, args.lr, args.momentum, gamma, rec), args.steps
    )
    eigen = per_step_seconds(
        lambda rec: sm.exact_loss_trajectory_eigen(lam, U, e0, args.lr, args.momentum, gamma, rec), args.steps
    )
    print(f"N = {args.n}, b = {args.batch} (gamma = {gamma:.4g}), lr = {args.lr}, beta = {args.momentum}")
    print(f"exact step, data basis  (theory.exact_loss_trajectory):     {data * 1e3:8.1f} ms")
    print(f"exact step, eigenbasis, 2 GEMMs (before):                     {two_gemm * 1e3:8.1f} ms")
    print(f"exact step, eigenbasis, GEMM + syrk (second_moment):          {eigen * 1e3:8.1f} ms")
    print(f"speed-up per step: {data / eigen:.2f} x the data basis, {two_gemm / eigen:.2f} x the 2-GEMM step")
    print(f"one-off eigendecomposition (np.linalg.eigh):                 {t_eigh:8.2f} s")
    for beta in (0.0, args.momentum):
        info = {}
        t0 = time.perf_counter()
        lr_c = sm.exact_critical_lr(lam, U, beta, gamma, info=info)
        t_c = time.perf_counter() - t0
        se = th.critical_lr(lam, beta, gamma, tau=1.0)
        print(
            f"exact_critical_lr(beta={beta:g}) = {lr_c:.6f} (SE tau=+1: {se:.6f}) in {t_c:6.2f} s, "
            f"{info['evaluations']} radius evaluations, {info['matvecs']} G(1) products"
        )


if __name__ == "__main__":
    main()
