"""Memory and wall time each rule asks for, as a dry run plans them (the rules' own scaling in
workflow/rules/common.smk, first attempt), for any config.

    python benchmarks/job_resources.py [snakemake arguments, e.g. --config 'data={n_samples: 20000}']

Runs ``snakemake --dry-run`` with the given arguments and prints, per rule, the number of jobs and
the range of mem_mb and runtime (minutes) over its jobs.  A value that depends on input files not
yet made prints as <TBD> (Snakemake computes it when the job starts).
"""

import re
import subprocess
import sys
from collections import defaultdict


def planned_resources(args: list[str]) -> dict[str, list[dict[str, str]]]:
    """Rule name -> the resources of each of its jobs, from the dry run's job listing."""
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", *args], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(out.stdout[-2000:] + out.stderr[-4000:])
    jobs = defaultdict(list)
    for rule, resources in re.findall(
        r"^\s*(?:local)?rule (\w+):\n(?:\s+\w+: .*\n)*?\s+resources: (.*)$", out.stdout, flags=re.M
    ):
        jobs[rule].append(dict(item.split("=", 1) for item in resources.split(", ")))
    return jobs


def span(values: list[str]) -> str:
    """'a' or 'a-b' over numeric values; <TBD> when any is not yet known, - when none is set."""
    if all(v == "-" for v in values):
        return "-"
    if any(not v.isdigit() for v in values):
        return "<TBD>"
    lo, hi = min(map(int, values)), max(map(int, values))
    return f"{lo}" if lo == hi else f"{lo}-{hi}"


def main():
    jobs = planned_resources(sys.argv[1:])
    print(f"{'rule':<26} {'jobs':>4} {'mem_mb':>14} {'runtime [min]':>14}")
    for rule in sorted(jobs):
        res = jobs[rule]
        print(
            f"{rule:<26} {len(res):>4} {span([r.get('mem_mb', '-') for r in res]):>14} "
            f"{span([r.get('runtime', '-') for r in res]):>14}"
        )


if __name__ == "__main__":
    main()
