"""The jobs' malloc settings (sgd_spectra.resources.MALLOC_ENV) against glibc's defaults, in one run.

    python benchmarks/bench_allocator.py [--study du_gram] [--preset paper] [--threads 2]

Runs the same work twice in fresh processes, once with the environment as it is (MALLOC_* removed)
and once with MALLOC_ENV added, and prints each one's wall, user and system time and peak memory,
then the ratios.  The work: a loop that makes and drops 72 MB temporaries (the pattern the settings
are for), and one companion study at the given preset (du_gram's paper preset takes about a minute).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from sgd_spectra.resources import MALLOC_ENV

TEMPORARIES = """
import torch
torch.set_num_threads({threads})
a = torch.randn(3000, 3000, dtype=torch.float64)
for _ in range(200):
    b = a * 2.0  # a 72 MB temporary, dropped on the next pass
    c = b + 1.0
"""

STUDY = """
import torch
from sgd_spectra.companions import study_module
torch.set_num_threads({threads})
study = study_module({study!r})
study.run_study(dict(study.PRESETS[{preset!r}]))
"""


def timed(code: str, env: dict) -> dict:
    """Wall, user and system seconds and peak resident MB of ``python -c code`` under ``env``."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"the benchmarked process failed (wait status {status})")
    return dict(
        wall=time.perf_counter() - start,
        user=usage.ru_utime,
        sys=usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--study", default="du_gram")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    default = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    tuned = {**default, **MALLOC_ENV}
    work = {
        "72 MB temporaries x 400": TEMPORARIES.format(threads=args.threads),
        f"{args.study} ({args.preset})": STUDY.format(**vars(args)),
    }
    print(f"MALLOC_ENV = {MALLOC_ENV}; {args.threads} threads")
    for name, code in work.items():
        base, new = timed(code, default), timed(code, tuned)
        for label, r in (("glibc default", base), ("MALLOC_ENV", new)):
            print(
                f"{name:28s} {label:13s} wall {r['wall']:7.1f} s  user {r['user']:7.1f} s  "
                f"sys {r['sys']:6.1f} s  peak {r['peak_mb']:6.0f} MB"
            )
        print(
            f"{name:28s} speed-up {base['wall'] / new['wall']:.2f}x, system time {base['sys']:.1f} -> "
            f"{new['sys']:.1f} s, peak memory x{new['peak_mb'] / base['peak_mb']:.2f}"
        )


if __name__ == "__main__":
    main()
