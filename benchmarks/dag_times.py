"""Where a workflow run's time went: job time per rule from Snakemake's benchmark files, their
total, and the overhead (wall time minus the summed job time divided by the cores).

    python benchmarks/dag_times.py [--results results] [--cores 2] [--wall SECONDS]

The wall time defaults to the span of the newest Snakemake log in .snakemake/log (the time in its
name to its last write), i.e. the last `snakemake` call; pass --wall for another run.  Every job
writes results/benchmarks/<rule>/...tsv (a `benchmark:` directive); rules without one (collect
and report steps) count as overhead.
"""

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd


def job_times(results: Path) -> pd.DataFrame:
    """One row per benchmarked job: its rule, the job (the benchmark file's path below the rule),
    wall seconds, CPU seconds and peak resident memory (MB) of its last attempt."""
    rows = []
    for tsv in sorted((results / "benchmarks").rglob("*.tsv")):
        bench = pd.read_csv(tsv, sep="\t").iloc[-1]
        rule, *job = tsv.relative_to(results / "benchmarks").with_suffix("").parts
        rows.append(
            {
                "rule": rule,
                "job": "/".join(job),
                "wall_s": float(bench.s),
                "cpu_s": float(bench.cpu_time),
                "max_rss_mb": float(bench.max_rss),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "job", "wall_s", "cpu_s", "max_rss_mb"])


def rule_times(jobs: pd.DataFrame) -> pd.DataFrame:
    """One row per rule of :func:`job_times`: jobs, summed wall and CPU seconds, the longest job
    and the largest peak memory, slowest rule first."""
    return (
        jobs.groupby("rule")
        .agg(
            jobs=("wall_s", "size"),
            wall_s=("wall_s", "sum"),
            cpu_s=("cpu_s", "sum"),
            longest_job_s=("wall_s", "max"),
            peak_rss_mb=("max_rss_mb", "max"),
        )
        .sort_values("wall_s", ascending=False)
    )


def last_run_seconds(workdir: Path) -> float:
    """Wall time of the newest Snakemake log: from the start time in its name to its last write."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    if not logs:
        raise SystemExit("no .snakemake/log/*.snakemake.log here: pass --wall")
    start = dt.datetime.strptime(logs[-1].name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f")
    return logs[-1].stat().st_mtime - start.timestamp()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--wall", type=float, default=None)
    a = ap.parse_args()
    table = rule_times(job_times(a.results))
    wall = a.wall if a.wall is not None else last_run_seconds(a.results.resolve().parent)
    with pd.option_context("display.width", 120, "display.float_format", "{:.1f}".format):
        print(table.to_string())
    total = table.wall_s.sum()
    print(
        f"\n{int(table.jobs.sum())} benchmarked jobs: {total:.0f} s of job time, {table.cpu_s.sum():.0f} s CPU; "
        f"on {a.cores} cores that is {total / a.cores:.0f} s"
    )
    print(f"wall time {wall:.0f} s; overhead (wall - job time / cores) {wall - total / a.cores:.0f} s")


if __name__ == "__main__":
    main()
