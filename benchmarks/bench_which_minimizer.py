"""The which_minimizer companion's paper preset: the old setting against the new, in one run.

    python benchmarks/bench_which_minimizer.py [--seeds 1] [--part-a]

Part (B), the optimisers on the linearized model, for ``--seeds`` inits, in fresh processes with a
Snakemake job's environment (``OMP_NUM_THREADS`` and friends set to the job's threads, MALLOC_ENV):
1. the old preset: hidden width 256 (J is 100 x 50432 float64, 40 MB) on 2 threads;
2. the new preset: width 128 (J 100 x 25216, 20 MB, inside the 32 MB L3 cache) on 2 threads;
3. width 128 on 1 thread, numba left at every core (what the job did before its script called
   ``sgd_spectra.io.use_threads``: an idle OpenMP worker of numba's pool spins on the second core);
4. width 128 on 1 thread with ``use_threads(1)`` (the job as it runs now).
Each line prints wall, user and system seconds; the last line the ratios against 1.
``--part-a`` adds part (A), the trained width-4096 networks and the closed forms (unchanged code),
on 2 threads and on 1 (about 6 minutes).
"""

from __future__ import annotations

import argparse
import os

from bench_allocator import timed  # wall, user, system seconds of a fresh process

from sgd_spectra.resources import MALLOC_ENV

PART_B = """
import torch
from sgd_spectra.companions.which_minimizer import PAPER_PARAMS
from sgd_spectra.companions.which_minimizer_data import load_task
from sgd_spectra.companions.which_minimizer_optimisers import optimiser_tables
from sgd_spectra.io import use_threads
torch.set_num_threads({threads})
{numba}
p = dict(PAPER_PARAMS, lin_width={width}, lin_seeds={seeds})
task = load_task(p["dataset"], p["fashion_mnist_dir"], p["n_train"], p["n_test"], p["data_seed"])
table = optimiser_tables(task, p)[0]
print(table.groupby("method").steps.sum().to_dict())
"""

PART_A = """
import torch
from sgd_spectra.companions.which_minimizer import PAPER_PARAMS
from sgd_spectra.companions.which_minimizer_data import load_task
from sgd_spectra.companions.which_minimizer_init_scale import init_scale_tables
from sgd_spectra.io import use_threads
torch.set_num_threads({threads})
{numba}
p = dict(PAPER_PARAMS)
task = load_task(p["dataset"], p["fashion_mnist_dir"], p["n_train"], p["n_test"], p["data_seed"])
init_scale_tables(task, p)
"""

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS")


def job_environment(threads: int) -> dict:
    """A Snakemake job's environment: the thread variables it sets for ``threads`` (not
    ``NUMBA_NUM_THREADS``) and MALLOC_ENV."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    env.update(MALLOC_ENV)
    env.update({k: str(threads) for k in THREAD_VARIABLES})
    return env


def job_code(template: str, threads: int, numba: bool, **fields) -> str:
    """``template``'s code on ``threads`` torch threads, and numba too with ``numba`` (the job's
    ``use_threads``); without it numba keeps every core."""
    numba_line = f"use_threads({threads})" if numba else ""
    return template.format(threads=threads, numba=numba_line, **fields)


def compare(title: str, runs: dict[str, tuple[str, dict]]) -> None:
    """Time each run, print it, then every run's wall and CPU time as ratios against the first."""
    results = {}
    for label, (code, env) in runs.items():
        r = results[label] = timed(code, env)
        print(f"{title}: {label:44s} wall {r['wall']:7.1f} s  user {r['user']:7.1f} s  sys {r['sys']:5.1f} s")
    base = next(iter(results.values()))
    for label, r in list(results.items())[1:]:
        cpu, base_cpu = r["user"] + r["sys"], base["user"] + base["sys"]
        print(
            f"{title}: {label:44s} wall {base['wall'] / r['wall']:.2f}x faster, "
            f"CPU {base_cpu / cpu:.2f}x less than the first"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=1, help="inits of part (B)")
    parser.add_argument("--part-a", action="store_true", help="also time part (A) on 2 and 1 threads")
    args = parser.parse_args()
    part_b = lambda width, threads, numba: (
        job_code(PART_B, threads, numba, width=width, seeds=args.seeds),
        job_environment(threads),
    )
    compare(
        f"part B, {args.seeds} seed(s)",
        {
            "width 256, 2 threads (old preset)": part_b(256, 2, False),
            "width 128, 2 threads": part_b(128, 2, True),
            "width 128, 1 thread, numba on every core": part_b(128, 1, False),
            "width 128, 1 thread, use_threads(1) (new)": part_b(128, 1, True),
        },
    )
    if args.part_a:
        compare(
            "part A",
            {
                "2 threads (old)": (job_code(PART_A, 2, False), job_environment(2)),
                "1 thread, use_threads(1) (new)": (job_code(PART_A, 1, True), job_environment(1)),
            },
        )


if __name__ == "__main__":
    main()
