"""Benchmark: the loss-map job (experiments.loss_map, paper Fig. 2) at the paper's size, by part,
and its exact-boundary part against the previous way of computing it, in one run.

    python benchmarks/bench_loss_map.py [--n 1000] [--steps 10000] [--seeds 8] [--threads 2]
                                        [--baseline-momenta 6]

The problem is the synthetic noise-phase kernel (nu = 1.5, kappa = 3) at N = ``--n``; the grid is
the workflow's: 100 learning rates in (0, 4] x 50 momenta in [-0.95, 0.95], b = 10.  Prints the
time of each part of one loss_map call (SE for all cells, linearized SGD for all cells x seeds,
the exact alpha_c(beta) for the 50 momenta) and the whole call.  Baseline for the boundary: one
cold solve per momentum (Lanczos from the all-ones vector, the SE start), as before 2026-12-05,
timed with the new chain on the first ``--baseline-momenta`` momenta.  The linearized part's
baseline is benchmarks/bench_linearized.py (its loss-map case).
"""

import argparse
import itertools
import time

import numba
import numpy as np
from threadpoolctl import threadpool_limits

import sgd_spectra.second_moment as sm
from sgd_spectra.datasets import synthetic_power_law
from sgd_spectra.dynamics import linearized_sgd
from sgd_spectra.experiments import exact_boundary, kernel_eigenbasis, loss_map
from sgd_spectra.theory import batch_noise_factor, se_loss_trajectory


def timed(run):
    t0 = time.perf_counter()
    out = run()
    return time.perf_counter() - t0, out


def cold_boundary(lam, U, momenta, gamma):
    """The previous exact_boundary: every momentum solved on its own, Lanczos from scratch."""
    steps, sm.WARM_POWER_STEPS = sm.WARM_POWER_STEPS, 0
    try:
        return {m: sm.exact_critical_lr(lam, U, m, gamma) for m in momenta}
    finally:
        sm.WARM_POWER_STEPS = steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline-momenta", type=int, default=6)
    a = ap.parse_args()
    threadpool_limits(a.threads)
    numba.set_num_threads(a.threads)
    K, e0 = synthetic_power_law(a.n, 1.5, 3.0, 0)
    lam, U = kernel_eigenbasis(K)
    coef = (U.T @ e0) ** 2
    lrs, momenta = np.linspace(0.04, 4.0, 100), np.round(np.linspace(-0.95, 0.95, 50), 6)
    grid = np.array(list(itertools.product(lrs, momenta)))
    gamma = float(batch_noise_factor(a.n, 10))
    linearized_sgd(K, e0, 1.0, 0.0, 10, [0], [1])  # compile (cached on disk after)
    print(f"N = {a.n}, 100 x 50 cells, b = 10, {a.steps} steps, {a.seeds} seeds, {a.threads} threads")
    few = momenta[20 : 20 + a.baseline_momenta]
    t_old, old = timed(lambda: cold_boundary(lam, U, few, gamma))
    t_new, new = timed(lambda: exact_boundary(K, few, gamma))
    diff = max(abs(new[m] / old[m] - 1) for m in few)
    print(
        f"exact boundary, {len(few)} momenta: cold {t_old:.1f} s, chained {t_new:.1f} s, "
        f"speed-up {t_old / t_new:.1f}x, max relative difference {diff:.1e}"
    )
    t_se, _ = timed(lambda: se_loss_trajectory(lam, coef, grid[:, 0], grid[:, 1], gamma, 1.0, [a.steps]))
    t_lin, (loss, _) = timed(
        lambda: linearized_sgd(
            K,
            e0,
            np.tile(grid[:, 0], a.seeds),
            np.tile(grid[:, 1], a.seeds),
            10,
            np.repeat(np.arange(a.seeds), len(grid)),
            [a.steps],
        )
    )
    t_b, _ = timed(lambda: exact_boundary(K, momenta, gamma))
    print(
        f"parts: SE {t_se:.1f} s, linearized {t_lin:.1f} s ({int(np.isfinite(loss).sum())} of {loss.size} runs "
        f"finite at the end), exact boundary (50 momenta) {t_b:.1f} s"
    )
    t_all, _ = timed(lambda: loss_map(lam, coef, K, e0, lrs, momenta, 10, a.steps, seeds=a.seeds))
    print(f"whole loss_map call: {t_all:.1f} s ({t_all / 60:.2f} min)")


if __name__ == "__main__":
    main()
