"""The Snakemake process's own CPU on a DAG where jobs wait for cores, at the default job-rate limit
and at the one profiles/default/profile.yaml sets.

Snakemake's job-rate limiter (`--max-jobs-per-timespan`, default 100/1s) re-runs the scheduler one
timespan after every scheduling round that leaves jobs waiting, and every finished job starts
another such chain of rounds: after k finished jobs, about k rounds per timespan, each scanning the
ready jobs.  In a clean clone of c17b221 running config/paper.yaml on 2 cores, the Snakemake
process used 15% of a core by minute 22 (73 jobs finished, 82 threads, most of them pending
timers).  This benchmark runs `--jobs` jobs of `sleep --seconds` on 2 cores, in a temporary
directory, so the jobs themselves cost almost no CPU, and prints the CPU of Snakemake and its
children for each limit, the wall time (the process waits for its pending timers before it exits)
and the ratio to the default.

    python benchmarks/bench_scheduler.py                    # 150 jobs of 1 s, three limits
    python benchmarks/bench_scheduler.py --jobs 60 --rates 100/1s 1000/5s
"""

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNAKEFILE = """
rule all:
    input: expand("w/{{i}}.txt", i=range({jobs}))
rule work:
    output: "w/{{i}}.txt"
    shell: "sleep {seconds}; touch {{output}}"
"""


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(rate: str, jobs: int, seconds: float) -> tuple[float, float]:
    """(wall s, CPU s of Snakemake and its children) for one run at the job-rate limit `rate`."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "Snakefile").write_text(SNAKEFILE.format(jobs=jobs, seconds=seconds))
        cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "all"]
        cmd += ["--workflow-profile", "none", "--max-jobs-per-timespan", rate]
        cpu, wall = children_cpu(), time.perf_counter()
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
        return time.perf_counter() - wall, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=1.0, help="each job's sleep")
    parser.add_argument(
        "--rates", nargs="+", default=["100/1s", "1000/5s", "1000/10s"], help="the first is the baseline"
    )
    args = parser.parse_args()
    ideal = args.jobs * args.seconds / 2
    print(f"{args.jobs} jobs of sleep {args.seconds} s on 2 cores (ideal wall {ideal:.0f} s)")
    base = None
    for rate in args.rates:
        wall, cpu = run(rate, args.jobs, args.seconds)
        base = base or cpu
        print(
            f"  --max-jobs-per-timespan {rate:>9}: wall {wall:6.1f} s, CPU {cpu:6.2f} s ({cpu / base:.2f}x the first)"
        )


if __name__ == "__main__":
    main()
