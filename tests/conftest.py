import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# tests/browser.py is a helper module shared by the tests, not a test file
sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[1]
#: What a user's clone needs to run the workflow (the package is installed).
COPY = ["Snakefile", "config.yaml", "config", "workflow", "notebooks", "profiles"]


def copy_workflow(dest: Path) -> Path:
    for name in COPY:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)
    return dest


def run_tiny(workdir, *args, check=True):
    """snakemake on the tiny config with the local profile, 2 cores, in ``workdir``."""
    cmd = [sys.executable, "-m", "snakemake", "--profile", "profiles/local", "--cores", "2"]
    cmd += ["--configfile", "config/tiny.yaml", *args]
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-6000:]}")
    return out.stdout + out.stderr


def finished_outputs(log: str) -> set[str]:
    """Outputs of the jobs a Snakemake log reports as finished (a job killed while writing is
    incomplete, and Snakemake rightly redoes it)."""
    outputs = {
        m[1]: m[0]
        for m in re.findall(r"^\s+output: (.*)\n(?:\s+\w+: .*\n)*?\s+jobid: (\d+)$", log, flags=re.M)
    }
    done = re.findall(r"^Finished jobid: (\d+)", log, flags=re.M)
    return {path.strip() for job in done for path in outputs.get(job, "").split(",") if path.strip()}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole tiny run, once per session, as a user meets it: interrupted midway (Ctrl-C after
    two training jobs), then resumed to the end.  Records what finished before the interruption,
    whether the report existed then and what the resumed run recomputed.  test_workflow.py checks
    the run and its report; test_slurm.py compares the SLURM run's numbers with it."""
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow"))
    log_path = workdir / "interrupted.log"
    cmd = [sys.executable, "-m", "snakemake", "--profile", "profiles/local", "--cores", "2"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [*cmd, "--configfile", "config/tiny.yaml"],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 300
        while (
            time.time() < deadline
            and proc.poll() is None
            and len(re.findall(r"Finished jobid: \d+ \(Rule: train_", log_path.read_text())) < 2
        ):
            time.sleep(0.2)
        stopped_by_itself = proc.poll() is not None
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        proc.wait(timeout=120)
    report_after_interrupt = (workdir / "report" / "index.html").exists()
    finished = {
        workdir / p: (workdir / p).stat().st_mtime_ns
        for p in finished_outputs(log_path.read_text())
        if (workdir / p).exists()
    }
    log = run_tiny(workdir, "--rerun-incomplete")
    return {
        "workdir": workdir,
        "stopped_by_itself": stopped_by_itself,
        "report_after_interrupt": report_after_interrupt,
        "finished": finished,
        "redone": [p for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime],
        "log": log,
    }
