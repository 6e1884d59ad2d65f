"""The SLURM profile against a real single-node SLURM cluster (tests/slurm/start_cluster.sh).

Jobs must really go through SLURM (sbatch job ids in the driver's log and SLURM's own job logs),
the results must equal a local run of the same config, an interrupted driver must resume without
redoing finished jobs, and a failing job must be retried per the profile and then reported with
the path of its log.  Skipped where SLURM cannot be started (not root / not Debian), except in CI.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_workflow import COPY, finished_outputs

ROOT = Path(__file__).resolve().parents[1]
SLURM_DIR = ROOT / "tests" / "slurm"
# fast polling for the test; a user's profile polls less often
FAST = ["--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "2"]


def _copy_workflow(dest: Path):
    for name in COPY + ["profiles"]:
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dest / name)


@pytest.fixture(scope="module")
def cluster():
    was_running = (
        subprocess.run(
            ["bash", "-c", "sinfo -h -N -o %T 2>/dev/null | grep -qE 'idle|mixed|alloc'"]
        ).returncode
        == 0
    )
    if not was_running and (os.geteuid() != 0 or not shutil.which("apt-get")):
        if os.environ.get("CI"):
            pytest.fail("CI must be able to start the SLURM test cluster")
        pytest.skip("starting the test cluster needs root and Debian's slurm-wlm")
    start = subprocess.run(["bash", str(SLURM_DIR / "start_cluster.sh")], capture_output=True, text=True)
    assert start.returncode == 0, start.stdout + start.stderr
    yield
    if not was_running:  # leave no daemons behind that this test started
        subprocess.run(["bash", str(SLURM_DIR / "stop_cluster.sh")], check=False)
        assert subprocess.run(["pgrep", "-x", "slurmctld"]).returncode != 0


def run_snakemake(workdir, *args, check=True, timeout=900):
    cmd = [sys.executable, "-m", "snakemake", "--configfile", "config/tiny.yaml", *args]
    out = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-6000:]}")
    return out.stdout + out.stderr


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("local")
    _copy_workflow(work)
    run_snakemake(work, "--profile", "profiles/local", "--cores", "2")
    return work


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """The tiny config through profiles/slurm, interrupted midway and resumed."""
    work = tmp_path_factory.mktemp("slurm")
    _copy_workflow(work)
    log_path = work / "driver.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--profile",
                "profiles/slurm",
                "--configfile",
                "config/tiny.yaml",
                *FAST,
            ],
            cwd=work,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.time() + 600
        while (
            time.time() < deadline
            and proc.poll() is None
            and len(re.findall(r"^Finished jobid", log_path.read_text(), flags=re.M)) < 6
        ):
            time.sleep(0.5)
        assert proc.poll() is None, (
            "the SLURM run ended before it could be interrupted:\n" + log_path.read_text()
        )
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C on the driver: it cancels its SLURM jobs
        proc.wait(timeout=180)
    first = log_path.read_text()
    finished = {
        work / p: (work / p).stat().st_mtime_ns for p in finished_outputs(first) if (work / p).exists()
    }
    run_snakemake(work, "--unlock")
    second = run_snakemake(work, "--profile", "profiles/slurm", *FAST)
    return work, first, second, finished


# rules profiles/slurm leaves on the driver (common.smk's localrules)
LOCAL_RULES = {"collect_curves", "notebook_html", "claims", "report"}


def test_jobs_went_through_slurm(slurm_run):
    work, first, second, _ = slurm_run
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", first + second)
    ids = {int(j) for j, _ in submitted}
    assert len(ids) == len(submitted), "SLURM job ids must be distinct"
    # SLURM's own per-job logs exist where the profile puts them, and squeue still knows the jobs
    logs = [Path(p) for _, p in submitted]
    assert all(p.is_relative_to(work / "logs" / "slurm") for p in logs)
    # a job cancelled by the interruption may leave no log; every job of the resumed run has one
    resumed = [Path(p) for _, p in re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", second)]
    assert resumed and all(p.exists() for p in resumed)
    known = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i"], capture_output=True, text=True).stdout
    assert ids & {int(x) for x in known.split()}, "squeue does not know the submitted job ids"
    # every job ran inside a SLURM job (its rule in a SLURM log), except the local rules, which
    # ran in the driver and nowhere else
    planned = set(re.findall(r"^\s*rule (\w+):", first + second, flags=re.M))
    in_slurm = set(
        re.findall(r"^\s*rule (\w+):", "".join(p.read_text() for p in logs if p.exists()), flags=re.M)
    )
    local = set(re.findall(r"^\s*localrule (\w+):", first + second, flags=re.M))
    assert planned - LOCAL_RULES <= in_slurm, (
        f"jobs that ran outside SLURM: {planned - LOCAL_RULES - in_slurm}"
    )
    assert local >= LOCAL_RULES and not local & in_slurm
    # grouped: a few sbatch calls for the tiny DAG's ~40 cluster jobs, even counting the resubmission
    # of the groups the interruption cancelled
    not_cluster = "|".join(LOCAL_RULES | {"all"})
    jobs = len(
        re.findall(rf"^Finished jobid: \d+ \(Rule: (?!(?:{not_cluster})\))", first + second, flags=re.M)
    )
    assert 4 <= len(submitted) <= jobs / 2, f"{len(submitted)} sbatch calls for {jobs} jobs"
    assert re.search(r"[Ee]fficiency report|job data", second), "the profile asks for the efficiency report"
    assert (work / "report" / "index.html").exists()


def test_interrupted_driver_resumes_without_redoing_jobs(slurm_run):
    _, first, second, finished = slurm_run
    assert "Finished jobid" in first and finished
    assert "report/index.html" not in finished_outputs(first), "the first run was not interrupted"
    redone = [p for p, mtime in finished.items() if p.stat().st_mtime_ns != mtime]
    assert not redone, f"the resumed run redid finished jobs: {redone}"


def test_slurm_results_equal_a_local_run(slurm_run, local_run):
    work = slurm_run[0]
    for rel in ["results/fits/digits.json", "results/fits/synthetic_signal.json"]:
        assert pd.read_json(work / rel, typ="series").equals(pd.read_json(local_run / rel, typ="series")), rel
    for rel in [
        "results/curves/digits.parquet",
        "results/curves/synthetic_signal.parquet",
        "results/theory/digits.parquet",
    ]:
        a, b = (
            pd.read_parquet(d / rel)
            .sort_values(["regime", "tau", "lr", "momentum", "batch", "seed", "step"])
            .reset_index(drop=True)
            for d in (work, local_run)
        )
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
    a = np.load(work / "results/spectra/digits.npz")
    b = np.load(local_run / "results/spectra/digits.npz")
    np.testing.assert_allclose(a["eigenvalues"], b["eigenvalues"], rtol=1e-12, atol=1e-15)


def requested(slurm_jobid: str) -> tuple[int, int]:
    """Memory (MB) and time limit (minutes) SLURM granted a job, from squeue (which keeps
    finished jobs for MinJobAge)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "all", "-j", slurm_jobid, "-o", "%m %l"], capture_output=True, text=True
    ).stdout.split()
    mem, limit = out  # e.g. 2002M, and 10:00 or 2:07:00 or 1-02:00:00
    days, _, clock = limit.rpartition("-")
    hours, minutes, _seconds = ([0] + [int(x) for x in clock.split(":")])[-3:]
    mb = int(mem[:-1]) if mem.endswith("M") else round(float(mem[:-1]) * 1024)
    return mb, (int(days or 0) * 24 + hours) * 60 + minutes


