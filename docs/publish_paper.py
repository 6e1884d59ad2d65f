"""Publish a finished paper-scale run into docs/paper/ (how: CONTRIBUTING.md, "Republishing the
paper-scale results").

    python docs/publish_paper.py --run CLONE --wall SECONDS [--machine TEXT] [--note TEXT]

CLONE is a clean clone in which `snakemake --configfile config/paper.yaml --cores 2` finished.
This writes docs/paper/ in the repository holding this script:
  index.html      the run's report/index.html (links to the notebooks' own pages removed)
  claims.csv      the run's results/claims.csv
  job_times.csv   every job's wall and CPU seconds and peak memory (Snakemake's benchmark files)
  run.json        commit, command, wall time, machine, and the planned jobs per rule
  README.md       the verdict summary, the failing and inconclusive claims, the runtimes by rule
"""

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "paper"
COMMAND = "snakemake --configfile config/paper.yaml --cores 2"
MAX_HTML_BYTES = 5 * 1024**2
sys.path.insert(0, str(ROOT / "benchmarks"))
from dag_times import job_times, rule_times  # noqa: E402

from sgd_spectra.report import verdict_counts  # noqa: E402


def planned_jobs(workdir: Path) -> dict[str, int]:
    """Jobs per rule that a full run of the paper config plans (`snakemake -n --forceall`)."""
    out = subprocess.run(
        ["snakemake", "-n", "--forceall", "--quiet", "rules", "--configfile", "config/paper.yaml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    table = out[out.index("Job stats:") :].splitlines()[3:]
    counts = {}
    for line in table:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return dict(sorted(counts.items()))


def clean_commit(run: Path) -> str:
    """The commit the run was made from; refuses a clone with changes to tracked files."""
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=run, capture_output=True, text=True
    ).stdout
    if dirty.strip():
        raise SystemExit(f"{run} has changes to tracked files; publish only from a clean clone:\n{dirty}")
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=run, capture_output=True, text=True, check=True
    ).stdout.strip()


def standalone_report(html: str) -> str:
    """The report without links to the notebooks' own pages, which are not published."""
    return re.sub(r'<a href="notebooks/[^"]*"( [^>]*)?>(.*?)</a>', r"\2", html, flags=re.S)


def claims_section(claims: pd.DataFrame) -> list[str]:
    """The verdict summary, then the failing and the inconclusive paper claims with their numbers."""
    paper, checks = claims[claims.kind == "paper"], claims[claims.kind == "check"]
    counts, check_counts = verdict_counts(paper), verdict_counts(checks)
    lines = [
        "## Verdicts",
        "",
        f"**{len(paper)} paper claims: {counts['holds']} hold, {counts['fails']} fail, "
        f"{counts['inconclusive']} are inconclusive.** Implementation checks: "
        f"{check_counts['holds']} of {len(checks)} hold.",
        "",
        "By section (paper claims):",
        "",
        pd.crosstab(paper.section, paper.verdict).to_markdown(),
    ]
    for verdict in ("fails", "inconclusive"):
        rows = claims[claims.verdict == verdict]
        lines += ["", f"## Claims that {'fail' if verdict == 'fails' else 'are inconclusive'}", ""]
        if rows.empty:
            lines.append("None.")
            continue
        cols = ["claim_id", "dataset", "kind", "prediction", "measurement", "tolerance"]
        table = rows[cols].fillna("").astype(str).map(lambda s: s.replace("|", "\\|").replace("\n", " "))
        lines.append(table.to_markdown(index=False))
    return lines


def runtime_section(jobs: pd.DataFrame, wall: float, cores: int) -> list[str]:
    """Job time by rule (sum, largest job) and the run's overhead beyond the jobs."""
    by_rule = rule_times(jobs).round(1)
    return [
        "## Runtime of every job, by rule",
        "",
        f"From Snakemake's benchmark files (every job's own figures: `job_times.csv`). {len(jobs)} "
        f"benchmarked jobs took {jobs.wall_s.sum():.0f} s of wall time and {jobs.cpu_s.sum():.0f} s of "
        f"CPU; on {cores} cores that is {jobs.wall_s.sum() / cores / 60:.1f} min against "
        f"{wall / 60:.1f} min of wall time. Snakemake's own work, and any job without a benchmark "
        "file, is in the difference.",
        "",
        by_rule.to_markdown(),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="the clone in which the run finished")
    ap.add_argument("--wall", type=float, required=True, help="the run's wall time in seconds")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--machine", default="2-core x86-64 Linux machine (the CI kind), no GPU")
    ap.add_argument("--date", default=dt.date.today().isoformat())
    ap.add_argument("--note", default="", help="a sentence on the conditions of the run")
    a = ap.parse_args()
    run = a.run.resolve()
    commit = clean_commit(run)
    html = standalone_report((run / "report" / "index.html").read_text())
    if len(html.encode()) > MAX_HTML_BYTES:
        raise SystemExit(f"report/index.html is {len(html.encode()) / 1024**2:.1f} MB, over the 5 MB cap")
    claims = pd.read_csv(run / "results" / "claims.csv")
    jobs = job_times(run / "results")
    record = {
        "commit": commit,
        "command": COMMAND,
        "cores": a.cores,
        "wall_seconds": round(a.wall),
        "date": a.date,
        "machine": a.machine,
        "planned_jobs": planned_jobs(run),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "index.html").write_text(html)
    shutil.copyfile(run / "results" / "claims.csv", OUT / "claims.csv")
    jobs.round(2).to_csv(OUT / "job_times.csv", index=False)
    (OUT / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    header = [
        "# The paper-scale run",
        "",
        f"`config/paper.yaml` end to end on {a.date}: `{COMMAND}` in a clean clone of commit "
        f"`{commit}`, on a {a.machine}. **Wall time {a.wall / 60:.1f} min** for "
        f"{sum(record['planned_jobs'].values())} jobs. {a.note}".rstrip(),
        "",
        "[The report](index.html) (self-contained; open it in a browser, or through a raw-HTML viewer; "
        "the notebooks' own pages are not published) · [claims.csv](claims.csv) · "
        "[job_times.csv](job_times.csv) · [run.json](run.json). Written by "
        "`python docs/publish_paper.py`; CONTRIBUTING.md says when and how to republish.",
        "",
    ]
    body = claims_section(claims) + [""] + runtime_section(jobs, a.wall, a.cores)
    (OUT / "README.md").write_text("\n".join(header + body) + "\n")
    print(f"wrote {OUT}: {len(claims)} claims, {len(jobs)} jobs, commit {commit[:10]}")


if __name__ == "__main__":
    main()
