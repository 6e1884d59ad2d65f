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

from sgd_spectra import theory as th


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
    lam, c = k ** -1.5, k ** -1.75
    rng = np.random.default_rng(0)
    lrs = rng.uniform(0.1, 1.5, args.settings)
    betas = rng.uniform(-0.5, 0.8, args.settings)
    gammas = th.batch_noise_factor(args.modes, rng.choice([1, 10, 100], args.settings))
    taus = rng.choice([-1.0, 0.0, 1.0], args.settings)
    record = th.log_spaced_steps(args.steps, 100)

    t_vec, (vec, _) = timed(lambda: th.se_loss_trajectory(lam, c, lrs, betas, gammas, taus, record))

    def loop():
        return np.concatenate([th.se_loss_trajectory(lam, c, lr, b, g, t, record)[0]
                               for lr, b, g, t in zip(lrs, betas, gammas, taus)])
    t_loop, looped = timed(loop)
    ok = np.allclose(vec, looped, rtol=1e-12, equal_nan=True)

    n = args.exact_n
    K = np.diag(np.arange(1, n + 1, dtype=float) ** -1.5)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    K = Q @ K @ Q.T
    e0 = rng.standard_normal(n)
    t_exact, _ = timed(lambda: th.exact_loss_trajectory(K, e0, 0.5, 0.3, 0.1, [args.exact_steps]))
    per_step = t_exact / (args.exact_steps + 1)

    print(f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cores={os.cpu_count()}")
    print(f"SE grid: {args.settings} settings x {args.modes} modes x {args.steps} steps")
    print(f"  vectorised (one state, settings as an axis) : {t_vec:8.2f} s")
    print(f"  per-setting loop (straightforward)          : {t_loop:8.2f} s")
    print(f"  speed-up                                    : {t_loop / t_vec:8.1f} x   (same numbers: {ok})")
    print(f"  throughput, vectorised                      : {args.settings * args.modes * args.steps / t_vec / 1e6:8.1f} M mode-steps/s")
    print(f"exact N x N second-moment recursion, N = {n}")
    print(f"  per step                                    : {1e3 * per_step:8.1f} ms")
    print(f"  ratio to one SE step of one setting         : {per_step / (t_loop / args.settings / args.steps):8.0f} x")


if __name__ == "__main__":
    main()