def test_failing_job_is_retried_then_reported_with_its_log(cluster, tmp_path):
    _copy_workflow(tmp_path)
    broken = tmp_path / "broken.npz"
    np.savez(broken, pixels=np.zeros((10, 4)))  # no `images`/`labels`: the data rule fails
    out = run_snakemake(
        tmp_path,
        "--profile",
        "profiles/slurm",
        *FAST,
        "--config",
        "datasets=[broken]",
        f"user_datasets={{broken: {broken}}}",
        "--until",
        "prepare_dataset",
        check=False,
    )
    # prepare_dataset is in the `dataset` group: alone here, it still goes to SLURM as a group job
    attempts = re.findall(
        r"submitted with SLURM jobid (\d+) \(log: (\S+(?:rule|group_dataset)_prepare_dataset\S+)\)", out
    )
    assert len(attempts) == 2, f"restart-times: 1 means two attempts:\n{out[-3000:]}"
    # the retry asks for twice the memory and wall time (the rules scale them with `attempt`)
    (mem1, time1), (mem2, time2) = (requested(job) for job, _ in attempts)
    assert abs(mem2 - 2 * mem1) <= 2 and time2 == 2 * time1, (
        f"{mem1} MB, {time1} min -> {mem2} MB, {time2} min"
    )
    # after the last submission: the failure, with the failed rule and the path of its SLURM log
    report = out.split(f"submitted with SLURM jobid {attempts[-1][0]}", 1)[1]
    assert "Error in rule prepare_dataset" in report and attempts[-1][1] in report
    failed_log = Path(attempts[-1][1])
    assert (
        failed_log.exists()
        and "KeyError" in failed_log.read_text() + (tmp_path / "logs/data/broken.log").read_text()
    )
