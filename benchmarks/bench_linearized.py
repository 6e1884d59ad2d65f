"""Benchmark: sampled linearised SGD (sgd_spectra.dynamics.linearized_sgd) against the previous
implementation, kept below as the baseline, in one run.

    python benchmarks/bench_linearized.py [--n 1000] [--batch 100] [--seeds 20] [--steps 1000] [--threads 1]

Cases: one setting x ``--seeds`` seeds (a training job's shape before settings were batched), and
six settings x the same seeds in one state (a batched training job).  Prints the time per step of
each implementation, their ratio, the steps per second, and checks that both give the same losses;
then the training job's view: six one-setting runs of the baseline (six jobs, as before) against
one six-setting run now.  BLAS runs on ``--threads`` threads (1: as a Snakemake job with one thread).
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from sgd_spectra.datasets import synthetic_power_law
from sgd_spectra.dynamics import batch_rng, draw_batch, linearized_sgd
from sgd_spectra.theory import DIVERGENCE_FACTOR, unique_steps


def baseline_linearized_sgd(kernel_over_n, initial_error, lr, momentum, batch_size, seeds, record_steps,
                            base_seed=0):
    """The implementation before 2026-12-02: one K-row gather per run (einsum) unless the runs
    group equally by seed."""
    K = np.asarray(kernel_over_n, dtype=np.float64)
    n = K.shape[0]
    seeds = np.asarray(list(seeds), dtype=np.int64)
    n_runs = len(seeds)
    order = np.argsort(seeds, kind="stable")
    seeds = seeds[order]
    lr = np.broadcast_to(np.asarray(lr, dtype=np.float64), (n_runs,))[order][:, None]
    momentum = np.broadcast_to(np.asarray(momentum, dtype=np.float64), (n_runs,))[order][:, None]
    record_steps, inverse = unique_steps(record_steps)
    distinct, seed_index, counts = np.unique(seeds, return_inverse=True, return_counts=True)
    grouped = len(distinct) > 1 and np.all(counts == counts[0])
    rngs = [batch_rng(base_seed, s, batch_size) for s in distinct]
    err = np.tile(np.asarray(initial_error, dtype=np.float64), (n_runs, 1))
    buf = np.zeros_like(err)
    loss0 = np.sum(err[0] ** 2) / (2 * n)
    loss = np.full((n_runs, len(record_steps)), np.inf)
    diverged_at = np.full(n_runs, -1)
    alive = np.ones(n_runs, dtype=bool)
    rows = np.arange(n_runs)[:, None]
    scale = n / batch_size
    rec = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(int(record_steps.max()) + 1):
            cur = np.sum(err ** 2, axis=1) / (2 * n)
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
            batches = np.stack([draw_batch(r, n, batch_size) for r in rngs])
            if len(distinct) == 1:
                B = batches[0]
                grad = scale * (err[:, B] @ K[B])
            elif grouped:
                per_seed = err.reshape(len(distinct), counts[0], n)
                picked = np.take_along_axis(per_seed, batches[:, None, :], axis=2)
                grad = scale * np.matmul(picked, K[batches]).reshape(n_runs, n)
            else:
                B = batches[seed_index]
                grad = scale * np.einsum("sbn,sb->sn", K[B], err[rows, B])
            buf = grad + momentum * buf
            err = err - lr * buf
    back = np.empty_like(order)
    back[order] = np.arange(n_runs)
    return loss[back][:, inverse], diverged_at[back]


def seconds_per_step(run, steps: int, repeats: int = 3) -> tuple[float, np.ndarray]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = run()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    threadpool_limits(a.threads)
    kernel, error = synthetic_power_law(a.n, 1.5, 1.0, 0)
    record = np.unique(np.geomspace(1, a.steps, 50).astype(int))
    lrs, momenta = np.array([0.5, 1.0, 2.5] * 2), np.repeat([0.0, 0.5], 3)
    cases = {"1 setting": (1.0, 0.0, np.arange(a.seeds)),
             "6 settings": (np.tile(lrs, a.seeds), np.tile(momenta, a.seeds), np.repeat(np.arange(a.seeds), 6))}
    print(f"N = {a.n}, b = {a.batch}, {a.seeds} seeds, {a.steps} steps, {a.threads} BLAS thread(s), best of 3")
    times = {}
    for name, (lr, mom, seeds) in cases.items():
        t_old, (l_old, _) = seconds_per_step(
            lambda: baseline_linearized_sgd(kernel, error, lr, mom, a.batch, seeds, record), a.steps)
        t_new, (l_new, _) = seconds_per_step(
            lambda: linearized_sgd(kernel, error, lr, mom, a.batch, seeds, record), a.steps)
        ok = np.isfinite(l_old)
        same = np.array_equal(ok, np.isfinite(l_new)) and np.allclose(l_new[ok], l_old[ok], rtol=1e-9)
        times[name] = (t_old, t_new)
        print(f"{name:>10} ({len(seeds)} runs): baseline {1e3 * t_old:.3f} ms/step ({1 / t_old:.0f} steps/s), "
              f"now {1e3 * t_new:.3f} ms/step ({1 / t_new:.0f} steps/s), speed-up {t_old / t_new:.2f}x, "
              f"same losses: {same}")
    before, now = 6 * times["1 setting"][0], times["6 settings"][1]
    print(f"training job, 6 settings x {a.seeds} seeds: before 6 jobs x {1e3 * times['1 setting'][0]:.3f} ms/step "
          f"= {1e3 * before:.3f} ms/step, now one job {1e3 * now:.3f} ms/step: {before / now:.2f}x the steps per second")


if __name__ == "__main__":
    main()
